"""Istio role against the lab: check mode first, then real, then a re-run that writes nothing (through the gate, #23).

The lab's istiod is a kwok pod that never serves, so its webhooks cannot answer: the validating
webhook fails open (PeerAuthentications are checked by the real CRD schema only) and the injection
webhook (failurePolicy Fail) refuses pods in enrolled namespaces. Test pods therefore live in a
namespace that is not enrolled.
"""
from __future__ import annotations

import json

import pytest

from support import labenv
from support.snapshots import untouched

pytestmark = pytest.mark.lab

PLAIN_NS = "istio-test-plain"
RECORD_WRITE = "patch configmaps/nodeless-eks/nodeless-eks-istio"
BASE = {"istio_injection_namespaces": ["istio-test-app"]}
EXCEPTION = {"namespace": "istio-test-legacy", "mode": "PERMISSIVE", "reason": "old clients", "create": True}


def _play(**role_vars) -> list:
    return [{"name": "istio", "hosts": "lab", "gather_facts": False,
             "roles": [{"role": "nodeless.eks.istio", "vars": {**BASE, **role_vars}}]}]


def _policy_changes(result) -> list:
    return [c for name, _unused, res in result.tasks() if name.startswith("nodeless.eks.istio : Apply mesh-wide")
            for c in res.get("changes", [])]


def _writes(offset) -> list[str]:
    _unused, events = labenv.k8s_writes(offset)
    return [f"{e['verb']} {e['objectRef'].get('resource')}/{e['objectRef'].get('namespace', '')}/{e['objectRef'].get('name')}"
            for e in events]


def _role_changed(result) -> list[str]:
    """The tasks that changed, without the convergence record's write (bookkeeping, #23)."""
    return [name for name in result.changed() if "Record what the role converged to" not in name]


def _gate(result) -> str:
    """The gate's one line (#23)."""
    return next(res["msg"] for name, _unused, res in result.tasks() if name.startswith("nodeless.eks.istio : Compare the control plane"))


def _record() -> dict:
    from kubernetes import client

    return json.loads(client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("nodeless-eks-istio", "nodeless-eks").data["record.json"])


def _report(result) -> dict:
    """The role's istio_mtls_report fact (each namespace's effective mode and the pods at risk) from a run."""
    return next(res for name, _unused, res in result.tasks()
                if name.endswith("Share the report as istio_mtls_report"))["ansible_facts"]["istio_mtls_report"]


def _run_counted(playbook, **kwargs):
    offset, _unused = labenv.k8s_writes()
    result = playbook(_play(**kwargs.pop("role_vars")), **kwargs)
    assert result.rc == 0, result.failure_text() or result.stdout[-3000:]
    return result, _writes(offset)


def _scale_istiod(delta: int) -> dict:
    """Change istiod's replicas by DELTA through its scale subresource, as an autoscaler does: {was, generation}."""
    from kubernetes import client

    apps = client.AppsV1Api(labenv.k8s_client())
    before = apps.read_namespaced_deployment("istiod", "istio-system")
    apps.patch_namespaced_deployment_scale("istiod", "istio-system", {"spec": {"replicas": before.spec.replicas + delta}})
    after = apps.read_namespaced_deployment("istiod", "istio-system")
    return {"was": before.metadata.generation, "generation": after.metadata.generation}


def _plain_pods() -> None:
    """A namespace outside the mesh's injection with a pod without a sidecar and one with a (hand-written) sidecar."""
    from kubernetes import client

    core = client.CoreV1Api(labenv.k8s_client())
    if not any(n.metadata.name == PLAIN_NS for n in core.list_namespace().items):
        core.create_namespace({"metadata": {"name": PLAIN_NS}})
    if not any(p.metadata.name == "no-sidecar" for p in core.list_namespaced_pod(PLAIN_NS).items):
        core.create_namespaced_pod(PLAIN_NS, {"metadata": {"name": "no-sidecar"},
                                              "spec": {"containers": [{"name": "app", "image": "busybox"}]}})
    # A sidecar pod (hand-written istio-proxy, as injection would add) is not at risk.
    if not any(p.metadata.name == "with-sidecar" for p in core.list_namespaced_pod(PLAIN_NS).items):
        core.create_namespaced_pod(PLAIN_NS, {"metadata": {"name": "with-sidecar"}, "spec": {"containers": [
            {"name": "app", "image": "busybox"}, {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.30.3"}]}})


@pytest.fixture(scope="module")
def installed(lab):
    """The install (mesh STRICT, the full path: the lab may hold this file's record already), with the plain
    namespace's pods already there, so that its report names them; then the drift of #23: the mesh-wide
    PeerAuthentication deleted out of band, and one run (the gate must fall through and the role put it back)."""

    from support import playbook as runner

    _plain_pods()
    result = runner.run(_play(istio_mtls_mode="STRICT", nodeless_eks_full_check=True))
    assert result.rc == 0, result.failure_text() or result.stdout[-3000:]
    out = {"install": result, "record": _record()}
    pas = labenv.dynamic_client().resources.get(api_version="security.istio.io/v1", kind="PeerAuthentication")
    pas.delete(namespace="istio-system", name="default")
    out["drift"], out["drift_writes"] = _run_counted(runner.run, role_vars={"istio_mtls_mode": "STRICT"})
    out["drift_record"] = _record()
    out["repaired"] = next(iter(pas.get(namespace="istio-system", field_selector="metadata.name=default").to_dict()["items"]), None)
    return out


def test_istiod_is_available_at_the_pinned_version_and_every_istio_crd_is_established(installed):
    from kubernetes import client

    api = labenv.k8s_client()
    istiod = client.AppsV1Api(api).read_namespaced_deployment("istiod", "istio-system")
    assert istiod.metadata.labels["operator.istio.io/version"] == "1.30.3"
    assert istiod.spec.template.spec.containers[0].image.endswith(":1.30.3"), istiod.spec.template.spec.containers[0].image
    assert [c.status for c in istiod.status.conditions if c.type == "Available"] == ["True"]
    crds = [c for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items if c.spec.group.endswith("istio.io")]
    assert len(crds) >= 14, [c.metadata.name for c in crds]
    not_established = [c.metadata.name for c in crds if [s.status for s in c.status.conditions if s.type == "Established"] != ["True"]]
    assert not_established == []


def test_injection_namespace_is_labelled_for_the_sidecar(installed):
    from kubernetes import client

    namespace = client.CoreV1Api(labenv.k8s_client()).read_namespace("istio-test-app")
    assert namespace.metadata.labels["istio-injection"] == "enabled"


def test_permissive_strict_switch_changes_exactly_one_object_and_fail_on_risk_stops_before_tightening(installed, playbook):
    with untouched():
        check = playbook(_play(istio_mtls_mode="PERMISSIVE"), check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    assert _policy_changes(check) == [{"resource": "k8s:PeerAuthentication/istio-system/default", "action": "change",
                                       "detail": "mtls STRICT -> PERMISSIVE"}]

    result, writes = _run_counted(playbook, role_vars={"istio_mtls_mode": "PERMISSIVE"})
    assert len(_role_changed(result)) == 1 and writes == ["patch peerauthentications/istio-system/default", RECORD_WRITE]

    again, writes = _run_counted(playbook, role_vars={"istio_mtls_mode": "PERMISSIVE"})
    assert again.total_changed() == 0 and writes == []
    assert _gate(again).startswith("istio: in sync (record "), _gate(again)

    # Mesh PERMISSIVE now, STRICT asked with istio_fail_on_risk while a pod has no sidecar: stop before the policy
    # is tightened.
    with untouched():
        failed = playbook(_play(istio_mtls_mode="STRICT", istio_fail_on_risk=True))
    assert failed.rc != 0 and f"{PLAIN_NS}/no-sidecar" in failed.failure_text() and "istio_fail_on_risk" in failed.failure_text()

    back, writes = _run_counted(playbook, role_vars={"istio_mtls_mode": "STRICT"})
    assert _policy_changes(back)[0]["detail"] == "mtls PERMISSIVE -> STRICT"
    assert len(_role_changed(back)) == 1 and writes == ["patch peerauthentications/istio-system/default", RECORD_WRITE]


def test_exceptions_appear_and_disappear_as_declared(installed, playbook):
    workload = {"namespace": "istio-test-app", "name": "metrics", "selector": {"app": "web"}, "ports": {"15090": "PERMISSIVE"},
                "reason": "scraped without a sidecar"}
    declared = {"istio_mtls_exceptions": [EXCEPTION], "istio_mtls_workload_exceptions": [workload]}
    result, writes = _run_counted(playbook, role_vars=declared)
    assert sorted((c["action"], c["resource"]) for c in _policy_changes(result)) == [
        ("add", "k8s:PeerAuthentication/istio-test-app/mtls-exception-metrics"),
        ("add", "k8s:PeerAuthentication/istio-test-legacy/mtls-exception")]
    pas = labenv.dynamic_client().resources.get(api_version="security.istio.io/v1", kind="PeerAuthentication")
    legacy = pas.get(namespace="istio-test-legacy", name="mtls-exception").to_dict()
    assert legacy["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    assert legacy["metadata"]["annotations"]["nodeless.eks/mtls-exception-reason"] == "old clients"
    assert pas.get(namespace="istio-test-app", name="mtls-exception-metrics").to_dict()["spec"]["portLevelMtls"] == {
        "15090": {"mode": "PERMISSIVE"}}

    # istiod scaled as its HorizontalPodAutoscaler would (the lab runs no HPA controller): its generation moves, the
    # record ignores its replicas (track spec_except_replicas), so the gate still says in sync.
    scaled = _scale_istiod(+1)
    try:
        again, writes = _run_counted(playbook, role_vars=declared)
    finally:
        _scale_istiod(-1)
    assert scaled["generation"] > scaled["was"], scaled
    assert again.total_changed() == 0 and writes == []
    assert _gate(again).startswith("istio: in sync (record "), _gate(again)
    modes = sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}/{p['spec']['mtls']['mode']}"
                   for p in pas.get().to_dict()["items"]
                   if p["metadata"]["namespace"] == "istio-system" or p["metadata"]["namespace"].startswith("istio-test-"))
    assert modes == ["istio-system/default/STRICT", "istio-test-app/mtls-exception-metrics/UNSET",
                     "istio-test-legacy/mtls-exception/PERMISSIVE"]
    # The report of the run that applied them (as it is after that run): each namespace's mode as the exceptions make it.
    report = _report(result)
    rows = {r["namespace"]: r["mode"] for r in report["namespaces"]}
    assert report["mesh_mode"] == "STRICT"
    assert (rows["istio-test-legacy"], rows["istio-test-app"]) == ("PERMISSIVE", "STRICT")
    assert not [p for p in report["at_risk"] if p.startswith(("istio-test-app/", "istio-test-legacy/"))], report["at_risk"]

    # A team's own policy (not labelled as ours) in the same namespace: removal must leave it alone.
    foreign = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
               "metadata": {"name": "team-owned", "namespace": "istio-test-app"},
               "spec": {"selector": {"matchLabels": {"app": "batch"}}, "mtls": {"mode": "PERMISSIVE"}}}
    pas.create(body=foreign, namespace="istio-test-app")
    try:
        removed, writes = _run_counted(playbook, role_vars={})
        assert sorted(writes) == ["delete peerauthentications/istio-test-app/mtls-exception-metrics",
                                  "delete peerauthentications/istio-test-legacy/mtls-exception", RECORD_WRITE]
        assert len(_role_changed(removed)) == 1
        assert pas.get(namespace="istio-test-app", name="team-owned").to_dict()["spec"]["mtls"] == {"mode": "PERMISSIVE"}
    finally:
        pas.delete(namespace="istio-test-app", name="team-owned")


def test_peer_authentication_schema_is_enforced_by_the_api_server(installed):
    """The Istio CRDs istioctl installed validate PeerAuthentications: a bad mode is refused with its field."""
    from kubernetes.dynamic.exceptions import UnprocessibleEntityError

    pas = labenv.dynamic_client().resources.get(api_version="security.istio.io/v1", kind="PeerAuthentication")
    bad = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
           "metadata": {"name": "bad-mode", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICTEST"}}}
    with pytest.raises(UnprocessibleEntityError) as refused:
        pas.create(body=bad, namespace="istio-system", dry_run="All")
    assert "spec.mtls.mode" in str(refused.value.body) and "STRICTEST" in str(refused.value.body)


def test_report_names_pod_without_sidecar(installed):
    """The install's own report: the plain pod in the STRICT mesh is at risk, the sidecar pod is not."""
    facts = _report(installed["install"])
    assert f"{PLAIN_NS}/no-sidecar" in facts["at_risk"] and f"{PLAIN_NS}/with-sidecar" not in facts["at_risk"]
    row = [r for r in facts["namespaces"] if r["namespace"] == PLAIN_NS][0]
    assert row["mode"] == "STRICT" and row["source"] == "istio-system/default" and row["pods_without_sidecar"] == ["no-sidecar"]


def test_deleted_peer_authentication_is_found_by_the_gate_and_put_back(installed):
    """#23 drift: the mesh-wide policy deleted by hand -> the gate falls through, the role re-creates it (STRICT), the
    record is rewritten with the new object."""
    drift = installed["drift"]
    assert _gate(drift) == "istio: not in sync, full path (PeerAuthentication istio-system/default: gone)"
    assert installed["repaired"] and installed["repaired"]["spec"] == {"mtls": {"mode": "STRICT"}}
    assert _role_changed(drift) == ["nodeless.eks.istio : Apply mesh-wide mTLS and the declared exceptions, remove undeclared ones; mode STRICT"]
    assert installed["drift_writes"] == ["patch peerauthentications/istio-system/default", RECORD_WRITE]
    before, after = ([e for e in r["kubernetes"] if e["kind"] == "PeerAuthentication"] for r in (installed["record"], installed["drift_record"]))
    assert [e["uid"] for e in after] == [installed["repaired"]["metadata"]["uid"]] != [e["uid"] for e in before]
    kinds = {e["kind"] for e in installed["drift_record"]["kubernetes"]}
    assert {"CustomResourceDefinition", "Deployment", "MutatingWebhookConfiguration", "Namespace", "ConfigMap"} <= kinds, kinds
