#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: istio_mtls_report
short_description: Effective Istio mTLS mode per namespace, injection, and the pods STRICT would cut off
version_added: 0.1.0
description:
  - Read-only. Lists namespaces, pods and C(PeerAuthentication) objects (one call each) and the mesh
    config, then applies Istio's precedence (workload over namespace over mesh-wide, C(UNSET) inherits,
    C(PERMISSIVE) when nothing is set) to report, for every namespace, the effective mode and the policy
    that decides it, whether sidecar injection is on, and the pods without an C(istio-proxy) container.
  - Pods without a sidecar whose effective mode is C(STRICT) are listed in RV(report.at_risk) (host-network
    and finished pods excepted). They are outside the mesh while the mesh demands mutual TLS.
  - With O(planned_policies) the report describes the cluster as it will be once those policies (the
    ones managed by nodeless.eks.istio) replace the managed ones, so a risk is found before tightening.
author:
  - nodeless.eks contributors (@nodeless)
options:
  istio_namespace:
    description: Namespace of the control plane, where the mesh config ConfigMap lives.
    type: str
    default: istio-system
  revision:
    description: Control plane revision; its mesh config is the ConfigMap C(istio-<revision>).
    type: str
    default: ""
  root_namespace:
    description: Mesh root namespace. By default C(rootNamespace) of the mesh config, else O(istio_namespace).
    type: str
  ignore_namespaces:
    description: Namespaces reported but never counted as at risk (system pods that stay outside the mesh).
      O(istio_namespace) is always ignored.
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
  planned_policies:
    description: PeerAuthentication manifests about to replace the managed ones; report the state after them.
    type: list
    elements: dict
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Report effective mTLS modes and the pods at risk
  nodeless.eks.istio_mtls_report:
  register: mtls

- name: Stop before tightening when pods would be cut off
  ansible.builtin.assert:
    that: mtls.report.at_risk | length == 0
    fail_msg: "{{ mtls.report.at_risk }}"
"""

RETURN = r"""
report:
  description: The mTLS report.
  returned: always
  type: dict
  contains:
    root_namespace: {description: Mesh root namespace used., type: str, returned: always, sample: istio-system}
    mesh_mode: {description: Effective mesh-wide mode., type: str, returned: always, sample: STRICT}
    at_risk: {description: "C(namespace/pod) without a sidecar whose effective mode is STRICT.", type: list,
              elements: str, returned: always, sample: ["legacy/batch-7f9c"]}
    namespaces:
      description: One entry per namespace.
      type: list
      elements: dict
      returned: always
      sample: [{"namespace": "shop", "mode": "STRICT", "source": "istio-system/default", "injection": true,
                "revision": null, "ignored": false, "pods_without_sidecar": [], "at_risk": []}]
changes:
  description: Always empty; the module only reads.
  returned: always
  type: list
  elements: dict
diff:
  description: Empty before / after; the module only reads.
  returned: always
  type: dict
"""

from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.nodeless.eks.plugins.module_utils.istio import API_VERSION, KIND
from ansible_collections.nodeless.eks.plugins.module_utils.istio import overlay, report, root_namespace
from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_label


def argument_spec() -> dict:
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        istio_namespace=dict(type="str", default="istio-system"),
        revision=dict(type="str", default=""),
        root_namespace=dict(type="str"),
        ignore_namespaces=dict(type="list", elements="str", default=["kube-system", "kube-public", "kube-node-lease"]),
        planned_policies=dict(type="list", elements="dict"),
    )
    return spec


def _items(client, kind: str, api_version: str) -> list[dict]:
    return client.get(client.resource(kind, api_version)).to_dict()["items"]


def _mesh_config(client, namespace: str, revision: str) -> dict:
    from kubernetes.dynamic.exceptions import NotFoundError

    name = f"istio-{revision}" if revision else "istio"
    try:
        cm = client.get(client.resource("ConfigMap", "v1"), name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return {}
    return yaml_load((cm.get("data") or {}).get("mesh") or "") or {}


def gather(module, client) -> dict:
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    params = module.params
    try:
        policies = _items(client, KIND, API_VERSION)
    except ResourceNotFoundError:  # Istio not installed (yet): no policy, PERMISSIVE everywhere
        policies = []
    if params["planned_policies"] is not None:
        policies = overlay(policies, params["planned_policies"])
    mesh = _mesh_config(client, params["istio_namespace"], params["revision"]) if not params["root_namespace"] else {}
    root = params["root_namespace"] or root_namespace(mesh, params["istio_namespace"])
    ignore = set(params["ignore_namespaces"]) | {params["istio_namespace"]}
    return report(_items(client, "Namespace", "v1"), _items(client, "Pod", "v1"), policies, root, ignore)


def bad_namespaces(params: dict) -> list[str]:
    """Messages for namespace options that are not namespace names, before the cluster is read."""
    named = [("istio_namespace", params["istio_namespace"])]
    if params["root_namespace"]:
        named.append(("root_namespace", params["root_namespace"]))
    named += [(f"ignore_namespaces[{i}]", ns) for i, ns in enumerate(params["ignore_namespaces"])]
    return [f"{field}: {value!r} is not a namespace name (a DNS-1123 label)" for field, value in named if not is_dns1123_label(value)]


def main():
    module = AnsibleK8SModule(argument_spec=argument_spec(), supports_check_mode=True)
    bad = bad_namespaces(module.params)
    if bad:
        module.fail_json(msg="; ".join(bad))
    try:
        result = gather(module, get_api_client(module))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=f"reading the cluster for the mTLS report failed: {getattr(exc, 'body', None) or exc}")
    module.exit_json(changed=False, report=result, changes=[], diff={"before": {}, "after": {}})


if __name__ == "__main__":
    main()
