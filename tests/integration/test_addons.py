"""nodeless.eks.addons through site.yml (capabilities addons and vpc_cni) against the lab's EKS add-on emulation.

One converge shared by every assertion: check mode first (no write; its plan table), the real run (its plan table),
then a re-run that must change nothing and write nothing. Afterwards the shared lab is put back: the add-ons are
removed (vpc-cni and CoreDNS keeping their workload, the others not), aws-node and CoreDNS get back the pod templates
the lab made, and the EBS CSI controller's IAM role is deleted.
"""
from __future__ import annotations

import json

import pytest

from support import labenv
from support import playbook as runner
from support.snapshots import run_counting_aws, untouched, write_names

pytestmark = pytest.mark.lab

SITE = str(labenv.REPO / "playbooks" / "site.yml")
EXTRAVARS = {"nodeless_eks_capabilities": ["addons", "vpc_cni"]}
NAMES = ["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
EBS_ROLE = "lab-kube-system-ebs-csi-controller-sa"
EBS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def _apps():
    from kubernetes import client

    return client.AppsV1Api(labenv.k8s_client())


def _template(apps, kind: str, name: str) -> dict:
    read = apps.read_namespaced_daemon_set if kind == "DaemonSet" else apps.read_namespaced_deployment
    return apps.api_client.sanitize_for_serialization(read(name, "kube-system").spec.template)


def _put_back(eks, iam, apps, templates: dict) -> None:
    for name in eks.list_addons(clusterName="lab").get("addons", []):
        eks.delete_addon(clusterName="lab", addonName=name, preserve=name in ("vpc-cni", "coredns"))
    patch = {"DaemonSet": apps.patch_namespaced_daemon_set, "Deployment": apps.patch_namespaced_deployment}
    for (kind, name), template in templates.items():
        patch[kind](name, "kube-system", [{"op": "replace", "path": "/spec/template", "value": template}])
    try:
        for policy in iam.list_attached_role_policies(RoleName=EBS_ROLE)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=EBS_ROLE, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=EBS_ROLE)
    except iam.exceptions.NoSuchEntityException:
        pass


@pytest.fixture(scope="module")
def converged(lab):
    eks, iam, apps = labenv.boto3_client("eks"), labenv.boto3_client("iam"), _apps()
    assert eks.list_addons(clusterName="lab")["addons"] == [], "the shared lab should hold no add-on"
    templates = {key: _template(apps, *key) for key in (("DaemonSet", "aws-node"), ("Deployment", "coredns"))}
    out = {}
    try:
        with untouched():
            out["check"] = runner.run(SITE, extravars=EXTRAVARS, check=True, diff=True, plan=True)
        offset = labenv.k8s_writes()[0]
        out["apply"] = runner.run(SITE, extravars=EXTRAVARS, diff=True, plan=True)
        out["apply_k8s_writes"] = write_names(labenv.k8s_writes(offset)[1])
        out["addons"] = {name: eks.describe_addon(clusterName="lab", addonName=name)["addon"]
                         for name in eks.list_addons(clusterName="lab")["addons"]}
        aws_node = apps.read_namespaced_daemon_set("aws-node", "kube-system")
        out["aws_node_env"] = {e.name: e.value for e in aws_node.spec.template.spec.containers[0].env}
        out["ebs_policies"] = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=EBS_ROLE)["AttachedPolicies"]]
        out["ebs_role_arn"] = iam.get_role(RoleName=EBS_ROLE)["Role"]["Arn"]
        offset = labenv.k8s_writes()[0]
        out["again"], out["again_writes"], _calls = run_counting_aws(runner.run, SITE, extravars=EXTRAVARS)
        out["again_k8s_writes"] = write_names(labenv.k8s_writes(offset)[1])
    finally:  # the lab is shared: the next test finds no add-on, and aws-node / CoreDNS as the lab made them
        _put_back(eks, iam, apps, templates)
    out["restored"] = all(_template(apps, *key) == value for key, value in templates.items())
    return out


def test_check_mode_first_predicts_the_real_run(converged):
    check, apply = converged["check"], converged["apply"]
    assert check.rc == 0, check.failure_text()
    assert apply.rc == 0, apply.failure_text()
    assert {(r, a) for _h, r, a in apply.plan if r.startswith("aws:eks-addon/")} == {
        (f"aws:eks-addon/lab/{name}", "add") for name in NAMES}
    assert check.plan == apply.plan, (f"planned, not done: {sorted(check.plan - apply.plan)}; "
                                      f"done, not planned: {sorted(apply.plan - check.plan)}")


def test_site_converges_the_five_addons_active(converged):
    assert sorted(converged["addons"]) == NAMES
    assert {name: a["status"] for name, a in converged["addons"].items()} == {name: "ACTIVE" for name in NAMES}


def test_aws_node_carries_the_vpc_cni_settings_from_configuration_values(converged):
    values = json.loads(converged["addons"]["vpc-cni"]["configurationValues"])
    assert values == {"env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}}  # the vpc_cni role's defaults
    env = converged["aws_node_env"]
    assert env["ENABLE_PREFIX_DELEGATION"] == "true" and env["WARM_PREFIX_TARGET"] == "1"
    # written by the add-on manager (left out of the audit log), not by the vpc_cni role's DaemonSet patch, which
    # skipped with its reason
    assert not [w for w in converged["apply_k8s_writes"] if "daemonsets/aws-node" in w], converged["apply_k8s_writes"]
    assert "vpc-cni is an EKS managed add-on" in converged["apply"].stdout


def test_ebs_csi_driver_gets_its_irsa_role_with_the_aws_managed_policy(converged):
    assert converged["ebs_policies"] == [EBS_POLICY]
    assert converged["addons"]["aws-ebs-csi-driver"]["serviceAccountRoleArn"] == converged["ebs_role_arn"]


def test_rerun_changes_nothing_and_writes_nothing(converged):
    again = converged["again"]
    assert again.rc == 0, again.failure_text()
    assert again.total_changed() == 0, again.changed()
    assert converged["again_writes"] == [], converged["again_writes"]
    assert converged["again_k8s_writes"] == [], converged["again_k8s_writes"]


def test_the_shared_lab_is_left_as_it_was(converged):
    assert converged["restored"], "aws-node's or CoreDNS's pod template differs from the one before the test"
    assert labenv.boto3_client("eks").list_addons(clusterName="lab")["addons"] == []


def test_auto_mode_skips_karpenter_the_load_balancer_controller_and_ebs_csi_with_their_reason(lab):
    """EKS Auto Mode (computeConfig enabled). The lab cannot create such a cluster yet (moto keeps no computeConfig),
    so the cluster's facts are given as the common role would read them from one: nothing is installed or written,
    each skipped step says why in one line, and cluster_health reports the mode."""
    from ansible_collections.nodeless.eks.plugins.module_utils import eks as eks_utils

    facts = eks_utils.cluster_facts(dict(labenv.boto3_client("eks").describe_cluster(name="lab")["cluster"],
                                         computeConfig={"enabled": True, "nodePools": ["general-purpose", "system"]}))
    assert facts["auto_mode"] is True
    extravars = {"nodeless_eks_cluster": dict(facts, nodegroups=[]),
                 "nodeless_eks_capabilities": ["addons", "aws_load_balancer_controller", "karpenter", "cluster_health"],
                 "addons_vpc_cni": False, "addons_kube_proxy": False, "addons_pod_identity_agent": False, "addons_coredns": False}
    with untouched():
        run = runner.run(SITE, extravars=extravars)
    assert run.rc == 0, run.failure_text()
    text = " ".join(run.stdout.split())
    for what in ("EKS runs the load balancer controller itself", "EKS runs Karpenter itself", "EKS runs the EBS CSI driver itself",
                 "compute: EKS Auto Mode"):
        assert what in text, what
