"""cluster-autoscaler: image of the cluster's minor, EKS flags, ASG discovery tags, tag-scoped IRSA policy."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from support import labenv
from support.snapshots import untouched

ROLE = [{"name": "cluster-autoscaler", "hosts": "lab", "gather_facts": False,
         "roles": [{"role": "nodeless.eks.cluster_autoscaler"}]}]
DISCOVERY = {"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/lab": "owned"}
WRITES = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}


def _asg_tags() -> dict:
    asg = labenv.boto3_client("autoscaling")
    groups = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    return {g["AutoScalingGroupName"]: {t["Key"]: t["Value"] for t in g["Tags"]} for g in groups
            if g["AutoScalingGroupName"].startswith("eks-")}


def _forget_cluster_autoscaler():
    """Remove the Kubernetes objects and the ASG discovery tags, so the check run has everything to predict."""
    from kubernetes import client

    api = labenv.k8s_client()
    for call, args in ((client.AppsV1Api(api).delete_namespaced_deployment, ("cluster-autoscaler", "kube-system")),
                       (client.RbacAuthorizationV1Api(api).delete_cluster_role, ("cluster-autoscaler",)),
                       (client.RbacAuthorizationV1Api(api).delete_cluster_role_binding, ("cluster-autoscaler",))):
        try:
            call(*args)
        except client.exceptions.ApiException as exc:
            if exc.status != 404:
                raise
    asg = labenv.boto3_client("autoscaling")
    for name, tags in _asg_tags().items():
        keys = [k for k in tags if k.startswith("k8s.io/cluster-autoscaler/")]
        if keys:
            asg.delete_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": k} for k in keys])


def _record() -> dict:
    from kubernetes import client

    config_map = client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("nodeless-eks-cluster-autoscaler", "nodeless-eks")
    return json.loads(config_map.data["record.json"])


def _gate_lines(result) -> list[str]:
    """What the role's gate said (#23): in sync, or why the full path runs."""
    return [res["msg"] for name, _host, res in result.tasks() if name.endswith("with the convergence record") and "in_sync" in res]


@pytest.fixture(scope="module")
def converged(lab):
    """Check mode, the converge, then drift (#23): the Deployment's flags edited out of band with the kubernetes
    client, and one run, whose gate must fall through and whose role must take the flags back."""
    from kubernetes import client

    from support import playbook as runner

    _forget_cluster_autoscaler()
    with untouched():
        check = runner.run(ROLE, check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    run = runner.run(ROLE)
    assert run.rc == 0, run.failure_text()
    apps = client.AppsV1Api(labenv.k8s_client())
    before = {"record": _record(), "command": apps.read_namespaced_deployment("cluster-autoscaler", "kube-system").spec.template.spec.containers[0].command}
    edited = [f.replace("--expander=least-waste", "--expander=random") for f in before["command"]]
    apps.patch_namespaced_deployment("cluster-autoscaler", "kube-system", {"spec": {"template": {"spec": {"containers": [
        {"name": "cluster-autoscaler", "command": edited}]}}}})
    drift = runner.run(ROLE)
    after = {"record": _record(), "command": apps.read_namespaced_deployment("cluster-autoscaler", "kube-system").spec.template.spec.containers[0].command}
    return check, run, {"before": before, "drift": drift, "after": after}


@pytest.mark.lab
def test_check_mode_predicted_the_run(converged):
    check, run, _drift = converged
    predicted, done = " | ".join(check.changed()), " | ".join(run.changed())
    for task in ("Tag the node group ASGs so cluster-autoscaler discovers them", "Apply the cluster-autoscaler RBAC and Deployment"):
        assert task in predicted and task in done, (predicted, done)


@pytest.mark.lab
def test_deployment_available_with_image_and_flags(converged):
    from kubernetes import client

    deployment = client.AppsV1Api(labenv.k8s_client()).read_namespaced_deployment("cluster-autoscaler", "kube-system")
    assert deployment.status.available_replicas == 1
    template = deployment.spec.template
    container = template.spec.containers[0]
    assert container.image == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.1"  # the lab runs Kubernetes 1.35
    for flag in ("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/lab",
                 "--expander=least-waste", "--balance-similar-node-groups", "--skip-nodes-with-system-pods=false",
                 "--skip-nodes-with-local-storage=false", "--cloud-provider=aws"):
        assert flag in container.command
    assert template.spec.priority_class_name == "system-cluster-critical"
    assert template.metadata.annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert template.spec.security_context.run_as_non_root is True
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.allow_privilege_escalation is False


@pytest.mark.lab
def test_service_account_role_policy_is_scoped_to_the_tag_on_the_asgs(converged):
    from kubernetes import client

    sa = client.CoreV1Api(labenv.k8s_client()).read_namespaced_service_account("cluster-autoscaler", "kube-system")
    role_arn = sa.metadata.annotations["eks.amazonaws.com/role-arn"]
    assert role_arn == "arn:aws:iam::123456789012:role/lab-kube-system-cluster-autoscaler"  # IRSA's <cluster>-<namespace>-<sa>
    iam = labenv.boto3_client("iam")
    role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    assert role["Arn"] == role_arn
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str) else trust
    (statement,) = trust["Statement"]
    condition = statement["Condition"]["StringEquals"]
    assert statement["Principal"]["Federated"].startswith("arn:aws:iam::123456789012:oidc-provider/")
    assert sorted(v for k, v in condition.items()) == ["sts.amazonaws.com", "system:serviceaccount:kube-system:cluster-autoscaler"]

    statements = []
    for attached in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        doc = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
        doc = json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc
        statements += doc["Statement"]
    writes = [s for s in statements if WRITES & set([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert writes, "no statement grants the ASG writes"
    for s in writes:
        tags = {k.removeprefix("aws:ResourceTag/"): v for k, v in s["Condition"]["StringEquals"].items()}
        assert tags == {"k8s.io/cluster-autoscaler/lab": "owned"}
    for name, asg_tags in _asg_tags().items():
        assert all(asg_tags.get(k) == v for k, v in DISCOVERY.items()), f"{name} lacks the discovery tags: {asg_tags}"
        assert asg_tags["k8s.io/cluster-autoscaler/lab"] == "owned"


@pytest.mark.lab
def test_discovery_tags_are_on_exactly_the_node_groups_asgs(converged):
    eks = labenv.boto3_client("eks")
    node_group_asgs = sorted(g["name"] for ng in eks.list_nodegroups(clusterName="lab")["nodegroups"]
                             for g in eks.describe_nodegroup(clusterName="lab", nodegroupName=ng)["nodegroup"]["resources"]["autoScalingGroups"])
    tagged = []
    for page in labenv.boto3_client("autoscaling").get_paginator("describe_auto_scaling_groups").paginate():
        for group in page["AutoScalingGroups"]:
            tags = {t["Key"]: t["Value"] for t in group["Tags"]}
            if all(tags.get(k) == v for k, v in DISCOVERY.items()):
                tagged.append(group["AutoScalingGroupName"])
    assert node_group_asgs and sorted(tagged) == node_group_asgs


@pytest.mark.lab
@pytest.mark.parametrize("resource,verb,allowed", [
    ("nodes", "update", True), ("nodes", "delete", False), ("pods/eviction", "create", True), ("pods", "create", False),
    ("secrets", "get", False),
])
def test_rbac_allows_and_denies_these_verbs(converged, resource, verb, allowed):
    from kubernetes import client

    group, _unused, sub = resource.partition("/")
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user="system:serviceaccount:kube-system:cluster-autoscaler",
        groups=["system:serviceaccounts", "system:serviceaccounts:kube-system"],
        resource_attributes=client.V1ResourceAttributes(resource=group, subresource=sub or None, verb=verb, namespace="default")))
    result = client.AuthorizationV1Api(labenv.k8s_client()).create_subject_access_review(review)
    assert result.status.allowed is allowed


@pytest.mark.lab
def test_edited_flags_are_found_by_the_gate_and_taken_back(converged):
    """#23 drift: the record of the converge no longer holds after an out-of-band edit of the Deployment's flags."""
    _check, run, drift = converged
    assert _gate_lines(run)[0].startswith("cluster_autoscaler: not in sync, full path ("), _gate_lines(run)
    result = drift["drift"]
    assert result.rc == 0, result.failure_text()
    assert _gate_lines(result) == ["cluster_autoscaler: not in sync, full path (Deployment kube-system/cluster-autoscaler: generation changed)"]
    assert "Apply the cluster-autoscaler RBAC and Deployment" in " | ".join(result.changed()), result.changed()
    assert drift["after"]["command"] == drift["before"]["command"] and "--expander=least-waste" in drift["after"]["command"]
    deployment = [(e["kind"], e["generation"]) for e in drift["after"]["record"]["kubernetes"] if e["kind"] == "Deployment"]
    recorded = [(e["kind"], e["generation"]) for e in drift["before"]["record"]["kubernetes"] if e["kind"] == "Deployment"]
    assert deployment == [("Deployment", recorded[0][1] + 2)], (recorded, deployment)  # the edit, then the role's repair


@pytest.mark.lab
def test_record_covers_the_asgs_rbac_service_account_and_deployment(converged):
    record = converged[2]["after"]["record"]
    assert (record["schema"], record["capability"]) == (1, "cluster_autoscaler") and record["inputs"].startswith("sha256:")
    assert sorted((e["kind"], e.get("namespace"), e["name"]) for e in record["kubernetes"]) == [
        ("ClusterRole", None, "cluster-autoscaler"), ("ClusterRoleBinding", None, "cluster-autoscaler"),
        ("Deployment", "kube-system", "cluster-autoscaler"), ("Role", "kube-system", "cluster-autoscaler"),
        ("RoleBinding", "kube-system", "cluster-autoscaler"), ("ServiceAccount", "kube-system", "cluster-autoscaler")]
    assert sorted(e["id"] for e in record["aws"] if e["type"] == "autoscaling_group") == sorted(_asg_tags())
    iam = sorted((e["type"], e["id"]) for e in record["aws"] if e["type"] != "autoscaling_group")
    assert iam == [("iam_oidc_provider", f"arn:aws:iam::123456789012:oidc-provider/{labenv.state()['issuer'].removeprefix('https://')}"),
                   ("iam_policy", "arn:aws:iam::123456789012:policy/lab-kube-system-cluster-autoscaler-cluster-autoscaler"),
                   ("iam_role", "lab-kube-system-cluster-autoscaler")], iam


@pytest.mark.lab
def test_second_run_is_gated_in_sync_and_changes_nothing(converged, playbook):
    """The gated re-run (#23): one line, no write; the full path's re-run is test_site.py's (nodeless_eks_full_check)."""
    with untouched():
        again = playbook(ROLE)
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    record = converged[2]["after"]["record"]
    objects = len(record["kubernetes"]) + len(record["aws"])
    assert _gate_lines(again) == [f"cluster_autoscaler: in sync (record {record['written_at']}, {objects} objects)"]


@pytest.mark.lab
def test_existing_tags_are_only_checked_when_tagging_is_off(converged, playbook):
    # without the record: other inputs would take the full path and write the record anew
    with untouched():
        result = playbook(ROLE, extravars={"cluster_autoscaler_tag_asgs": False, "cluster_autoscaler_record": False})
    assert result.rc == 0 and result.total_changed() == 0, result.failure_text()
