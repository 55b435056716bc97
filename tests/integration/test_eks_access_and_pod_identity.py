"""nodeless.eks.access_entries and nodeless.eks.pod_identity_association against the lab's emulation of EKS access
entries, the authentication mode and Pod Identity (tests/lab/nodeless_lab/eks_access.py).

A cluster of the test's own in moto (its authentication mode moves only forward, so the shared ``lab`` cluster is
left in CONFIG_MAP), and two IAM roles with the Pod Identity trust policy module_utils/pod_identity.py renders. One
playbook, two tasks (the access entries moving the mode to API_AND_CONFIG_MAP, and two Pod Identity associations),
run three times and shared by every assertion: check mode first (no write, a plan), apply, then the same tasks again
with a task asking the mode back to CONFIG_MAP (ignored error), which together make no AWS write. The cluster and the
roles are deleted at the end (the cluster's entries and associations go with it).
"""
from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity
from support import labenv
from support.snapshots import run_counting_aws, untouched

pytestmark = pytest.mark.lab

ACCOUNT = "123456789012"
OWNER = "access-test"
POLICY = "arn:aws:eks::aws:cluster-access-policy/{}"


def _arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def _entries(prefix: str) -> list:
    return [
        {"principal_arn": _arn(f"{prefix}-admin"), "access_policies": [{"policy_arn": "AmazonEKSClusterAdminPolicy"}]},
        {"principal_arn": _arn(f"{prefix}-viewer"), "access_policies": [
            {"policy_arn": "AmazonEKSViewPolicy", "access_scope": {"type": "namespace", "namespaces": ["apps"]}}]},
        {"principal_arn": _arn(f"{prefix}-deployer"), "kubernetes_groups": ["deployers"], "access_policies": [
            {"policy_arn": POLICY.format("AmazonEKSEditPolicy"), "access_scope": {"type": "namespace", "namespaces": ["web", "apps"]}}]},
    ]


def _associations(prefix: str) -> list:
    return [{"namespace": "apps", "service_account": "reader", "role_arn": _arn(f"{prefix}-reader")},
            {"namespace": "kube-system", "service_account": "ebs-csi-controller-sa", "role_arn": _arn(f"{prefix}-ebs"),
             "disable_session_tags": True}]


def _play(cluster: str, prefix: str, *extra) -> list:
    entries = {"cluster_name": cluster, "owner": OWNER, "authentication_mode": "API_AND_CONFIG_MAP", "entries": _entries(prefix)}
    tasks = [{"name": "access entries", "register": "entries", "nodeless.eks.access_entries": entries},
             {"name": "pod identity", "register": "pods",
              "nodeless.eks.pod_identity_association": {"cluster_name": cluster, "associations": _associations(prefix)}}]
    return [{"name": "access and pod identity", "hosts": "lab", "gather_facts": False, "tasks": tasks + list(extra)}]


def _result(run, name: str) -> dict:
    return next(res for task, _host, res in run.tasks() if task == name)


def _readback(eks, cluster: str) -> dict:
    out = {"mode": eks.describe_cluster(name=cluster)["cluster"]["accessConfig"]["authenticationMode"], "entries": {}, "pods": {}}
    for arn in eks.list_access_entries(clusterName=cluster)["accessEntries"]:
        entry = eks.describe_access_entry(clusterName=cluster, principalArn=arn)["accessEntry"]
        policies = eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)["associatedAccessPolicies"]
        out["entries"][arn] = (entry["type"], entry["kubernetesGroups"], entry["tags"],
                               {p["policyArn"].rsplit("/", 1)[1]: p["accessScope"] for p in policies})
    for summary in eks.list_pod_identity_associations(clusterName=cluster)["associations"]:
        assoc = eks.describe_pod_identity_association(clusterName=cluster, associationId=summary["associationId"])["association"]
        out["pods"][f"{assoc['namespace']}/{assoc['serviceAccount']}"] = (assoc["roleArn"], assoc["disableSessionTags"])
    return out


@pytest.fixture(scope="module")
def converged(lab):
    from support import playbook as runner

    playbook = runner.run
    eks, iam = labenv.boto3_client("eks"), labenv.boto3_client("iam")
    prefix = f"access-{uuid.uuid4().hex[:6]}"
    cluster = prefix
    base = eks.describe_cluster(name="lab")["cluster"]
    created = eks.create_cluster(name=cluster, version=base["version"], roleArn=base["roleArn"],
                                 resourcesVpcConfig={"subnetIds": base["resourcesVpcConfig"]["subnetIds"]})["cluster"]
    trust = pod_identity.trust_policy(ACCOUNT, created["arn"])
    for name in ("reader", "ebs"):
        iam.create_role(RoleName=f"{prefix}-{name}", AssumeRolePolicyDocument=json.dumps(trust))
    out = {"cluster": cluster, "prefix": prefix, "arn": created["arn"], "created_mode": created["accessConfig"]["authenticationMode"]}
    try:
        with untouched():
            out["check"] = playbook(_play(cluster, prefix), check=True, diff=True)
        out["apply"], out["apply_writes"], _calls = run_counting_aws(playbook, _play(cluster, prefix), diff=True)
        backwards = {"name": "mode backwards", "ignore_errors": True, "nodeless.eks.access_entries": {
            "cluster_name": cluster, "owner": OWNER, "authentication_mode": "CONFIG_MAP", "entries": _entries(prefix)}}
        out["again"], out["again_writes"], out["again_calls"] = run_counting_aws(playbook, _play(cluster, prefix, backwards))
        out["read"] = _readback(eks, cluster)
        out["trust"] = {name: iam.get_role(RoleName=f"{prefix}-{name}")["Role"]["AssumeRolePolicyDocument"] for name in ("reader", "ebs")}
        try:
            eks.update_cluster_config(name=cluster, accessConfig={"authenticationMode": "CONFIG_MAP"})
            out["aws_backwards"] = None
        except ClientError as exc:
            out["aws_backwards"] = (exc.response["Error"]["Code"], exc.response["Error"]["Message"])
    finally:  # the lab is shared: the test's cluster (its entries and associations with it) and roles go
        eks.delete_cluster(name=cluster)
        for name in ("reader", "ebs"):
            iam.delete_role(RoleName=f"{prefix}-{name}")
    out["left"] = cluster in eks.list_clusters()["clusters"]
    return out


def test_check_mode_first_writes_nothing_and_plans_what_the_run_does(converged):
    check, apply, cluster, prefix = converged["check"], converged["apply"], converged["cluster"], converged["prefix"]
    assert converged["created_mode"] == "CONFIG_MAP"  # the API's default, reported by CreateCluster
    assert check.rc == 0, check.failure_text()
    entries, pods = _result(check, "access entries"), _result(check, "pod identity")
    assert entries["changes"][0] == {"resource": f"aws:eks-authentication-mode/{cluster}", "action": "change",
                                     "detail": "CONFIG_MAP -> API_AND_CONFIG_MAP"}
    assert [c["action"] for c in entries["changes"][1:]] == ["add"] * 6  # three entries, each with its policy
    assert entries["diff"]["before"] == {"authentication_mode": "CONFIG_MAP"}
    assert pods["changes"] == [{"resource": f"aws:pod-identity-association/{cluster}/apps/reader", "action": "add"},
                               {"resource": f"aws:pod-identity-association/{cluster}/kube-system/ebs-csi-controller-sa", "action": "add"}]
    assert pods["diff"] == {"before": {}, "after": {
        "apps/reader": {"role_arn": _arn(f"{prefix}-reader"), "disable_session_tags": False},
        "kube-system/ebs-csi-controller-sa": {"role_arn": _arn(f"{prefix}-ebs"), "disable_session_tags": True}}}
    assert apply.rc == 0, apply.failure_text()
    for task in ("access entries", "pod identity"):
        done = _result(apply, task)
        assert done["changes"] == _result(check, task)["changes"] and done["diff"]["after"] == _result(check, task)["diff"]["after"]


def test_apply_makes_exactly_the_planned_writes(converged):
    cluster, prefix = converged["cluster"], converged["prefix"]
    names = [w[1] for w in converged["apply_writes"]]
    assert names[0] == f"POST /clusters/{cluster}/update-config"
    assert sorted(names[1:7]) == sorted([f"POST /clusters/{cluster}/access-entries"] * 3 + [
        f"POST /clusters/{cluster}/access-entries/{_arn(f'{prefix}-{who}')}/access-policies" for who in ("admin", "viewer", "deployer")])
    assert names[7:] == [f"POST /clusters/{cluster}/pod-identity-associations"] * 2
    pods = _result(converged["apply"], "pod identity")["associations"]
    assert [p["association_id"][:2] for p in pods] == ["a-", "a-"] and all(p["owner_arn"] is None for p in pods)


def test_rerun_changes_nothing_and_writes_nothing(converged):
    again = converged["again"]
    assert converged["again_writes"] == [], converged["again_writes"]
    for task in ("access entries", "pod identity"):
        res = _result(again, task)
        assert res.get("failed") is not True, res.get("msg")
        assert res["changed"] is False and res["changes"] == [], (task, res["changes"])
    assert again.total_changed() == 0


def test_a_backwards_mode_change_is_refused_by_the_module_and_by_eks(converged):
    refused = _result(converged["again"], "mode backwards")
    assert refused["failed"] is True
    assert refused["msg"] == ("authentication_mode: the cluster is in API_AND_CONFIG_MAP, and EKS moves the authentication mode only "
                              "forward (CONFIG_MAP -> API_AND_CONFIG_MAP -> API), so it cannot go back to CONFIG_MAP; "
                              "set authentication_mode: API_AND_CONFIG_MAP or leave it out")
    assert converged["again_writes"] == []  # refused before any write
    assert converged["aws_backwards"] == ("InvalidParameterException",
                                          "Unsupported authentication mode update from API_AND_CONFIG_MAP to CONFIG_MAP")


def test_moto_reads_back_the_mode_entries_policies_and_associations(converged):
    read, prefix = converged["read"], converged["prefix"]
    assert read["mode"] == "API_AND_CONFIG_MAP"
    tags = {"nodeless.eks/owner": OWNER}
    assert read["entries"] == {
        _arn(f"{prefix}-admin"): ("STANDARD", [], tags, {"AmazonEKSClusterAdminPolicy": {"type": "cluster", "namespaces": []}}),
        _arn(f"{prefix}-viewer"): ("STANDARD", [], tags, {"AmazonEKSViewPolicy": {"type": "namespace", "namespaces": ["apps"]}}),
        _arn(f"{prefix}-deployer"): ("STANDARD", ["deployers"], tags,
                                     {"AmazonEKSEditPolicy": {"type": "namespace", "namespaces": ["apps", "web"]}}),
    }
    assert read["pods"] == {"apps/reader": (_arn(f"{prefix}-reader"), False),
                            "kube-system/ebs-csi-controller-sa": (_arn(f"{prefix}-ebs"), True)}


def test_the_roles_trust_pod_identity_for_this_cluster_only(converged):
    for name, document in converged["trust"].items():
        assert pod_identity.trusts_pod_identity(document), name
        condition = document["Statement"][0]["Condition"]
        assert condition == {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                             "ArnEquals": {"aws:SourceArn": converged["arn"]}}
        assert converged["arn"].endswith(f":{ACCOUNT}:cluster/{converged['cluster']}")


def test_the_shared_lab_is_left_as_it_was(converged):
    assert converged["left"] is False
    eks = labenv.boto3_client("eks")
    assert eks.describe_cluster(name="lab")["cluster"]["accessConfig"]["authenticationMode"] == "CONFIG_MAP"
    assert eks.list_pod_identity_associations(clusterName="lab")["associations"] == []
