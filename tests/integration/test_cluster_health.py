"""nodeless.eks.cluster_health against the lab's real API server: findings the test causes are reported."""
from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import pytest

from support import labenv
from support import playbook as runner
from support.snapshots import untouched

pytestmark = pytest.mark.lab

MODULE_PLAY = [{"name": "health", "hosts": "lab", "gather_facts": False,
                "tasks": [{"name": "read health", "nodeless.eks.cluster_health": {}, "register": "health"}]}]


def _dyn():
    return labenv.dynamic_client()


def _role_report(result) -> dict:
    return next(res for name, _host, res in result.tasks() if name.startswith("nodeless.eks.cluster_health : Read the API server"))


# First: the module fixture below leaves a critical finding (its webhook) in the lab until the module ends.
def test_role_in_check_mode_writes_nothing_and_reports(playbook, lab):
    with untouched():
        result = playbook("playbooks/cluster_health.yml", check=True, diff=True)
        # As a pre-upgrade gate: the lab has no critical finding, so the gate lets the play pass.
        again = playbook("playbooks/cluster_health.yml", extravars={"cluster_health_fail_on": "critical"})
    assert result.rc == 0 and again.rc == 0, result.failure_text() + again.failure_text()
    assert result.total_changed() == 0 and again.total_changed() == 0
    assert _role_report(result)["health"]["storage"]["size_bytes"] > 0

    report = _role_report(again)
    major, minor = (int(p) for p in lab["kube_version"].lstrip("v").split(".")[:2])
    assert report["health"]["target_version"] == f"{major}.{minor + 1}"  # default target: the minor after the cluster's
    assert report["health"]["request_errors"]["requests"] > 0
    # The lab's control plane uses core/v1 Endpoints (deprecated since Kubernetes 1.33): reported once, as one resource.
    assert [a["resource"] for a in report["health"]["deprecated_apis"]].count("endpoints") == 1, report["health"]["deprecated_apis"]
    assert sorted(report["summary"]) == ["critical", "info", "warning"] and report["summary"]["critical"] == 0
    # upgrade readiness of EKS managed add-ons: the shared lab holds none (test_addons reads five against 1.36)
    assert report["health"]["addon_versions"] == [] and "no EKS managed add-on" in again.stdout
    # kubernetes.core cached the API server's discovery where support.labenv.scratch put TMPDIR: the lab's own
    # folder, not /tmp under a name only the URL decides, where a later lab on the same port would read it
    # (a lab folder too deep for Mitogen's socket keeps the caller's TMPDIR)
    assert list(Path(labenv.scratch().get("TMPDIR") or tempfile.gettempdir()).glob("k8srcp-*.json"))
    # and so did the suite's own dynamic clients (the kubernetes client's default is /tmp/osrcp-<md5 of the URL>.json)
    assert labenv.discovery_cache().is_file()


def _catch_all_webhook() -> str:
    """A webhook catching every resource with failurePolicy Fail. Its objectSelector matches no object,
    so the (unreachable) service it names never actually blocks a write in the shared lab."""
    name = f"health-test-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{"name": "catch-all.health.nodeless.test", "failurePolicy": "Fail", "sideEffects": "None",
                          "admissionReviewVersions": ["v1"], "timeoutSeconds": 1,
                          "clientConfig": {"url": "https://127.0.0.1:9/validate"},
                          "objectSelector": {"matchLabels": {"health.nodeless.test/never": "matches"}},
                          "rules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "operations": ["*"]}]}]}
    _dyn().resources.get(api_version="admissionregistration.k8s.io/v1", kind="ValidatingWebhookConfiguration").create(body=body)
    return name


def _deprecated_crd_version() -> str:
    """A CRD whose v1beta1 is served but deprecated, under a group unique to this run, then one request to it."""
    group = f"h{uuid.uuid4().hex[:8]}.health.nodeless.test"
    schema = {"openAPIV3Schema": {"type": "object"}}
    body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gadgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                     "versions": [{"name": "v1beta1", "served": True, "storage": False, "deprecated": True, "schema": schema},
                                  {"name": "v1", "served": True, "storage": True, "schema": schema}]}}
    dyn = _dyn()
    dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition").create(body=body)
    deadline = time.monotonic() + 30
    while True:  # the new group is served once the CRD is Established
        try:
            dyn.request("GET", f"/apis/{group}/v1beta1/gadgets")
            return group
        except Exception:  # noqa: BLE001 - not served yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def findings(lab):
    """A catch-all fail-closed webhook and a request to a deprecated CRD version, then two runs the tests below
    read: the module's report, then playbooks/cluster_health.yml as a gate on critical findings (which fails,
    naming the webhook; the last play of the same run), and the gate again with that check ignored."""
    dyn = _dyn()
    webhook, group = _catch_all_webhook(), None
    try:
        group = _deprecated_crd_version()
        gate = {"import_playbook": str(labenv.REPO / "playbooks" / "cluster_health.yml")}
        read_then_gate = runner.run(MODULE_PLAY + [gate], extravars={"cluster_health_fail_on": "critical"})
        ignore = {"cluster_health_fail_on": "critical", "cluster_health_ignore_checks": ["admission_webhooks"]}
        ignored = runner.run(gate["import_playbook"], extravars=ignore)
        report = next((res for name, _host, res in read_then_gate.tasks() if name == "read health"), None)
        assert report is not None and not report.get("failed"), read_then_gate.failure_text()
        yield {"webhook": webhook, "group": group, "report": report, "gate": read_then_gate, "ignored": ignored}
    finally:
        dyn.resources.get(api_version="admissionregistration.k8s.io/v1", kind="ValidatingWebhookConfiguration").delete(name=webhook)
        if group:
            dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition").delete(name=f"gadgets.{group}")


def test_catch_all_fail_closed_webhook_is_reported(findings):
    hooks = [f for f in findings["report"]["findings"] if f["check"] == "admission_webhooks" and findings["webhook"] in f["subject"]]
    assert len(hooks) == 1, findings["report"]["findings"]
    assert hooks[0]["severity"] == "critical"  # no namespaceSelector: kube-system is not excluded
    assert hooks[0]["detail"]["excludes_kube_system"] is False
    assert hooks[0]["detail"]["failure_policy"] == "Fail"


def test_gate_fails_the_play_naming_the_webhook(findings):
    result = findings["gate"]
    assert result.rc != 0
    text = result.failure_text()
    assert findings["webhook"] in text and "cluster_health_fail_on" in text
    # ... and a check the operator chose to ignore does not block the gate
    assert findings["ignored"].rc == 0, findings["ignored"].failure_text()


def test_deprecated_api_request_is_reported(findings):
    res, group = findings["report"], findings["group"]
    mine = [a for a in res["health"]["deprecated_apis"] if a["group"] == group]
    assert mine == [{"group": group, "version": "v1beta1", "resource": "gadgets", "subresource": "", "removed_release": ""}]
    assert any(f["subject"] == f"{group}/v1beta1 gadgets" for f in res["findings"])


def test_storage_size_and_versions_present(findings, lab):
    res = findings["report"]
    storage = res["health"]["storage"]
    assert storage["size_bytes"] > 0 and storage["limit_bytes"] == 8 * 1024 ** 3
    assert 0 < storage["ratio"] < 0.5
    assert res["health"]["server_version"].startswith(lab['kube_version'].rsplit('.', 1)[0] + '.')
    assert sum(res["health"]["version_skew"]["kubelets"].values()) >= 3
    assert res["changed"] is False and res["changes"] == []
