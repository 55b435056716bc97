"""When istioctl has to run: install, upgrade, changed settings, nothing; the record round-trips."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils import istio_install as ii

OPERATOR = {"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator",
            "metadata": {"name": "nodeless-istio", "namespace": "istio-system"},
            "spec": {"profile": "default", "tag": "1.30.3", "revision": "", "meshConfig": {"accessLogFile": "/dev/stdout"}}}


def istiod(version):
    return {"metadata": {"name": "istiod", "labels": {ii.VERSION_LABEL: version}}}


def record(operator):
    return ii.record_configmap("nodeless-istio", "istio-system", "1.30.3", operator)


def test_names_follow_the_revision():
    assert ii.names("") == {"istiod": "istiod", "record": "nodeless-istio"}
    assert ii.names("canary") == {"istiod": "istiod-canary", "record": "nodeless-istio-canary"}


def test_no_istiod_is_an_install():
    decision = ii.decide(None, None, "1.30.3", OPERATOR)
    assert decision == {"action": "add", "reason": "install Istio 1.30.3", "from_version": ""}


def test_another_version_is_an_upgrade_even_with_the_same_record():
    decision = ii.decide(istiod("1.29.2"), record(OPERATOR), "1.30.3", OPERATOR)
    assert decision["action"] == "change"
    assert decision["reason"] == "upgrade Istio 1.29.2 to 1.30.3"
    assert decision["from_version"] == "1.29.2"


def test_istiod_without_version_label_is_upgraded():
    decision = ii.decide({"metadata": {"name": "istiod"}}, record(OPERATOR), "1.30.3", OPERATOR)
    assert (decision["action"], decision["reason"]) == ("change", "upgrade Istio of unknown version to 1.30.3")


def test_changed_settings_reinstall_and_the_same_settings_do_nothing():
    changed = dict(OPERATOR, spec=dict(OPERATOR["spec"], meshConfig={"accessLogFile": ""}))
    assert ii.decide(istiod("1.30.3"), record(OPERATOR), "1.30.3", changed)["action"] == "change"
    same = ii.decide(istiod("1.30.3"), record(OPERATOR), "1.30.3", OPERATOR)
    assert same["action"] is None and same["from_version"] == "1.30.3"


def test_missing_or_broken_record_means_install_again():
    assert ii.decide(istiod("1.30.3"), None, "1.30.3", OPERATOR)["action"] == "change"
    broken = {"data": {ii.RECORD_KEY: "spec: [unclosed"}}
    assert ii.recorded_operator(broken) is None
    assert ii.decide(istiod("1.30.3"), broken, "1.30.3", OPERATOR)["action"] == "change"


def test_record_round_trips_and_is_labelled():
    cm = record(OPERATOR)
    assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "nodeless.eks.istio"}
    assert cm["data"]["version"] == "1.30.3"
    assert ii.recorded_operator(cm) == OPERATOR
    # A record written as Ansible's to_nice_yaml (indent 4, unsorted) by earlier releases reads the same.
    legacy = {"data": {ii.RECORD_KEY: "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n"
                                      "    name: nodeless-istio\n    namespace: istio-system\nspec:\n    profile: default\n"
                                      "    tag: 1.30.3\n    revision: ''\n    meshConfig:\n        accessLogFile: /dev/stdout\n"}}
    assert ii.recorded_operator(legacy) == OPERATOR


def test_istioctl_argv_passes_kubeconfig_and_context_only_when_given():
    base = ["istioctl", "install", "--skip-confirmation", "--filename", "/t/op.yml", "--readiness-timeout", "120s"]
    assert ii.istioctl_argv("istioctl", "/t/op.yml", 120, None, None) == base
    assert ii.istioctl_argv("istioctl", "/t/op.yml", 120, "/k/config", "lab") == base + ["--kubeconfig", "/k/config", "--context", "lab"]
