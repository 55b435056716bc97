"""nodeless.eks.eks_addon against the lab's EKS add-on emulation (tests/lab/nodeless_lab/eks_addons.py).

One converge shared by every assertion: check mode first (no write), apply (vpc-cni at ``latest`` with configuration
values and a Pod Identity association, kube-proxy at ``default``), then one run that re-applies the same input, the same values in another key order
and as JSON text, and a value the schema refuses (ignored error), which together make no AWS write; then the add-ons
are removed (vpc-cni preserving its workload, kube-proxy not) and aws-node is put back as the lab made it.
"""
from __future__ import annotations

import json

import pytest

from support import labenv
from support.snapshots import run_counting_aws, untouched, write_names

pytestmark = pytest.mark.lab

VALUES = {"env": {"MINIMUM_IP_TARGET": "12", "AWS_VPC_K8S_CNI_LOGLEVEL": "INFO"}, "resources": {"requests": {"cpu": "30m"}}}
# The same data: other key order, as JSON text with other spacing.
REORDERED = json.dumps({"resources": {"requests": {"cpu": "30m"}}, "env": {"AWS_VPC_K8S_CNI_LOGLEVEL": "INFO", "MINIMUM_IP_TARGET": "12"}},
                       indent=3)
PODS = [{"service_account": "aws-node", "role_arn": "arn:aws:iam::123456789012:role/lab-node-role"}]
REFUSED = {"env": {"MINIMUM_IP_TARGET": 12}}  # an integer where the schema wants a string


def _task(name: str, addons: list, **extra) -> dict:
    return dict({"name": name, "nodeless.eks.eks_addon": {"cluster_name": "lab", "addons": addons}, "register": "out"}, **extra)


def _wanted(values=None) -> list:
    values = VALUES if values is None else values
    return [{"name": "vpc-cni", "version": "latest", "configuration_values": values, "pod_identity_associations": PODS},
            {"name": "kube-proxy", "version": "default"}]


def _play(*tasks) -> list:
    return [{"name": "eks_addon", "hosts": "lab", "gather_facts": False, "tasks": list(tasks)}]


def _result(run, name: str) -> dict:
    return next(res for task, _host, res in run.tasks() if task == name)


def _apps():
    from kubernetes import client

    return client.AppsV1Api(labenv.k8s_client())


def _remove_addons(eks) -> None:
    for name in eks.list_addons(clusterName="lab").get("addons", []):
        eks.delete_addon(clusterName="lab", addonName=name, preserve=name != "kube-proxy")


@pytest.fixture(scope="module")
def converged(lab):
    from support import playbook as runner

    playbook = runner.run
    eks = labenv.boto3_client("eks")
    _remove_addons(eks)
    apps = _apps()
    # as the API spells it (to_dict() would give the Python client's snake_case names)
    template = apps.api_client.sanitize_for_serialization(apps.read_namespaced_daemon_set("aws-node", "kube-system").spec.template)
    out = {}
    try:
        with untouched():
            out["check"] = playbook(_play(_task("addons", _wanted())), check=True, diff=True)
        offset = labenv.k8s_writes()[0]
        out["apply"], out["apply_writes"], _calls = run_counting_aws(playbook, _play(_task("addons", _wanted())), diff=True)
        out["apply_k8s_writes"] = write_names(labenv.k8s_writes(offset)[1])
        aws_node = apps.read_namespaced_daemon_set("aws-node", "kube-system").spec.template.spec.containers[0]
        out["aws_node"] = ({e.name: e.value for e in aws_node.env}, aws_node.image)
        out["kube_proxy"] = apps.read_namespaced_daemon_set("kube-proxy", "kube-system").spec.template.spec.containers[0].image
        out["again"], out["again_writes"], out["again_calls"] = run_counting_aws(playbook, _play(
            _task("same input", _wanted()),
            _task("reordered values as JSON text", _wanted(REORDERED)),
            _task("refused value", [{"name": "kube-proxy", "version": "latest"},
                                    {"name": "vpc-cni", "configuration_values": REFUSED}], ignore_errors=True)))
        out["absent"], out["absent_writes"], _calls = run_counting_aws(playbook, _play(_task("absent", [
            {"name": "vpc-cni", "state": "absent"}, {"name": "kube-proxy", "state": "absent", "preserve": False}])))
        out["left"] = eks.list_addons(clusterName="lab")["addons"]
        out["daemonsets"] = sorted(d.metadata.name for d in apps.list_namespaced_daemon_set("kube-system").items)
    finally:  # the lab is shared: the next test finds aws-node as the lab made it, and no add-on
        _remove_addons(eks)
        apps.patch_namespaced_daemon_set("aws-node", "kube-system", [{"op": "replace", "path": "/spec/template", "value": template}])
    out["restored"] = apps.api_client.sanitize_for_serialization(
        apps.read_namespaced_daemon_set("aws-node", "kube-system").spec.template) == template
    return out


def test_check_mode_first_writes_nothing_and_predicts_the_run(converged):
    check, apply = converged["check"], converged["apply"]
    assert check.rc == 0, check.failure_text()
    predicted = _result(check, "addons")
    assert predicted["changed"] is True
    assert predicted["changes"] == [{"resource": "aws:eks-addon/lab/vpc-cni", "action": "add"},
                                    {"resource": "aws:eks-addon/lab/kube-proxy", "action": "add"}]
    assert predicted["diff"]["before"] == {}
    assert predicted["diff"]["after"] == {
        "vpc-cni": {"version": "v1.21.1-eksbuild.1", "configuration_values": VALUES, "service_account_role_arn": None,
                    "pod_identity_associations": PODS},
        "kube-proxy": {"version": "v1.35.0-eksbuild.2", "configuration_values": {}, "service_account_role_arn": None}}
    assert apply.rc == 0, apply.failure_text()
    done = _result(apply, "addons")
    assert done["changes"] == predicted["changes"] and done["diff"]["after"] == predicted["diff"]["after"]


def test_apply_creates_both_addons_active_in_two_writes(converged):
    done = _result(converged["apply"], "addons")
    assert [w[1] for w in converged["apply_writes"]] == ["POST /clusters/lab/addons"] * 2
    assert [(a["name"], a["version"], a["status"]) for a in done["addons"]] == [
        ("vpc-cni", "v1.21.1-eksbuild.1", "ACTIVE"), ("kube-proxy", "v1.35.0-eksbuild.2", "ACTIVE")]
    assert done["addons"][0]["configuration_values"] == VALUES and done["addons"][0]["pod_identity_associations"] == PODS


def test_aws_node_carries_the_configuration_values(converged):
    # written by the emulated add-on manager (eks:addon-manager), which the audit log leaves out: not the playbook's writes
    assert converged["apply_k8s_writes"] == []
    env, image = converged["aws_node"]
    assert env["MINIMUM_IP_TARGET"] == "12" and env["AWS_VPC_K8S_CNI_LOGLEVEL"] == "INFO"
    assert env["ENABLE_IPv4"] == "true"  # the rest of EKS's env is kept
    assert image.endswith("/amazon-k8s-cni:v1.21.1-eksbuild.1")
    assert converged["kube_proxy"].endswith("/eks/kube-proxy:v1.35.0-eksbuild.2")


def test_rerun_and_reordered_values_change_nothing_and_write_nothing(converged):
    again = converged["again"]
    assert converged["again_writes"] == [], converged["again_writes"]
    for task in ("same input", "reordered values as JSON text"):
        res = _result(again, task)
        assert res.get("failed") is not True, res.get("msg")
        assert res["changed"] is False and res["changes"] == [], (task, res["changes"])
    assert again.total_changed() == 0


def test_a_value_the_schema_refuses_fails_before_any_write_naming_the_path(converged):
    refused = _result(converged["again"], "refused value")
    assert refused["failed"] is True
    assert refused["msg"] == "addons[1].configuration_values.env.MINIMUM_IP_TARGET: 12 is not of type 'string'"
    # kube-proxy at latest would be a change too, but no write is made once any add-on's input is refused.
    assert converged["again_writes"] == []
    assert "GET /addons/configuration-schemas" in converged["again_calls"]
    # the association is compared by reading it (service account and role), not by its ARN
    assert any(call.startswith("GET /clusters/lab/pod-identity-associations/a-") for call in converged["again_calls"])


def test_absent_preserves_aws_node_and_removes_kube_proxy(converged):
    absent = converged["absent"]
    assert absent.rc == 0, absent.failure_text()
    assert _result(absent, "absent")["changes"] == [
        {"resource": "aws:eks-addon/lab/vpc-cni", "action": "remove"}, {"resource": "aws:eks-addon/lab/kube-proxy", "action": "remove"}]
    assert [w[1] for w in converged["absent_writes"]] == ["DELETE /clusters/lab/addons/vpc-cni",
                                                          "DELETE /clusters/lab/addons/kube-proxy"]
    assert converged["left"] == []
    assert "aws-node" in converged["daemonsets"] and "kube-proxy" not in converged["daemonsets"]


def test_the_shared_lab_is_left_as_it_was(converged):
    assert converged["restored"], "aws-node's pod template differs from the one before the test"
    assert labenv.boto3_client("eks").list_addons(clusterName="lab")["addons"] == []
