"""The istio role's error filter: validation, and missing namespaces only when the known ones are given."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.filter.istio import istio_mtls_errors

EXCEPTIONS = [{"namespace": "legacy", "mode": "PERMISSIVE", "reason": "plain-text clients"}]


def test_missing_namespace_is_reported_when_known_namespaces_are_given():
    assert istio_mtls_errors("STRICT", EXCEPTIONS, [], "istio-system") == []
    errors = istio_mtls_errors("STRICT", EXCEPTIONS, [], "istio-system", known_namespaces=["apps"])
    assert errors == ["istio_mtls_exceptions: namespace legacy does not exist. Create the namespace first, "
                      "or set create: true on a namespace exception."]
    assert istio_mtls_errors("STRICT", EXCEPTIONS, [], "istio-system", known_namespaces=["legacy"]) == []


def test_an_empty_namespace_is_reported_as_malformed_only():
    errors = istio_mtls_errors("STRICT", [dict(EXCEPTIONS[0], namespace="")], [], "istio-system", known_namespaces=[])
    assert errors == ["istio_mtls_exceptions[0].namespace: '' is not a namespace name"]


def test_role_errors_cover_install_settings_istioctl_and_known_namespaces():
    import json

    from ansible_collections.nodeless.eks.plugins.filter.istio import istio_errors

    settings = {"mtls_mode": "STRICT", "mtls_exceptions": [dict(EXCEPTIONS[0], namespace="ghost", create=True)],
                "mtls_workload_exceptions": [], "root_namespace": "istio-system", "allow_disable_mesh_wide": False,
                "injection_namespaces": ["apps"], "namespaces": ["default", "istio-system"], "version": "1.30.1",
                "revision": "", "namespace": "istio-system", "profile": "minimal", "readiness_timeout": 300,
                "istioctl": "istioctl", "istioctl_result": {"rc": 0, "stdout": json.dumps({"clientVersion": {"version": "1.30.1"}})}}
    assert istio_errors(settings) == []
    assert istio_errors(dict(settings, mtls_exceptions=[dict(EXCEPTIONS[0], namespace="apps")])) == []  # enrolled counts
    bad = dict(settings, revision="1.30", readiness_timeout="x", injection_namespaces=["Apps"],
               istioctl_result={"rc": 2, "msg": "[Errno 2] No such file"})
    assert istio_errors(bad) == [
        "Istio settings: istio_version (1.30.1) must be X.Y.Z; istio_revision (1.30) must be empty or a DNS-1123 label "
        "(lower case letters, digits and '-', at most 63); istio_namespace (istio-system) a DNS-1123 label; istio_profile "
        "non-empty; istio_readiness_timeout > 0; istio_injection_namespaces names (Apps) DNS-1123 labels.",
        "istio_version: 1.30.1 was asked for, but istio_istioctl (istioctl) did not run: [Errno 2] No such file. Point "
        "istio_istioctl at istioctl 1.30.1."]
    other = {"rc": 0, "stdout": json.dumps({"clientVersion": {"version": "1.29.0"}})}
    assert istio_errors(dict(settings, istioctl_result=other))[-1].startswith(
        "istio_version: 1.30.1 was asked for, but istio_istioctl (istioctl) is version 1.29.0.")
