"""site.yml's run gate (issue #23) on the lab the other checks converged: the single run after the concurrent pair
was gated in sync (no role with a record included); an object edited out of band makes the next run fall through,
naming it, and its role takes it back; the run after that is in sync again with no write."""
from __future__ import annotations

import pytest

from reliability_common import SITE, measured
from support import labenv
from support.snapshots import aws_write_calls, write_names

pytestmark = pytest.mark.lab

RECORDED_ROLES = ("irsa", "discovery_tags", "addons", "vpc_cni", "cluster_autoscaler", "overprovisioning",
                  "aws_load_balancer_controller", "external_dns", "fargate", "karpenter", "istio")


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
    assert {"access", "kubeconfig", "cluster_health"} <= _roles_run(single)

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
    assert set(RECORDED_ROLES) - {"addons"} <= _roles_run(result)  # every role ran and gated itself
    assert apps.read_namespaced_deployment("overprovisioning", "overprovisioning").spec.replicas == replicas
    assert not aws_write_calls(drifted["calls"]), aws_write_calls(drifted["calls"])

    after = measured(SITE.name)
    assert _gate_line(after["result"]).startswith("run gate: in sync"), _gate_line(after["result"])
    assert after["result"].rc == 0 and after["result"].total_changed() == 0, after["result"].failure_text()
    assert not aws_write_calls(after["calls"]) and not after["k8s_writes"], write_names(after["k8s_writes"])
