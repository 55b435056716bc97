"""Fargate role against the lab: check mode first, profiles on private subnets, CoreDNS patched once; the re-run ends at
the convergence gate, and CoreDNS given its EC2-only annotation back out of band is found and repaired (#23)."""
from __future__ import annotations

import json
import urllib.parse
import uuid

import pytest

from support import labenv
from support import playbook as runner
from support.snapshots import untouched

pytestmark = pytest.mark.lab
KEY = "eks.amazonaws.com/compute-type"


def _coredns_annotations() -> dict:
    from kubernetes import client

    dep = client.AppsV1Api(labenv.k8s_client()).read_namespaced_deployment("coredns", "kube-system")
    return dep.spec.template.metadata.annotations or {}


def _give_coredns_the_ec2_annotation():
    """EKS's starting point (an earlier run may have removed it)."""
    from kubernetes import client

    client.AppsV1Api(labenv.k8s_client()).patch_namespaced_deployment(
        "coredns", "kube-system", {"spec": {"template": {"metadata": {"annotations": {KEY: "ec2"}}}}})


@pytest.fixture
def profiles():
    suffix = uuid.uuid4().hex[:6]
    names = [f"it-dns-{suffix}", f"it-apps-{suffix}"]
    yield names
    eks = labenv.boto3_client("eks")
    for name in names:
        eks.delete_fargate_profile(clusterName="lab", fargateProfileName=name)


def test_fargate_check_then_converge_then_nothing(playbook, profiles):
    _give_coredns_the_ec2_annotation()
    role = f"lab-it-fargate-{profiles[0][-6:]}"
    play = [{"hosts": "lab", "gather_facts": False, "roles": [{"role": "nodeless.eks.fargate", "vars": {
        "fargate_pod_execution_role_name": role,
        "fargate_profiles": [
            {"name": profiles[0], "selectors": [{"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}]},
            {"name": profiles[1], "selectors": [{"namespace": "apps"}, {"namespace": "batch", "labels": {"compute": "fargate"}}]},
        ],
        "fargate_tags": {"team": "platform"}}}]}]

    with untouched():
        check = playbook(play, check=True, diff=True)
    assert check.rc == 0, check.stdout[-3000:]
    predicted = check.changed()
    assert any("pod execution role" in t for t in predicted) and any("Fargate profile" in t for t in predicted)
    assert any("EC2-only annotation" in t for t in predicted), predicted

    run = playbook(play)
    assert run.rc == 0, run.stdout[-3000:]
    assert sorted(run.changed()) == sorted(predicted), "check mode predicted a different set of changes"

    iam = labenv.boto3_client("iam")
    execution_role = iam.get_role(RoleName=role)["Role"]
    trust = execution_role["AssumeRolePolicyDocument"]
    (statement,) = (json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str) else trust)["Statement"]
    assert statement["Principal"] == {"Service": "eks-fargate-pods.amazonaws.com"}
    assert statement["Condition"] == {"ArnLike": {"aws:SourceArn": "arn:aws:eks:us-west-2:123456789012:fargateprofile/lab/*"}}
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonEKSFargatePodExecutionRolePolicy"]
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]} == {"team": "platform"}

    eks, ec2 = labenv.boto3_client("eks"), labenv.boto3_client("ec2")
    private = {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
               if any(t["Key"] == "Name" and "-private-" in t["Value"] for t in s.get("Tags", []))}
    assert len(private) == 3
    for name, selectors in zip(profiles, ([("kube-system", {"k8s-app": "kube-dns"})], [("apps", {}), ("batch", {"compute": "fargate"})])):
        prof = eks.describe_fargate_profile(clusterName="lab", fargateProfileName=name)["fargateProfile"]
        assert prof["status"] == "ACTIVE"
        assert set(prof["subnets"]) == private, "profiles must use exactly the private subnets"
        assert prof["podExecutionRoleArn"] == execution_role["Arn"]
        assert [(s["namespace"], s.get("labels") or {}) for s in prof["selectors"]] == selectors
        assert prof.get("tags") == {"team": "platform"}
    assert KEY not in _coredns_annotations()
    assert "kubectl.kubernetes.io/restartedAt" in _coredns_annotations()
    from kubernetes import client
    coredns = client.AppsV1Api(labenv.k8s_client()).read_namespaced_deployment("coredns", "kube-system")
    assert coredns.status.updated_replicas == coredns.spec.replicas == coredns.status.available_replicas, "CoreDNS has not rolled out"

    # The re-run ends at the gate (#23; the full path's re-run is test_site's, with nodeless_eks_full_check).
    again = runner.counted(play)
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert again.aws_writes == []
    assert again.k8s_writes == [], "the second run wrote to the API server (CoreDNS patched twice?)"
    record = _record()
    assert _gate_line(again) == f"fargate: in sync (record {record['written_at']}, 4 objects)"

    # Drift (#23): the EC2-only annotation put back on CoreDNS out of band -> the gate falls through, the role removes it.
    _give_coredns_the_ec2_annotation()
    drifted = playbook(play)
    assert drifted.rc == 0, drifted.stdout[-3000:]
    assert _gate_line(drifted) == "fargate: not in sync, full path (Deployment kube-system/coredns: generation changed)"
    assert KEY not in _coredns_annotations()
    assert [n.split(" : ", 1)[-1] for n in drifted.changed()] == [
        "Remove the EC2-only annotation from CoreDNS's pods and restart it; wait for the new CoreDNS pods to be Available",
        "Record what the role converged to (written only when it differs from the stored record)"]


def _gate_line(run) -> str:
    return next(res["msg"] for _name, _host, res in run.tasks() if str(res.get("msg")).startswith("fargate: "))


def _record() -> dict:
    from kubernetes import client

    return json.loads(client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("nodeless-eks-fargate", "nodeless-eks").data["record.json"])
