"""istio_mtls_report refuses namespace options that are not namespace names before it reads the cluster."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.modules.istio_mtls_report import bad_namespaces

DEFAULTS = {"istio_namespace": "istio-system", "root_namespace": None, "ignore_namespaces": ["kube-system"]}


def test_namespace_names_pass():
    assert bad_namespaces(dict(DEFAULTS, root_namespace="istio-config")) == []


def test_each_bad_name_is_named_by_its_option_and_index():
    params = dict(DEFAULTS, istio_namespace="Istio", root_namespace="x" * 64, ignore_namespaces=["ok", "team_a", ""])
    assert bad_namespaces(params) == [
        "istio_namespace: 'Istio' is not a namespace name (a DNS-1123 label)",
        f"root_namespace: {'x' * 64!r} is not a namespace name (a DNS-1123 label)",
        "ignore_namespaces[1]: 'team_a' is not a namespace name (a DNS-1123 label)",
        "ignore_namespaces[2]: '' is not a namespace name (a DNS-1123 label)",
    ]
