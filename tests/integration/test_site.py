"""site.yml as users run it: many clusters in one run, and the inventory mistakes it refuses."""
from __future__ import annotations

import io
import json

import boto3
import pytest
import yaml

from nodeless_lab import lab as lab_module
from support import labenv, playbook
from support.snapshots import aws_write_calls, untouched

pytestmark = pytest.mark.lab
SITE = str(labenv.REPO / "playbooks" / "site.yml")


def _inventory(tmp_path, hosts: dict) -> str:
    path = tmp_path / "hosts.yml"
    base = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    path.write_text(yaml.safe_dump({"all": {"hosts": {h: dict(base, **v) for h, v in hosts.items()}}}))
    return str(path)


def _lab_host(state: dict, **extra) -> dict:
    env = lab_module.env(state)
    return dict({"nodeless_eks_cluster_name": state["cluster_name"], "nodeless_eks_region": state["region"],
                 "nodeless_eks_environment": {k: env[k] for k in ("AWS_ENDPOINT_URL", "K8S_AUTH_KUBECONFIG", "KUBECONFIG")},
                 "nodeless_eks_capabilities": ["identity", "tagging", "vpc_cni"]}, **extra)


def _oidc_urls(state: dict) -> set:
    iam = boto3.client("iam", endpoint_url=state["aws_endpoint"], region_name=state["region"],
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return {iam.get_open_id_connect_provider(OpenIDConnectProviderArn=p["Arn"])["Url"]
            for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}


CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens there in the lab

# The second cluster binds every service account through EKS Pod Identity (#21): each role that binds one, the EBS CSI
# add-on included, with the Pod Identity agent from the addons capability in the same run.
POD_IDENTITY_CAPABILITIES = ["identity", "tagging", "addons", "cluster_autoscaler", "aws_load_balancer_controller", "external_dns",
                             "karpenter"]
POD_IDENTITY_VARS = {f"{role}_identity": "pod_identity" for role in (
    "cluster_autoscaler", "aws_load_balancer_controller", "external_dns", "karpenter", "addons_ebs_csi_driver")}
# namespace/service account -> (role name, owner: the EBS CSI add-on makes its own association)
POD_IDENTITY_ACCOUNTS = {
    "kube-system/cluster-autoscaler": ("lab-kube-system-cluster-autoscaler", False),
    "kube-system/aws-load-balancer-controller": ("lab-kube-system-aws-load-balancer-controller", False),
    "kube-system/external-dns": ("lab-kube-system-external-dns", False),
    "karpenter/karpenter": ("lab-karpenter-karpenter", False),
    "kube-system/ebs-csi-controller-sa": ("lab-kube-system-ebs-csi-controller-sa", True),
}
MIGRATE = str(labenv.REPO / "playbooks" / "migrate_to_pod_identity.yml")


def _clients(state: dict):
    from kubernetes import client, config

    kwargs = {"endpoint_url": state["aws_endpoint"], "region_name": state["region"],
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return (boto3.client("eks", **kwargs), boto3.client("iam", **kwargs),
            client.CoreV1Api(config.new_client_from_config(state["kubeconfig"])))


def _associations(eks, cluster: str = "lab") -> dict:
    out = {}
    for summary in eks.list_pod_identity_associations(clusterName=cluster)["associations"]:
        assoc = eks.describe_pod_identity_association(clusterName=cluster, associationId=summary["associationId"])["association"]
        out[f"{assoc['namespace']}/{assoc['serviceAccount']}"] = (assoc["roleArn"], bool(assoc.get("ownerArn")))
    return out


def _annotations(core, key: str) -> dict:
    namespace, name = key.split("/")
    return core.read_namespaced_service_account(name, namespace).metadata.annotations or {}


@pytest.fixture(scope="module")
def two_labs(lab, tmp_path_factory):
    """site.yml over the shared lab and a second lab of its own (identity, tagging, vpc_cni) and again; then site.yml over the
    second lab alone with every role that binds a service account, through EKS Pod Identity, and again with its AWS
    writes counted; what that left is read back. The second lab stays up for the migration test, then goes down."""
    from support import demo_env

    tmp = tmp_path_factory.mktemp("site")
    second_dir = tmp / "second-lab"
    second = lab_module.up(second_dir, out=io.StringIO(), build=False)
    try:
        demo = demo_env.prepare(tmp / "demo")["NODELESS_DEMO_DIR"]
        pod_identity = dict(POD_IDENTITY_VARS, nodeless_eks_capabilities=POD_IDENTITY_CAPABILITIES,
                            aws_load_balancer_controller_chart_ref=f"{demo}/charts/aws-load-balancer-controller",
                            karpenter_chart_ref=f"{demo}/charts/karpenter", karpenter_isolated_vpc=True,
                            external_dns_domains=["lab.example.com"])
        inventory = _inventory(tmp, {"first": _lab_host(lab), "second": _lab_host(second)})
        out = {"second": second, "tmp": tmp}
        # The control host's own AWS endpoint is a closed port: every AWS read must run with its host's environment
        # (vpc_cni's max pods read once ran as a lookup on the control host, against the control host's account).
        closed = {"AWS_ENDPOINT_URL": CLOSED_PORT}
        out["both"] = playbook.run(SITE, inventory=inventory, extravars={"ansible_forks": 2}, env_extra=closed)
        # the re-runs prove the full path writes nothing (the gated path: test_convergence.py, reliability's single run)
        out["both_again"] = playbook.run(SITE, inventory=inventory, extravars={"nodeless_eks_full_check": True},
                                         env_extra=closed)
        # one host per cluster name and region in a run: the second lab's cluster is also `lab`, so alone
        (tmp / "second").mkdir()
        inventory = _inventory(tmp / "second", {"second": _lab_host(second, **pod_identity)})
        out["run"] = playbook.run(SITE, inventory=inventory)
        if out["run"].rc == 0:
            lab_module.calls(second, reset=True)
            out["again"] = playbook.run(SITE, inventory=inventory, extravars={"nodeless_eks_full_check": True})
            out["again_writes"] = aws_write_calls(lab_module.calls(second))
            eks, iam, core = _clients(second)
            out["associations"] = _associations(eks)
            out["trust"] = {name: iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
                            for name, _owned in POD_IDENTITY_ACCOUNTS.values()}
            out["annotations"] = {key: _annotations(core, key) for key in POD_IDENTITY_ACCOUNTS}
            out["ebs_addon"] = eks.describe_addon(clusterName="lab", addonName="aws-ebs-csi-driver")["addon"]
        yield out
    finally:
        lab_module.down(second_dir, out=io.StringIO())


def test_two_clusters_converge_in_one_run_without_cross_talk(two_labs, lab):
    result, second = two_labs["both"], two_labs["second"]
    assert result.rc == 0, result.failure_text() or result.stdout[-3000:]
    assert result.stats["first"]["failures"] == 0 and result.stats["second"]["failures"] == 0
    first_issuer, second_issuer = lab["issuer"][len("https://"):], second["issuer"][len("https://"):]
    assert first_issuer in _oidc_urls(lab) and second_issuer not in _oidc_urls(lab)
    assert _oidc_urls(second) == {second_issuer}
    again = two_labs["both_again"]
    assert again.rc == 0 and again.total_changed() == 0, again.changed()


def test_pod_identity_for_every_role_converges_then_writes_nothing(two_labs):
    """#21: each role's service account bound through EKS Pod Identity, read back from the second lab's AWS: the
    association (the EBS CSI driver's owned by its add-on), a trust policy for pods.eks.amazonaws.com with exactly
    sts:AssumeRole and sts:TagSession for this cluster only, and no IRSA annotation; the re-run made no AWS write."""
    assert two_labs["run"].rc == 0, two_labs["run"].failure_text()
    assert two_labs["again"].rc == 0 and two_labs["again"].total_changed() == 0, two_labs["again"].changed()
    arn = "arn:aws:iam::123456789012:role/{}".format
    assert two_labs["associations"] == {key: (arn(name), owned) for key, (name, owned) in POD_IDENTITY_ACCOUNTS.items()}
    for name, document in two_labs["trust"].items():
        assert document["Statement"] == [{
            "Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"},
                          "ArnEquals": {"aws:SourceArn": "arn:aws:eks:us-west-2:123456789012:cluster/lab"}}}], name
    assert {key: [a for a in annotations if a.startswith("eks.amazonaws.com/")]
            for key, annotations in two_labs["annotations"].items()} == {key: [] for key in POD_IDENTITY_ACCOUNTS}
    assert two_labs["ebs_addon"].get("serviceAccountRoleArn") is None
    assert two_labs["again_writes"] == [], two_labs["again_writes"]


def test_host_without_cluster_name_is_refused(lab, tmp_path):
    inventory = _inventory(tmp_path, {"nameless": {"nodeless_eks_region": "us-west-2"}})
    with untouched():
        result = playbook.run(SITE, inventory=inventory, env_extra={"NODELESS_EKS_CLUSTER_NAME": ""})
    assert result.rc != 0
    assert "nodeless_eks_cluster_name" in result.failure_text()


def test_two_hosts_one_cluster_different_settings_are_refused(lab, tmp_path):
    inventory = _inventory(tmp_path, {"a": _lab_host(lab, istio_mtls_mode="STRICT"),
                                      "b": _lab_host(lab, istio_mtls_mode="PERMISSIVE")})
    with untouched():
        result = playbook.run(SITE, inventory=inventory)
    assert result.rc != 0
    assert "hosts a and b both manage cluster lab in us-west-2 with different settings: istio_mtls_mode" in result.failure_text()


def test_unknown_capability_tag_is_refused_with_the_list(lab, tmp_path):
    inventory = _inventory(tmp_path, {"lab": _lab_host(lab)})
    with untouched():
        result = playbook.run(SITE, inventory=inventory, tags="istoi")
    assert result.rc != 0
    text = result.failure_text()
    assert "Unknown tag(s) istoi" in text and "identity, tagging, addons, vpc_cni" in text


def _wait_active(eks, name: str) -> None:
    import time

    for _attempt in range(120):
        if eks.describe_addon(clusterName="lab", addonName=name)["addon"]["status"] == "ACTIVE":
            return
        time.sleep(0.5)
    raise AssertionError(f"add-on {name} did not become ACTIVE")


def test_migration_from_irsa_plans_then_does_exactly_that_then_nothing(two_labs):
    """playbooks/migrate_to_pod_identity.yml on the second lab, after IRSA was set up there by hand (no playbook run):
    an application's service account (payments/api), one whose pod runs on Fargate (batch/worker) and the EBS CSI
    add-on put back on its IRSA role (serviceAccountRoleArn), both kept on IRSA and said why. First refused, before any write,
    while payments/api already has an association to another role; then check mode's plan, the real run doing exactly
    that plan, and a second run changing nothing."""
    from kubernetes import client

    from ansible_collections.nodeless.eks.plugins.module_utils import irsa_trust
    from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity

    assert two_labs["run"].rc == 0, two_labs["run"].failure_text()
    second = two_labs["second"]
    eks, iam, core = _clients(second)
    provider = irsa_trust.provider_arn("aws", "123456789012", second["issuer"])
    arns = {}
    for namespace, name in (("payments", "api"), ("batch", "worker")):
        trust = irsa_trust.trust_policy(provider, second["issuer"], namespace, name)
        arns[name] = iam.create_role(RoleName=f"lab-{namespace}-{name}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(
            name=name, annotations={"eks.amazonaws.com/role-arn": arns[name], "eks.amazonaws.com/sts-regional-endpoints": "true"})))
    core.create_namespaced_pod("batch", client.V1Pod(metadata=client.V1ObjectMeta(name="worker"), spec=client.V1PodSpec(
        service_account_name="worker", scheduler_name="fargate-scheduler", containers=[client.V1Container(name="w", image="pause")])))
    other = iam.create_role(RoleName="lab-payments-other", AssumeRolePolicyDocument=json.dumps(
        pod_identity.trust_policy("123456789012")))["Role"]["Arn"]
    ebs_role = "arn:aws:iam::123456789012:role/lab-kube-system-ebs-csi-controller-sa"
    eks.update_addon(clusterName="lab", addonName="aws-ebs-csi-driver", serviceAccountRoleArn=ebs_role, podIdentityAssociations=[])
    _wait_active(eks, "aws-ebs-csi-driver")
    (two_labs["tmp"] / "migrate").mkdir()
    inventory = _inventory(two_labs["tmp"] / "migrate", {"second": _lab_host(second)})

    conflict = eks.create_pod_identity_association(clusterName="lab", namespace="payments", serviceAccount="api", roleArn=other)
    lab_module.calls(second, reset=True)
    refused = playbook.run(MIGRATE, inventory=inventory, check=True)
    assert refused.rc != 0
    assert (f"payments/api: already has a Pod Identity association to {other}, its IRSA annotation names {arns['api']}; "
            "EKS allows one association per service account") in refused.failure_text()
    assert aws_write_calls(lab_module.calls(second)) == []
    eks.delete_pod_identity_association(clusterName="lab", associationId=conflict["association"]["associationId"])

    lab_module.calls(second, reset=True)
    check = playbook.run(MIGRATE, inventory=inventory, check=True, diff=True, plan=True)
    check_writes = aws_write_calls(lab_module.calls(second))
    run = playbook.run(MIGRATE, inventory=inventory, diff=True, plan=True)
    lab_module.calls(second, reset=True)
    again = playbook.run(MIGRATE, inventory=inventory)
    again_writes = aws_write_calls(lab_module.calls(second))
    assert check.rc == 0, check.failure_text()
    assert run.rc == 0, run.failure_text()
    assert check_writes == [], check_writes
    assert run.plan == {
        ("second", "aws:iam_role/lab-payments-api", "change"),
        ("second", "aws:pod-identity-association/lab/payments/api", "add"),
        ("second", "k8s:ServiceAccount/payments/api", "change")}, sorted(run.plan)
    assert check.plan == run.plan, (f"planned, not done: {sorted(check.plan - run.plan)}; "
                                    f"done, not planned: {sorted(run.plan - check.plan)}")
    said = " ".join(run.stdout.split())
    assert "batch/worker: a pod of it runs on Fargate" in said
    assert "kube-system/ebs-csi-controller-sa: the EKS add-on aws-ebs-csi-driver holds its role as serviceAccountRoleArn" in said
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert again_writes == [], again_writes

    associations = _associations(eks)
    assert associations["payments/api"] == (arns["api"], False)
    assert "batch/worker" not in associations and "kube-system/ebs-csi-controller-sa" not in associations
    statements = iam.get_role(RoleName="lab-payments-api")["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in statements] == [{"Federated": provider}, {"Service": "pods.eks.amazonaws.com"}]
    assert statements[1]["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert _annotations(core, "payments/api") == {}
    assert _annotations(core, "batch/worker")["eks.amazonaws.com/role-arn"] == arns["worker"]
    assert _annotations(core, "kube-system/ebs-csi-controller-sa")["eks.amazonaws.com/role-arn"] == ebs_role
