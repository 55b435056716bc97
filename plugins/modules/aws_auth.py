#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: aws_auth
short_description: Merge IAM role and user mappings into the aws-auth ConfigMap without touching anyone else's
version_added: 0.1.0
description:
  - Reads C(kube-system/aws-auth) once, merges the entries of one O(owner) into C(mapRoles) and
    C(mapUsers), and writes the ConfigMap with server-side apply only when something differs.
  - The owner's ARNs are recorded in the annotation C(nodeless.eks/aws-auth-owners). Entries this
    owner made before and no longer lists are removed; entries of other owners, of EKS itself or
    made by hand keep their values and order.
  - An ARN already mapped by someone else with other groups or username is an error, and nothing
    is written. An identical entry is left alone and not taken over.
  - Check mode sends the write as a server-side dry run.
author:
  - nodeless.eks contributors (@nodeless)
options:
  owner:
    description: Who owns the listed entries, e.g. the role or capability that maps them.
    type: str
    default: nodeless.eks
  map_roles:
    description: Every IAM role mapping this owner wants, as in C(mapRoles).
    type: list
    elements: dict
    default: []
  map_users:
    description: Every IAM user mapping this owner wants, as in C(mapUsers).
    type: list
    elements: dict
    default: []
  field_manager:
    description: Server-side apply field manager.
    type: str
    default: nodeless-eks
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
"""

EXAMPLES = r"""
- name: Let Karpenter's nodes join the cluster
  nodeless.eks.aws_auth:
    owner: karpenter
    map_roles:
      - rolearn: arn:aws:iam::123456789012:role/KarpenterNodeRole-prod
        username: "system:node:{{ '{{' }}EC2PrivateDNSName{{ '}}' }}"
        groups: [system:bootstrappers, system:nodes]

- name: Give the platform team read-only access
  nodeless.eks.aws_auth:
    owner: access
    map_users:
      - userarn: arn:aws:iam::123456789012:user/alice
        username: alice
        groups: [platform-viewers]
"""

RETURN = r"""
changes:
  description: One entry per mapping added, changed or removed.
  type: list
  elements: dict
  returned: always
  sample: [{resource: "k8s:aws-auth/mapRoles/arn:aws:iam::123456789012:role/x", action: add}]
diff:
  description: The ConfigMap's mapRoles, mapUsers and owner annotation before and after.
  type: dict
  returned: always
owned:
  description: The ARNs this owner holds after the run, by map.
  type: dict
  returned: always
  sample: {mapRoles: ["arn:aws:iam::123456789012:role/x"]}
"""

import json

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

from ansible_collections.nodeless.eks.plugins.module_utils import aws_auth
from ansible_collections.nodeless.eks.plugins.module_utils.changes import change

try:
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
except ImportError:  # reported by AnsibleK8SModule's requirement check
    pass

NAMESPACE = "kube-system"
NAME = "aws-auth"


def _view(data: dict, annotation: str | None) -> dict:
    view = {key: data.get(key, "") for key, _arn_key, _kind in aws_auth.MAPS}
    view["owners"] = annotation or ""
    return view


def ensure(k8s, params: dict) -> dict:
    roles = aws_auth.validate(params["map_roles"], "map_roles", "rolearn", "role")
    users = aws_auth.validate(params["map_users"], "map_users", "userarn", "user")
    resource = k8s.resource("ConfigMap", "v1")
    try:
        current = k8s.get(resource, name=NAME, namespace=NAMESPACE).to_dict()
    except NotFoundError:
        current = None
    meta = (current or {}).get("metadata") or {}
    data = (current or {}).get("data") or {}
    annotation = (meta.get("annotations") or {}).get(aws_auth.OWNERS_ANNOTATION)
    plan = aws_auth.merge(data, annotation, params["owner"], roles, users)
    owned = aws_auth.parse_owners(plan["annotation"]).get(params["owner"], {})
    changes = [change("k8s", "aws-auth", f"{key}/{arn}", action, detail=f"owner {params['owner']}")
               for key, action, arn in plan["actions"]]
    if not plan["changed"]:
        return {"changed": False, "changes": [], "owned": owned, "diff": {"before": _view(data, annotation), "after": _view(data, annotation)}}
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "annotations": {aws_auth.OWNERS_ANNOTATION: plan["annotation"]}},
            "data": {k: v for k, v in plan["data"].items() if k in ("mapRoles", "mapUsers")}}
    if meta.get("resourceVersion"):
        body["metadata"]["resourceVersion"] = meta["resourceVersion"]  # fail rather than merge into a stale read
    params_ = {"field_manager": params["field_manager"], "force_conflicts": True}
    if k8s.dry_run:
        params_["dry_run"] = "All"
    k8s.client.server_side_apply(resource, body=body, namespace=NAMESPACE, **params_)
    if not changes:  # only the owner annotation moved
        changes = [change("k8s", "ConfigMap", NAME, "change", namespace=NAMESPACE, detail="owner annotation")]
    return {"changed": True, "changes": changes, "owned": owned,
            "diff": {"before": _view(data, annotation), "after": _view(plan["data"], plan["annotation"])}}


def main():
    argument_spec = dict(
        AUTH_ARG_SPEC,
        owner=dict(type="str", default="nodeless.eks"),
        map_roles=dict(type="list", elements="dict", default=[]),
        map_users=dict(type="list", elements="dict", default=[]),
        field_manager=dict(type="str", default="nodeless-eks"),
    )
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = ensure(get_api_client(module), module.params)
    except aws_auth.AwsAuthError as exc:
        module.fail_json(msg=str(exc))
    except DynamicApiError as exc:
        module.fail_json(msg=f"aws-auth: the API server answered {exc.status}: {_message(exc)}")
    except CoreException as exc:
        module.fail_from_exception(exc)
    module.exit_json(**result)


def _message(exc) -> str:
    try:
        return json.loads(exc.body).get("message", "")
    except (TypeError, ValueError):
        return str(exc)


if __name__ == "__main__":
    main()
