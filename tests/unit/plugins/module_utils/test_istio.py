"""Istio mTLS logic: validation naming fields, desired policies, the plan, and Istio's precedence."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import istio

ROOT = "istio-system"


def pa(namespace, name, mode=None, selector=None, ports=None, created="2026-01-01T00:00:00Z", managed=False):
    spec = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {p: {"mode": m} for p, m in ports.items()}
    meta = {"namespace": namespace, "name": name, "creationTimestamp": created}
    if managed:
        meta["labels"] = {istio.MANAGED_LABEL: istio.MANAGED_VALUE}
    return {"apiVersion": istio.API_VERSION, "kind": istio.KIND, "metadata": meta, "spec": spec}


def pod(namespace, name, labels=None, sidecar=False, native=False, phase="Running", host_network=False):
    spec = {"containers": [{"name": "app"}]}
    if sidecar:
        spec["initContainers" if native else "containers"] = [{"name": "istio-proxy"}] + ([] if native else [{"name": "app"}])
    if host_network:
        spec["hostNetwork"] = True
    return {"metadata": {"namespace": namespace, "name": name, "labels": labels or {}}, "spec": spec, "status": {"phase": phase}}


def ns(name, **labels):
    return {"metadata": {"name": name, "labels": labels}}


# --- validation ---------------------------------------------------------------------------------

def test_valid_inputs_have_no_errors():
    assert istio.validate("STRICT", [{"namespace": "legacy", "mode": "PERMISSIVE", "reason": "r"}],
                          [{"namespace": "shop", "name": "metrics", "selector": {"app": "shop"}, "ports": {9090: "DISABLE"},
                            "reason": "r"}], ROOT) == []


@pytest.mark.parametrize("mode", ["strict", "OFF", "", None])
def test_unknown_mode_is_named(mode):
    errors = istio.validate(mode, [], [], ROOT)
    assert len(errors) == 1 and errors[0].startswith("istio_mtls_mode:")


def test_disable_mesh_wide_needs_explicit_allow():
    assert "istio_allow_disable_mesh_wide" in istio.validate("DISABLE", [], [], ROOT)[0]
    assert istio.validate("DISABLE", [], [], ROOT, allow_disable_mesh_wide=True) == []


@pytest.mark.parametrize("exc, field", [
    ({"namespace": "Legacy", "mode": "STRICT", "reason": "r"}, "istio_mtls_exceptions[0].namespace"),
    ({"namespace": ROOT, "mode": "STRICT", "reason": "r"}, "istio_mtls_exceptions[0].namespace: istio-system is the mesh root"),
    ({"namespace": "a", "mode": "LOOSE", "reason": "r"}, "istio_mtls_exceptions[0].mode: 'LOOSE'"),
    ({"namespace": "a", "mode": "STRICT", "reason": " "}, "istio_mtls_exceptions[0].reason"),
    ("legacy", "istio_mtls_exceptions[0]: must be a mapping"),
])
def test_bad_namespace_exception_is_named(exc, field):
    errors = istio.validate("STRICT", [exc], [], ROOT)
    assert any(e.startswith(field) for e in errors), errors


def test_duplicate_exception_namespace():
    ex = {"namespace": "a", "mode": "STRICT", "reason": "r"}
    assert istio.validate("STRICT", [ex, ex], [], ROOT) == ["istio_mtls_exceptions[1].namespace: a has more than one exception"]


@pytest.mark.parametrize("exc, field", [
    ({"namespace": "a", "name": "m", "ports": {}, "reason": "r"}, "istio_mtls_workload_exceptions[0].selector"),
    ({"namespace": "a", "name": "m", "selector": {"app": "a"}, "ports": {"http": "STRICT"}, "reason": "r"},
     "istio_mtls_workload_exceptions[0].ports: 'http'"),
    ({"namespace": "a", "name": "m", "selector": {"app": "a"}, "ports": {70000: "STRICT"}, "reason": "r"},
     "istio_mtls_workload_exceptions[0].ports: 70000"),
    ({"namespace": "a", "name": "m", "selector": {"app": "a"}, "ports": {"80": "NOPE"}, "reason": "r"},
     "istio_mtls_workload_exceptions[0].ports.80"),
    ({"namespace": "a", "name": "M_1", "selector": {"app": "a"}, "reason": "r"}, "istio_mtls_workload_exceptions[0].name"),
])
def test_bad_workload_exception_is_named(exc, field):
    errors = istio.validate("STRICT", [], [exc], ROOT)
    assert any(e.startswith(field) for e in errors), errors


def test_module_field_names_replace_role_names():
    errors = istio.validate("DISABLE", [], [], ROOT, fields={"mode": "mode", "allow_disable": "allow_disable_mesh_wide"})
    assert errors[0].startswith("mode: DISABLE") and "allow_disable_mesh_wide: true" in errors[0]


def test_missing_namespaces_are_named_once_with_what_to_do():
    exc = [{"namespace": "gone", "mode": "PERMISSIVE", "reason": "r"}, {"namespace": "here", "mode": "STRICT", "reason": "r"}]
    wl = [{"namespace": "away", "name": "a"}, {"namespace": "away", "name": "b"}]
    assert istio.missing_namespaces(exc, wl, {"here"}) == [
        "istio_mtls_exceptions: namespace gone does not exist. istio_mtls_workload_exceptions: namespace away does not "
        "exist. Create the namespace first, or set create: true on a namespace exception."]
    assert istio.missing_namespaces(exc, [], {"here", "gone"}) == []


@pytest.mark.parametrize("namespace", ["", None, "Bad_Name"])
def test_a_malformed_namespace_is_not_also_reported_missing(namespace):
    exc = [{"namespace": namespace, "mode": "PERMISSIVE", "reason": "r"}, "not-a-mapping"]
    assert istio.missing_namespaces(exc, [{"namespace": namespace, "name": "a"}], set()) == []
    assert any(e.startswith("istio_mtls_exceptions[0].namespace") for e in istio.validate("STRICT", exc, [], ROOT))


# --- desired policies and plan ----------------------------------------------------------------

def test_desired_policies_shapes():
    pols = istio.desired_policies(ROOT, "STRICT", [{"namespace": "legacy", "mode": "PERMISSIVE", "reason": " old "}],
                                  [{"namespace": "shop", "name": "metrics", "selector": {"app": "shop"},
                                    "ports": {"9090": "PERMISSIVE", 80: "STRICT"}, "reason": "scrape"}])
    assert [istio.key(p) for p in pols] == ["istio-system/default", "legacy/mtls-exception", "shop/mtls-exception-metrics"]
    assert pols[0]["spec"] == {"mtls": {"mode": "STRICT"}} and "annotations" not in pols[0]["metadata"]
    assert pols[1]["metadata"]["annotations"] == {istio.REASON_ANNOTATION: "old"}
    assert pols[2]["spec"] == {"selector": {"matchLabels": {"app": "shop"}}, "mtls": {"mode": "UNSET"},
                               "portLevelMtls": {"80": {"mode": "STRICT"}, "9090": {"mode": "PERMISSIVE"}}}
    assert all(istio.is_managed(p) for p in pols)


def _live(obj, **extra):
    out = {**obj, "metadata": {**obj["metadata"], "uid": "u", "resourceVersion": "1", **extra}}
    return out


def test_plan_is_empty_when_live_matches():
    desired = istio.desired_policies(ROOT, "STRICT")
    assert istio.plan(desired, [_live(p) for p in desired]) == []


def test_plan_switching_mode_changes_exactly_the_mesh_policy():
    live = [_live(p) for p in istio.desired_policies(ROOT, "PERMISSIVE", [{"namespace": "a", "mode": "STRICT", "reason": "r"}])]
    steps = istio.plan(istio.desired_policies(ROOT, "STRICT", [{"namespace": "a", "mode": "STRICT", "reason": "r"}]), live)
    assert [(s["action"], istio.key(s["object"])) for s in steps] == [("change", "istio-system/default")]


def test_plan_adds_and_removes_only_ours():
    others = pa("team", "default", "STRICT")
    stale = pa("old", "mtls-exception", "PERMISSIVE", managed=True)
    steps = istio.plan(istio.desired_policies(ROOT, "STRICT", [{"namespace": "b", "mode": "DISABLE", "reason": "r"}]),
                       [others, stale])
    assert sorted((s["action"], istio.key(s["object"])) for s in steps) == [
        ("add", "b/mtls-exception"), ("add", "istio-system/default"), ("remove", "old/mtls-exception")]


def test_plan_takes_over_an_unlabelled_mesh_policy():
    steps = istio.plan(istio.desired_policies(ROOT, "STRICT"), [pa(ROOT, "default", "STRICT")])
    assert [s["action"] for s in steps] == ["change"]


def test_overlay_replaces_managed_keeps_others():
    others = pa("team", "default", "STRICT")
    stale = pa("old", "mtls-exception", "PERMISSIVE", managed=True)
    planned = istio.desired_policies(ROOT, "PERMISSIVE")
    assert istio.overlay([others, stale], planned) == [others] + planned


# --- effective modes --------------------------------------------------------------------------

def test_nothing_set_is_permissive():
    assert istio.namespace_mode([], ROOT, "a") == ("PERMISSIVE", None)


def test_namespace_beats_mesh_and_unset_inherits():
    pols = [pa(ROOT, "default", "STRICT"), pa("a", "x", "PERMISSIVE"), pa("b", "x", "UNSET")]
    assert istio.namespace_mode(pols, ROOT, "a") == ("PERMISSIVE", "a/x")
    assert istio.namespace_mode(pols, ROOT, "b") == ("STRICT", "istio-system/default")
    assert istio.namespace_mode(pols, ROOT, "c") == ("STRICT", "istio-system/default")


def test_oldest_policy_wins_a_tie():
    pols = [pa("a", "new", "PERMISSIVE", created="2026-02-01T00:00:00Z"), pa("a", "old", "DISABLE", created="2026-01-01T00:00:00Z")]
    assert istio.namespace_mode(pols, ROOT, "a") == ("DISABLE", "a/old")


def test_workload_policy_and_ports():
    pols = [pa(ROOT, "default", "STRICT"), pa("a", "w", "UNSET", selector={"app": "x"}, ports={"9090": "PERMISSIVE", "80": "UNSET"})]
    assert istio.pod_mode(pols, ROOT, "a", {"app": "x", "v": "1"}) == ("STRICT", "istio-system/default",
                                                                       {"80": "STRICT", "9090": "PERMISSIVE"})
    assert istio.pod_mode(pols, ROOT, "a", {"app": "y"}) == ("STRICT", "istio-system/default", {})
    pols.append(pa("a", "w2", "PERMISSIVE", selector={"app": "y"}))
    assert istio.pod_mode(pols, ROOT, "a", {"app": "y"})[:2] == ("PERMISSIVE", "a/w2")


def test_selector_policy_in_root_namespace_is_not_mesh_wide():
    pols = [pa(ROOT, "scoped", "STRICT", selector={"app": "x"})]
    assert istio.namespace_mode(pols, ROOT, "a") == ("PERMISSIVE", None)


@pytest.mark.parametrize("labels, expected", [
    ({}, (False, None)), ({"istio-injection": "enabled"}, (True, None)), ({"istio-injection": "disabled", "istio.io/rev": "c"}, (False, None)),
    ({"istio.io/rev": "canary"}, (True, "canary")),
])
def test_injection(labels, expected):
    assert istio.injection(labels) == expected


def test_root_namespace_from_mesh_config():
    assert istio.root_namespace({"rootNamespace": "mesh-root"}, ROOT) == "mesh-root"
    assert istio.root_namespace({}, ROOT) == ROOT
    assert istio.root_namespace(None, "istio-canary") == "istio-canary"


def test_report_names_pods_without_sidecar_in_strict_namespaces():
    pols = [pa(ROOT, "default", "STRICT"), pa("legacy", "mtls-exception", "PERMISSIVE"),
            pa("shop", "w", "PERMISSIVE", selector={"app": "scraper"})]
    namespaces = [ns("shop", **{"istio-injection": "enabled"}), ns("legacy"), ns("kube-system"), ns(ROOT)]
    pods = [pod("shop", "web", sidecar=True), pod("shop", "web-native", sidecar=True, native=True), pod("shop", "batch"),
            pod("shop", "done", phase="Succeeded"), pod("shop", "node-agent", host_network=True),
            pod("shop", "scraper", labels={"app": "scraper"}), pod("legacy", "old"), pod("kube-system", "coredns")]
    rep = istio.report(namespaces, pods, pols, ROOT, ignore={"kube-system", ROOT})
    assert rep["at_risk"] == ["shop/batch"]
    assert rep["mesh_mode"] == "STRICT" and rep["root_namespace"] == ROOT
    rows = {r["namespace"]: r for r in rep["namespaces"]}
    assert rows["shop"]["pods_without_sidecar"] == ["batch", "scraper"] and rows["shop"]["injection"] is True
    assert rows["legacy"] == {"namespace": "legacy", "mode": "PERMISSIVE", "source": "legacy/mtls-exception", "injection": False,
                              "revision": None, "ignored": False, "pods_without_sidecar": ["old"], "at_risk": []}
    assert rows["kube-system"]["ignored"] and rows["kube-system"]["at_risk"] == [] and rows["kube-system"]["mode"] == "STRICT"


def test_namespace_writes_only_what_differs():
    live = [ns("shop", **{"istio-injection": "enabled"}), ns("web"), ns("legacy")]
    writes = istio.namespace_writes(live, ["shop", "web", "new", "web"], {"istio-injection": "enabled"}, ["legacy", "made", "new"])
    assert writes == [{"name": "web", "labels": {"istio-injection": "enabled"}}, {"name": "new", "labels": {"istio-injection": "enabled"}},
                      {"name": "made", "labels": {}}]
    assert istio.namespace_writes(live, ["shop"], {"istio-injection": "enabled"}, ["legacy"]) == []
    assert istio.namespace_writes(live, ["shop"], {"istio.io/rev": "canary"}, []) == [{"name": "shop", "labels": {"istio.io/rev": "canary"}}]
