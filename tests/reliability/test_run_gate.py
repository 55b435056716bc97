"""site.yml's run gate (issue #23) on the lab the other checks converged: the single run after the concurrent pair
was gated in sync (no role with a record included); an object edited out of band makes the next run fall through,
naming it, and its role takes it back; the run after that is in sync again with no write but for the kubeconfig,
whose file was opened up meanwhile: judged on its own, only its role runs and takes the mode back. Last, the full
path of every role (`nodeless_eks_full_check`) changes and writes nothing (make test's proof of the full path's
idempotence for every capability of the demo inventory; test_site.py's proves it on two clusters and Pod Identity)."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from reliability_common import RECORDED_ROLES, SITE, measured
from support import labenv
from support.snapshots import aws_write_calls, write_names

pytestmark = pytest.mark.lab


def _gate_line(result) -> str:
    return next(res["msg"] for name, _host, res in result.tasks() if name == "Say what the run's gate found")


def _roles_run(result) -> set:
    return {name.split(" : ", 1)[0].rsplit(".", 1)[-1] for name, _host, _res in result.tasks() if " : " in name}


def test_in_sync_run_skips_every_recorded_role_and_drift_still_reaches_its_role(runs):
    single = runs.converged(SITE.name)["result"]  # the single run after the pair (test_concurrency), or a converge
    line = _gate_line(single)
    if not line.startswith("run gate: in sync"):  # this lab's first converge: the next run is the gated one
        single = measured(SITE.name)["result"]
        line = _gate_line(single)
    assert line.startswith("run gate: in sync"), line
    assert not _roles_run(single) & set(RECORDED_ROLES), sorted(_roles_run(single))
    assert {"access", "cluster_health"} <= _roles_run(single)
    assert line.endswith("; kubeconfig: in sync, skipped"), line

    from kubernetes import client

    apps = client.AppsV1Api(labenv.k8s_client())
    deployment = apps.read_namespaced_deployment("overprovisioning", "overprovisioning")
    replicas = deployment.spec.replicas
    apps.patch_namespaced_deployment_scale("overprovisioning", "overprovisioning", {"spec": {"replicas": replicas + 2}})
    drifted = measured(SITE.name)
    result = drifted["result"]
    assert result.rc == 0, result.failure_text()
    line = _gate_line(result)
    assert line.startswith("run gate: not in sync") and "overprovisioning: Deployment overprovisioning/overprovisioning" in line, line
    assert set(RECORDED_ROLES) - {"addons", "kubeconfig"} <= _roles_run(result)  # every role ran and gated itself
    assert "kubeconfig" not in _roles_run(result) and line.endswith("; kubeconfig: in sync, skipped"), line  # on its own
    assert apps.read_namespaced_deployment("overprovisioning", "overprovisioning").spec.replicas == replicas
    assert not aws_write_calls(drifted["calls"]), aws_write_calls(drifted["calls"])

    kubeconfig = Path(runs.state["dir"]) / "demo" / "kubeconfigs" / "awx-viewer.kubeconfig"
    kubeconfig.chmod(0o644)
    after = measured(SITE.name)
    line = _gate_line(after["result"])
    assert line.startswith("run gate: in sync") and line.endswith(f"; kubeconfig: runs (kubeconfig: file {kubeconfig}: mode changed)"), line
    assert _roles_run(after["result"]) & set(RECORDED_ROLES) == {"kubeconfig"}, sorted(_roles_run(after["result"]))
    assert after["result"].rc == 0 and [name.split(" : ", 1)[-1] for name in after["result"].changed()] == [
        "Write the kubeconfig atomically, readable by its owner only, to " + str(kubeconfig)], after["result"].changed()
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert not aws_write_calls(after["calls"]) and not after["k8s_writes"], write_names(after["k8s_writes"])

    # The full path of every role (nodeless_eks_full_check: every read and comparison, the gates off) on what the
    # gated runs left: nothing to change or write.
    full = measured(SITE.name, extravars={"nodeless_eks_full_check": True})
    assert _gate_line(full["result"]).startswith("run gate: off, every role runs"), _gate_line(full["result"])
    assert set(RECORDED_ROLES) - {"addons"} <= _roles_run(full["result"])
    assert full["result"].rc == 0 and full["result"].total_changed() == 0, (full["result"].changed(), full["result"].failure_text())
    assert not aws_write_calls(full["calls"]) and not full["k8s_writes"], (aws_write_calls(full["calls"]), write_names(full["k8s_writes"]))
