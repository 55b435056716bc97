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
