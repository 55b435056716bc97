#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: istio_mtls_policy
short_description: Mesh-wide Istio mutual TLS mode with declared, reasoned exceptions
version_added: 0.1.0
description:
  - Owns the mesh-wide C(PeerAuthentication) named C(default) in the mesh root namespace (no selector),
    one namespace-wide C(PeerAuthentication) C(mtls-exception) per namespace exception, and one
    C(PeerAuthentication) C(mtls-exception-<name>) per workload exception (selector and port-level modes).
  - Every object it owns carries the label C(app.kubernetes.io/managed-by=nodeless.eks.istio) and, for
    exceptions, the reason as the annotation C(nodeless.eks/mtls-exception-reason). Policies with that
    label that are no longer declared are deleted; policies made by anyone else are never touched.
  - Reads every C(PeerAuthentication) with one list call, compares locally and writes only what differs,
    by server-side apply with a field manager. Check mode sends the same requests as server-side dry runs,
    so the CRD schema checks them; when the Istio CRDs are not installed yet, check mode predicts the adds.
author:
  - nodeless.eks contributors (@nodeless)
options:
  mode:
    description: Mesh-wide mTLS mode.
    type: str
    choices: [STRICT, PERMISSIVE, DISABLE, UNSET]
    default: STRICT
  root_namespace:
    description: Mesh root namespace (C(meshConfig.rootNamespace), by default the control plane's namespace).
    type: str
    default: istio-system
  allow_disable_mesh_wide:
    description: Allow O(mode=DISABLE), which turns mutual TLS off for the whole mesh.
    type: bool
    default: false
  exceptions:
    description: Namespaces whose mode differs from the mesh-wide one.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace (must exist).
        type: str
        required: true
      mode:
        description: mTLS mode for the namespace.
        type: str
        required: true
        choices: [STRICT, PERMISSIVE, DISABLE, UNSET]
      reason:
        description: Why the exception exists; recorded on the policy.
        type: str
        required: true
  workload_exceptions:
    description: Workloads (selected by pod labels) whose mode, or some ports' mode, differs.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace of the workload.
        type: str
        required: true
      name:
        description: Short name; the policy is called C(mtls-exception-<name>).
        type: str
        required: true
      selector:
        description: Pod labels the policy selects (C(matchLabels)).
        type: dict
        required: true
      mode:
        description: Mode for the whole workload; C(UNSET) inherits the namespace's.
        type: str
        default: UNSET
        choices: [STRICT, PERMISSIVE, DISABLE, UNSET]
      ports:
        description: Port number to mode, for port-level exceptions.
        type: dict
        default: {}
      reason:
        description: Why the exception exists; recorded on the policy.
        type: str
        required: true
  field_manager:
    description: Server-side apply field manager.
    type: str
    default: nodeless.eks.istio
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: STRICT everywhere, except a legacy namespace and one metrics port
  nodeless.eks.istio_mtls_policy:
    mode: STRICT
    exceptions:
      - namespace: legacy
        mode: PERMISSIVE
        reason: "clients outside the mesh until TICKET-123 lands"
    workload_exceptions:
      - namespace: shop
        name: metrics
        selector: {app: shop}
        ports: {"9090": PERMISSIVE}
        reason: "Prometheus scrapes without a sidecar"
  register: mtls
"""

RETURN = r"""
changes:
  description: One entry per PeerAuthentication added, changed or removed (predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"resource": "k8s:PeerAuthentication/istio-system/default", "action": "change", "detail": "mtls PERMISSIVE -> STRICT"}]
policies:
  description: The PeerAuthentication manifests this module owns after the run.
  returned: always
  type: list
  elements: dict
diff:
  description: The policies that change, before and after, keyed C(namespace/name) (namespace, name, spec, reason).
  returned: always
  type: dict
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.istio import API_VERSION, KIND, MODES
from ansible_collections.nodeless.eks.plugins.module_utils.istio import desired_policies, key, plan, summary, validate

FIELDS = {"mode": "mode", "exceptions": "exceptions", "workload_exceptions": "workload_exceptions",
          "allow_disable": "allow_disable_mesh_wide"}


def argument_spec() -> dict:
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        mode=dict(type="str", choices=list(MODES), default="STRICT"),
        root_namespace=dict(type="str", default="istio-system"),
        allow_disable_mesh_wide=dict(type="bool", default=False),
        exceptions=dict(type="list", elements="dict", default=[], options=dict(
            namespace=dict(type="str", required=True),
            mode=dict(type="str", required=True, choices=list(MODES)),
            reason=dict(type="str", required=True),
        )),
        workload_exceptions=dict(type="list", elements="dict", default=[], options=dict(
            namespace=dict(type="str", required=True),
            name=dict(type="str", required=True),
            selector=dict(type="dict", required=True),
            mode=dict(type="str", default="UNSET", choices=list(MODES)),
            ports=dict(type="dict", default={}),
            reason=dict(type="str", required=True),
        )),
        field_manager=dict(type="str", default="nodeless.eks.istio"),
    )
    return spec


def _detail(step: dict) -> str | None:
    if step["action"] != "change":
        return None
    before = ((step["before"].get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET"
    after = step["object"]["spec"]["mtls"]["mode"]
    return f"mtls {before} -> {after}" if before != after else "selector, ports or reason"


def _existing_namespaces(client) -> set:
    return {ns["metadata"]["name"] for ns in client.get(client.resource("Namespace", "v1")).to_dict()["items"]}


def run(module, client) -> dict:
    """Read once, plan locally, write only the differences (dry run in check mode)."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    params = module.params
    desired = desired_policies(params["root_namespace"], params["mode"], params["exceptions"], params["workload_exceptions"])
    namespaces = _existing_namespaces(client)
    missing = [f"{FIELDS['exceptions']}[{i}].namespace: namespace {e['namespace']} does not exist"
               for i, e in enumerate(params["exceptions"]) if e["namespace"] not in namespaces]
    missing += [f"{FIELDS['workload_exceptions']}[{i}].namespace: namespace {e['namespace']} does not exist"
                for i, e in enumerate(params["workload_exceptions"]) if e["namespace"] not in namespaces]
    if missing and not module.check_mode:
        module.fail_json(msg="; ".join(missing))
    try:
        resource = client.resource(KIND, API_VERSION)
        live = client.get(resource).to_dict()["items"]
    except ResourceNotFoundError:
        if not module.check_mode:
            module.fail_json(msg="PeerAuthentication is not served by the API server: install Istio (its CRDs) first")
        resource, live = None, []  # check mode before the install: predict the adds
    steps = plan(desired, live)
    for step in steps:
        obj = step["object"]
        meta = obj["metadata"]
        if resource is None:
            continue
        if step["action"] == "remove":
            client.delete(resource, name=meta["name"], namespace=meta["namespace"])
        elif meta["namespace"] in namespaces:  # check mode: a namespace made earlier in this run cannot be dry-run into
            client.apply(resource, obj, namespace=meta["namespace"], server_side=True,
                         field_manager=params["field_manager"], force_conflicts=True)
    return {
        "changed": bool(steps),
        "changes": [change("k8s", KIND, s["object"]["metadata"]["name"], s["action"],
                           namespace=s["object"]["metadata"]["namespace"], detail=_detail(s)) for s in steps],
        "policies": desired,
        "diff": {"before": {key(s["before"]): summary(s["before"]) for s in steps if s["before"]},
                 "after": {key(s["object"]): summary(s["object"]) for s in steps if s["action"] != "remove"}},
    }


def main():
    module = AnsibleK8SModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    errors = validate(params["mode"], params["exceptions"], params["workload_exceptions"], params["root_namespace"],
                      params["allow_disable_mesh_wide"], fields=FIELDS)
    if errors:
        module.fail_json(msg="; ".join(errors))
    try:
        result = run(module, get_api_client(module))
    except Exception as exc:  # pylint: disable=broad-except
        body = getattr(exc, "body", None) or str(exc)
        module.fail_json(msg=f"PeerAuthentication apply failed: {body}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
