"""VPC CNI capacity settings on aws-node, and max pods from the lab's describe-instance-types data."""
from __future__ import annotations

import pytest

from support import labenv
from support.snapshots import untouched

ROLE = [{"name": "vpc_cni", "hosts": "lab", "gather_facts": False, "roles": [{"role": "nodeless.eks.vpc_cni"}]}]

# amazon-eks-ami's published values: eni-max-pods.txt (uncapped), max-pods-calculator.sh without / with prefix delegation.
PUBLISHED = {
    "m5.large": (29, 29, 110), "m5.xlarge": (58, 58, 110), "m5.4xlarge": (234, 110, 110), "m5.24xlarge": (737, 250, 250),
    "t3.micro": (4, 4, 34), "t3.small": (11, 11, 110), "t3.medium": (17, 17, 110), "t3.large": (35, 35, 110),
    "c5.large": (29, 29, 110), "c5.18xlarge": (737, 250, 250), "r5.large": (29, 29, 110), "m4.large": (20, 20, 20),
}


def _container(name="aws-node"):
    from kubernetes import client

    ds = client.AppsV1Api(labenv.k8s_client()).read_namespaced_daemon_set(name, "kube-system")
    return next(c for c in ds.spec.template.spec.containers if c.name == name)


def _env(name="aws-node"):
    return {e.name: e.value for e in _container(name).env}


def _set_env(**values):
    """Put aws-node back in EKS's shape, as a different field manager (the way the add-on would)."""
    from kubernetes import client

    patch = {"spec": {"template": {"spec": {"containers": [{"name": "aws-node", "env": [
        {"name": k, "value": v} for k, v in values.items()]}]}}}}
    client.AppsV1Api(labenv.k8s_client()).patch_namespaced_daemon_set("aws-node", "kube-system", patch, field_manager="eks-lab")


def _max_pods_play(types: list) -> dict:
    return {"name": "max pods", "hosts": "lab", "gather_facts": False, "tasks": [{
        "name": "compute", "ansible.builtin.set_fact": {
            "raw": f"{{{{ query('nodeless.eks.max_pods', *{types}, vcpu_ceiling=false) }}}}",
            "capped": f"{{{{ query('nodeless.eks.max_pods', *{types}) }}}}",
            "prefix": f"{{{{ query('nodeless.eks.max_pods', *{types}, prefix_delegation=true) }}}}"}}]}


@pytest.fixture(scope="module")
def lifecycle(lab):
    """The file's one sequence, read by every test: the role with both targets and an extra setting; aws-node put back
    in EKS's shape for prefix delegation; check mode; the real run with the defaults (prefix delegation on, the
    targets and the extra setting released); ENABLE_PREFIX_DELEGATION edited by hand and a run (#23 drift); a re-run through
    the gate that also computes max pods for the published types."""
    from support import playbook as runner

    image = _container().image
    targets = runner.run(ROLE, extravars={"vpc_cni_warm_ip_target": 5, "vpc_cni_minimum_ip_target": 10,
                                          "vpc_cni_extra_env": {"AWS_VPC_K8S_CNI_LOGLEVEL": "INFO"}})
    targets_env = _env()
    try:
        _set_env(ENABLE_PREFIX_DELEGATION="false", WARM_PREFIX_TARGET="1")
        with untouched():
            check = runner.run(ROLE, check=True, diff=True)
        run = runner.run(ROLE)
        run_env, run_image = _env(), _container().image
        # #23 drift: the env the role set edited out of band (another field manager); the gate must fall through.
        _set_env(ENABLE_PREFIX_DELEGATION="false")
        drift = runner.run(ROLE)
        drift_env = _env()
        with untouched():
            labenv.aws_calls(reset=True)
            again = runner.run(ROLE + [_max_pods_play(sorted(PUBLISHED))])
            calls = [c for c in labenv.aws_calls() if c[1] == "DescribeInstanceTypes"]
    finally:
        _set_env(AWS_VPC_K8S_CNI_LOGLEVEL="DEBUG")
    return {"image": image, "targets": targets, "targets_env": targets_env, "check": check, "run": run,
            "run_env": run_env, "run_image": run_image, "drift": drift, "drift_env": drift_env, "again": again,
            "describe_instance_types": calls}


def _gate(result) -> str:
    """The gate's one line (#23)."""
    return next(res["msg"] for name, _unused, res in result.tasks() if name.startswith("nodeless.eks.vpc_cni : Compare the CNI DaemonSet"))


@pytest.mark.lab
def test_max_pods_matches_published_values_from_moto_data(lifecycle):
    types = sorted(PUBLISHED)
    result = lifecycle["again"]
    assert result.rc == 0, result.failure_text()
    facts = next(res for name, _unused, res in result.tasks() if name == "compute")["ansible_facts"]
    got = {t: (facts["raw"][i], facts["capped"][i], facts["prefix"][i]) for i, t in enumerate(types)}
    assert got == PUBLISHED
    # The role's own computation for the node groups' types is one call, then one batched call per query.
    calls = lifecycle["describe_instance_types"]
    assert len(calls) == 1 + 3, f"one batched call per query, not one per type: {calls}"


@pytest.mark.lab
def test_check_mode_predicts_then_run_sets_prefix_delegation_then_nothing_changes(lifecycle):
    check, run, again, image = lifecycle["check"], lifecycle["run"], lifecycle["again"], lifecycle["image"]
    assert check.rc == 0, check.failure_text()
    assert any("Set the VPC CNI capacity settings" in t for t in check.changed())

    assert run.rc == 0, run.failure_text()
    assert run.changed() == check.changed(), "check mode predicted a different set of changes"
    env = lifecycle["run_env"]
    assert env["ENABLE_PREFIX_DELEGATION"] == "true" and env["WARM_PREFIX_TARGET"] == "1"
    assert env["WARM_ENI_TARGET"] == "1" and env["AWS_VPC_ENI_MTU"] == "9001", "settings the role does not own were touched"
    assert env["AWS_VPC_K8S_CNI_EXTERNALSNAT"] == "false", "settings the role does not own were touched"
    assert lifecycle["run_image"] == image and "/amazon-k8s-cni:v1." in image, "the role changed the CNI's image"
    facts = next(res for name, _unused, res in run.tasks() if "Share them as vpc_cni_max_pods" in name)["ansible_facts"]
    assert facts["vpc_cni_max_pods"] == {"m5.large": 110, "m5.xlarge": 110}

    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert _gate(again).startswith("vpc_cni: in sync (record "), _gate(again)


@pytest.mark.lab
def test_aws_node_env_edited_by_hand_is_found_by_the_gate_and_set_back(lifecycle):
    """#23 drift: the DaemonSet's generation moved -> full path, the setting taken back, the record rewritten."""
    drift = lifecycle["drift"]
    assert drift.rc == 0, drift.failure_text()
    assert _gate(drift) == "vpc_cni: not in sync, full path (DaemonSet kube-system/aws-node: generation changed)"
    assert lifecycle["drift_env"]["ENABLE_PREFIX_DELEGATION"] == "true"
    assert [n.split(" : ", 1)[1][:40] for n in drift.changed()] == [  # the dry-run plan, the apply, the record
        "Compare the VPC CNI capacity settings wi", "Set the VPC CNI capacity settings on Dae",
        "Record what the role converged to (writt"], drift.changed()


@pytest.mark.lab
def test_null_targets_are_left_to_their_owner_and_extra_env_is_applied(lifecycle):
    result = lifecycle["targets"]
    assert result.rc == 0, result.failure_text()
    env = lifecycle["targets_env"]
    assert (env["WARM_IP_TARGET"], env["MINIMUM_IP_TARGET"], env["AWS_VPC_K8S_CNI_LOGLEVEL"]) == ("5", "10", "INFO")
    # Back to the defaults (the lifecycle's real run): the role was the only owner of the two targets, so server-side
    # apply removes them; of the taken-over LOGLEVEL only the value was the role's, so the entry stays without a
    # value (docs/vpc_cni.md).
    assert lifecycle["run"].rc == 0, lifecycle["run"].failure_text()
    env = lifecycle["run_env"]
    assert not {"WARM_IP_TARGET", "MINIMUM_IP_TARGET"} & set(env)
    assert env["AWS_VPC_K8S_CNI_LOGLEVEL"] is None
    assert env["ENABLE_PREFIX_DELEGATION"] == "true" and env["WARM_ENI_TARGET"] == "1"
