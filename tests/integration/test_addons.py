"""nodeless.eks.addons through site.yml (capabilities addons and vpc_cni) against the lab's EKS add-on emulation.

One converge shared by every assertion: check mode first (no write; its plan table), the real run (its plan table),
then a re-run that must change nothing and write nothing, with cluster_health added (read-only): its upgrade readiness
of the five add-ons against the next Kubernetes minor. Afterwards the shared lab is put back: the add-ons are
removed (vpc-cni and CoreDNS keeping their workload, the others not), aws-node and CoreDNS get back the pod templates
the lab made, and the EBS CSI controller's IAM role is deleted.

An EKS Auto Mode cluster of the test's own (CreateCluster with computeConfig, storageConfig and load balancing, as
the lab's AWS keeps them) gets one site.yml run: the Karpenter, load balancer controller and EBS CSI steps skip.
"""
from __future__ import annotations

import json
import re
import uuid

import pytest

from support import labenv
from support import playbook as runner
from support.snapshots import run_counting_aws, untouched, write_names

pytestmark = pytest.mark.lab

SITE = str(labenv.REPO / "playbooks" / "site.yml")
EXTRAVARS = {"nodeless_eks_capabilities": ["addons", "vpc_cni"]}
# The re-run also reports upgrade readiness (cluster_health only reads: the re-run must still change and write nothing).
RERUN_EXTRAVARS = {"nodeless_eks_capabilities": ["addons", "vpc_cni", "cluster_health"]}
NAMES = ["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
EBS_ROLE = "lab-kube-system-ebs-csi-controller-sa"
EBS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


DRIFTED = {"env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "2"}}


def _record(capability: str) -> dict:
    from kubernetes import client

    name = "nodeless-eks-" + capability.replace("_", "-")
    return json.loads(client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map(name, "nodeless-eks").data["record.json"])


def _gates(result) -> list[str]:
    """The gates' lines (#23), in run order."""
    return [res["msg"] for name, _unused, res in result.tasks()
            if name.split(" : ", 1)[-1].startswith("Compare the") and "convergence record" in name and "msg" in res]


def _run_gate(result) -> str:
    """The run gate's line with its record's time taken out."""
    line = next(res["msg"] for name, _host, res in result.tasks() if name == "Say what the run's gate found")
    return re.sub(r"run record [0-9T:Z-]+,", "run record {},", line)


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
        out["again"], out["again_writes"], _calls = run_counting_aws(runner.run, SITE, extravars=RERUN_EXTRAVARS)
        out["again_k8s_writes"] = write_names(labenv.k8s_writes(offset)[1])
        # #23 drift: vpc-cni's configuration values changed out of band; the gate must fall through and put them back.
        out["record"] = _record("addons")
        eks.update_addon(clusterName="lab", addonName="vpc-cni", configurationValues=json.dumps(DRIFTED))
        out["drift"] = runner.run(SITE, extravars=EXTRAVARS)
        out["drift_values"] = eks.describe_addon(clusterName="lab", addonName="vpc-cni")["addon"]["configurationValues"]
        out["drift_record"] = _record("addons")
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
    # through site.yml's run gate (#23): both add-on steps and vpc_cni (vpc-cni managed: its settings only) in sync, their
    # roles skipped (cluster_health, added to this run, keeps no record); each role's own gate: the drift run below
    assert _run_gate(again) == ("run gate: in sync (run record {}, 3 capabilities): the roles of addons, "
                                "addons_after_capacity, vpc_cni are skipped"), _run_gate(again)
    assert _gates(again) == [], _gates(again)


def test_addon_configuration_changed_out_of_band_is_found_by_the_gate_and_put_back(converged):
    """#23 drift: vpc-cni's configuration values changed with UpdateAddon -> the gate of the step before capacity falls
    through, eks_addon sends the role's values again; the record (the same state again) is left as it was."""
    drift = converged["drift"]
    assert drift.rc == 0, drift.failure_text()
    lines = _gates(drift)
    assert lines[0] == "addons: not in sync, full path (aws eks_addon lab/vpc-cni: sha256 changed)", lines
    assert [line.split(" (record ")[0] for line in lines[1:]] == ["vpc_cni: in sync", "addons_after_capacity: in sync"], lines
    assert json.loads(converged["drift_values"]) == {"env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}}
    assert any(n.startswith("nodeless.eks.addons : Converge vpc-cni") for n in drift.changed()), drift.changed()
    assert converged["drift_record"] == converged["record"]
    assert [e["id"] for e in converged["record"]["aws"]] == ["lab/eks-pod-identity-agent", "lab/kube-proxy", "lab/vpc-cni"]


def test_the_shared_lab_is_left_as_it_was(converged):
    assert converged["restored"], "aws-node's or CoreDNS's pod template differs from the one before the test"
    assert labenv.boto3_client("eks").list_addons(clusterName="lab")["addons"] == []


def _health_report(run) -> dict:
    return next(res for name, _host, res in run.tasks() if name.startswith("nodeless.eks.cluster_health : Read the API server"))


def test_cluster_health_lists_each_addon_against_the_next_minor(converged):
    """The lab's catalogue has Kubernetes 1.36 data: the 1.35 defaults of vpc-cni and CoreDNS do not run on 1.36 (update
    before the control plane upgrade, to a version that runs on both), kube-proxy has one release per minor (update
    right after), the EBS CSI driver and the Pod Identity agent are compatible already."""
    report = _health_report(converged["again"])
    assert report["health"]["target_version"] == "1.36"
    rows = {r["name"]: (r["version"], r["action"], r["update_to"]) for r in report["health"]["addon_versions"]}
    assert rows == {
        "aws-ebs-csi-driver": ("v1.51.1-eksbuild.1", "none", None),
        "coredns": ("v1.12.1-eksbuild.2", "update_before_upgrade", "v1.12.4-eksbuild.1"),
        "eks-pod-identity-agent": ("v1.3.9-eksbuild.3", "none", None),
        "kube-proxy": ("v1.35.0-eksbuild.2", "update_after_upgrade", "v1.36.0-eksbuild.1"),
        "vpc-cni": ("v1.20.4-eksbuild.1", "update_before_upgrade", "v1.21.1-eksbuild.1"),
    }
    found = sorted((f["severity"], f["subject"]) for f in report["findings"] if f["check"] == "addon_versions")
    assert found == [("critical", "add-on coredns"), ("critical", "add-on vpc-cni"), ("info", "add-on kube-proxy")]
    text = " ".join(converged["again"].stdout.split())
    assert ("add-ons against Kubernetes 1.36: aws-ebs-csi-driver v1.51.1-eksbuild.1 compatible with 1.36; coredns "
            "v1.12.1-eksbuild.2 update to v1.12.4-eksbuild.1 before the upgrade;") in text


@pytest.fixture(scope="module")
def auto_mode(lab):
    """A cluster of the test's own created with EKS Auto Mode on, then one site.yml run of the capabilities that would
    install Karpenter, the load balancer controller and the EBS CSI driver, plus cluster_health; the cluster goes after."""
    eks = labenv.boto3_client("eks")
    base = eks.describe_cluster(name="lab")["cluster"]
    name = f"auto-{uuid.uuid4().hex[:6]}"
    eks.create_cluster(
        name=name, version=base["version"], roleArn=base["roleArn"],
        resourcesVpcConfig={"subnetIds": base["resourcesVpcConfig"]["subnetIds"]},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
        computeConfig={"enabled": True, "nodePools": ["general-purpose", "system"],
                       "nodeRoleArn": base["roleArn"].replace("lab-cluster-role", "lab-node-role")},
        storageConfig={"blockStorage": {"enabled": True}},
        kubernetesNetworkConfig={"elasticLoadBalancing": {"enabled": True}})
    extravars = {"nodeless_eks_cluster_name": name,
                 "nodeless_eks_capabilities": ["addons", "aws_load_balancer_controller", "karpenter", "cluster_health"],
                 "addons_vpc_cni": False, "addons_kube_proxy": False, "addons_pod_identity_agent": False, "addons_coredns": False}
    try:
        described = eks.describe_cluster(name=name)["cluster"]
        with untouched():
            run = runner.run(SITE, extravars=extravars)
    finally:
        eks.delete_cluster(name=name)
    return {"name": name, "described": described, "run": run}


def test_the_lab_creates_an_auto_mode_cluster(auto_mode):
    cluster = auto_mode["described"]
    assert cluster["computeConfig"]["enabled"] is True and cluster["computeConfig"]["nodePools"] == ["general-purpose", "system"]
    assert cluster["storageConfig"] == {"blockStorage": {"enabled": True}}
    assert cluster["kubernetesNetworkConfig"]["elasticLoadBalancing"] == {"enabled": True}


def test_auto_mode_skips_karpenter_the_load_balancer_controller_and_ebs_csi_with_their_reason(auto_mode):
    """Nothing is installed or written (untouched: no AWS or API server write, same state after), each skipped step
    says why in one line, and cluster_health reports the mode (read by eks_cluster_info from DescribeCluster)."""
    run = auto_mode["run"]
    assert run.rc == 0, run.failure_text()
    text = " ".join(run.stdout.split())
    for what in ("EKS runs the load balancer controller itself", "EKS runs Karpenter itself", "EKS runs the EBS CSI driver itself",
                 "compute: EKS Auto Mode", "add-ons against Kubernetes 1.36: no EKS managed add-on"):
        assert what in text, what
    assert run.total_changed() == 0, run.changed()
