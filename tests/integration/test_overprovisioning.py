"""Overprovisioning: PriorityClasses as declared, pause pods scheduled, classless pods at priority 0."""
from __future__ import annotations

import time

import pytest

from support import labenv
from support.snapshots import untouched

ROLE = [{"name": "overprovisioning", "hosts": "lab", "gather_facts": False,
         "roles": [{"role": "nodeless.eks.overprovisioning"}]}]


def _applied(result) -> list[str]:
    """The apply tasks that changed something (predicted in check mode), by the start of their name."""
    return sorted(" ".join(t.split(" : ", 1)[1].split()[:3]) for t in result.changed() if " : Apply " in t)


def _api():
    from kubernetes import client

    api = labenv.k8s_client()
    return client.CoreV1Api(api), client.SchedulingV1Api(api), client.AppsV1Api(api)


def _clean():
    """Remove what the role makes, so the check run starts from a cluster without it."""
    core, sched, _unused = _api()
    for name in ("default", "overprovisioning"):
        if any(pc.metadata.name == name for pc in sched.list_priority_class().items):
            sched.delete_priority_class(name)
    if any(ns.metadata.name == "overprovisioning" for ns in core.list_namespace().items):
        core.delete_namespace("overprovisioning")
        for _unused in range(120):  # the namespace controller empties it first
            if not any(ns.metadata.name == "overprovisioning" for ns in core.list_namespace().items):
                break
            time.sleep(0.5)


@pytest.fixture(scope="module")
def lifecycle(lab):
    """The file's one sequence, read by every test: another globalDefault class in the cluster refused before any
    write, then accepted once named as the default class; then, from a cluster without the role's objects, check
    mode, the real run and a re-run (the lab is left converged)."""
    from kubernetes import client

    from support import playbook as runner

    _clean()
    _unused, sched, _unused = _api()
    sched.create_priority_class(client.V1PriorityClass(metadata=client.V1ObjectMeta(name="team-default"), value=10,
                                                       global_default=True))
    try:
        with untouched():
            refused = runner.run(ROLE)
        # Naming the existing default keeps one globalDefault; the pause priority must then be below its value.
        named = runner.run(ROLE, extravars={"overprovisioning_default_class_name": "team-default",
                                            "overprovisioning_default_class_value": 10})
    finally:
        sched.delete_priority_class("team-default")
        _clean()
    with untouched():
        check = runner.run(ROLE, check=True, diff=True)
    run = runner.run(ROLE)
    with untouched():  # the full path (the gated re-run is tests/integration/test_convergence.py's)
        again = runner.run(ROLE, extravars={"nodeless_eks_full_check": True})
    return {"refused": refused, "named": named, "check": check, "run": run, "again": again}


@pytest.mark.lab
def test_another_global_default_in_the_cluster_fails_before_any_write(lifecycle):
    refused = lifecycle["refused"]
    assert refused.rc != 0
    text = refused.failure_text()
    assert "overprovisioning_default_class_global_default" in text and "team-default" in text
    assert lifecycle["named"].rc == 0, lifecycle["named"].failure_text()


@pytest.mark.lab
def test_check_mode_first_then_classes_and_pause_pods_then_nothing_changes(lifecycle):
    check, run, again = lifecycle["check"], lifecycle["run"], lifecycle["again"]
    assert check.rc == 0, check.failure_text()
    assert run.rc == 0, run.failure_text()
    assert _applied(run) == _applied(check) == ["Apply the PriorityClasses", "Apply the pause"], check.changed()

    core, sched, apps = _api()
    classes = {pc.metadata.name: pc for pc in sched.list_priority_class().items}
    assert (classes["default"].value, classes["default"].global_default) == (0, True)
    assert (classes["overprovisioning"].value, bool(classes["overprovisioning"].global_default)) == (-1, False)
    assert classes["overprovisioning"].preemption_policy == "Never"
    assert [n for n, pc in classes.items() if pc.global_default] == ["default"]
    deployment = apps.read_namespaced_deployment("overprovisioning", "overprovisioning")
    assert deployment.status.available_replicas == 1
    pods = core.list_namespaced_pod("overprovisioning").items
    assert [(p.spec.priority, p.status.phase, bool(p.spec.node_name)) for p in pods] == [(-1, "Running", True)]
    assert pods[0].spec.containers[0].resources.requests == {"cpu": "500m", "memory": "512Mi"}

    assert again.rc == 0 and again.total_changed() == 0, again.changed()


@pytest.mark.lab
def test_pod_without_a_class_gets_priority_zero(lifecycle):
    assert lifecycle["run"].rc == 0, lifecycle["run"].failure_text()
    core, _unused, _unused = _api()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "no-class-"},
           "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
    created = core.create_namespaced_pod("default", pod)
    try:
        assert created.spec.priority == 0
        assert created.spec.priority_class_name == "default"
    finally:
        core.delete_namespaced_pod(created.metadata.name, "default", grace_period_seconds=0)
