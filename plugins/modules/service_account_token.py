#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_account_token
short_description: Get a token for a Kubernetes ServiceAccount, renewing it only when it is about to expire
version_added: 0.1.0
description:
  - With O(type=bound), asks the TokenRequest API for a time-bound token (audiences, expiration,
    optionally bound to a Secret or Pod so that deleting that object revokes the token).
  - With O(type=legacy_secret), makes a C(kubernetes.io/service-account-token) Secret and waits
    until the token controller fills it. Such tokens never expire; delete the Secret to revoke.
  - When O(current_token) is given, was issued for the ServiceAccount as it exists now (its
    C(kubernetes.io.serviceaccount.uid) claim equals the account's UID, one read) and is still valid for
    longer than O(renew_before) seconds (its C(exp) claim), it is returned unchanged and the task reports
    no change. A token of a deleted and recreated account, or of another cluster, is replaced.
  - The token is returned in RV(token). Always run this module with C(no_log) set on the task.
  - In check mode no token is requested; the result predicts whether one would be.
author:
  - nodeless.eks contributors (@nodeless)
options:
  namespace:
    description: Namespace of the ServiceAccount.
    type: str
    required: true
  service_account:
    description: Name of the ServiceAccount; it must exist (except in check mode).
    type: str
    required: true
  type:
    description: Kind of token.
    type: str
    choices: [bound, legacy_secret]
    default: bound
  audiences:
    description: Intended audiences of a bound token; empty means the API server's own audience.
    type: list
    elements: str
    default: []
  expiration:
    description: Lifetime of a bound token in seconds; the TokenRequest API minimum is 600.
    type: int
    default: 86400
  renew_before:
    description: Renew a bound token when it expires within this many seconds; less than O(expiration).
    type: int
    default: 3600
  bound_object:
    description: Object a bound token is tied to; deleting it revokes the token.
    type: dict
    suboptions:
      kind:
        description: Kind of the object.
        type: str
        choices: [Secret, Pod]
        required: true
      name:
        description: Name of the object, in O(namespace).
        type: str
        required: true
      uid:
        description: UID of the object; when set the API server checks it.
        type: str
  secret_name:
    description: Name of the Secret for O(type=legacy_secret); defaults to C(<service_account>-token).
    type: str
  current_token:
    description: The token in use now; returned as is when O(type=bound) and it is not due for renewal.
    type: str
  force_renew:
    description:
      - Get a new token even when the current one is still valid. For O(type=legacy_secret) the Secret
        is deleted and made again, which revokes the old token.
    type: bool
    default: false
  field_manager:
    description: Field manager used for the writes this module makes.
    type: str
    default: nodeless-eks
  wait_timeout:
    description: Seconds to wait for the token controller to fill a legacy Secret.
    type: int
    default: 60
requirements:
  - PyJWT (reads the C(exp) and ServiceAccount UID claims of O(current_token) and of new tokens; not verified,
    the API server checks the signature on use)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
notes:
  - The returned token is a credential; set C(no_log) on the task and never print it.
"""

EXAMPLES = r"""
- name: Get a one-day token for the deploy ServiceAccount, renewing it only when needed
  nodeless.eks.service_account_token:
    namespace: ci
    service_account: deploy
    expiration: 86400
    renew_before: 3600
    current_token: "{{ previous_token | default(omit) }}"
  register: sa_token
  no_log: true

- name: A long-lived token from a legacy Secret (filled by the token controller)
  nodeless.eks.service_account_token:
    namespace: kube-system
    service_account: break-glass-admin
    type: legacy_secret
  register: legacy
  no_log: true
"""

RETURN = r"""
token:
  description:
    - The bearer token; null when it is O(current_token) (see RV(token_is_current)), and in check mode
      when a new one would be requested.
  type: str
  returned: always
token_is_current:
  description: The token is O(current_token), still valid; keep using it.
  type: bool
  returned: always
expires_at:
  description: Expiry of the token in epoch seconds; null for legacy tokens, which never expire.
  type: int
  returned: always
  sample: 1767225600
renewed:
  description: Whether a new token was (or, in check mode, would be) issued.
  type: bool
  returned: always
secret_name:
  description: The legacy Secret holding the token.
  type: str
  returned: when O(type=legacy_secret)
changes:
  description: One entry per token issued or Secret made (see nodeless.eks module_utils changes).
  type: list
  elements: dict
  returned: always
  sample: [{resource: "k8s:ServiceAccountToken/ci/deploy", action: add}]
diff:
  description: Expiry of the token before and after (never the token itself).
  type: dict
  returned: always
"""

import base64
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.k8s import api_error_text, wait_until
from ansible_collections.nodeless.eks.plugins.module_utils.kubeconfig import HAS_JWT
from ansible_collections.nodeless.eks.plugins.module_utils.kubeconfig import check_expiration
from ansible_collections.nodeless.eks.plugins.module_utils.kubeconfig import issued_for
from ansible_collections.nodeless.eks.plugins.module_utils.kubeconfig import needs_renewal
from ansible_collections.nodeless.eks.plugins.module_utils.kubeconfig import token_expiry

try:
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
except ImportError:  # reported by AnsibleK8SModule's requirement check
    pass

LEGACY_TYPE = "kubernetes.io/service-account-token"
SA_ANNOTATION = "kubernetes.io/service-account.name"


class CoreApi:
    """The few core/v1 calls this module makes, as plain dicts, over kubernetes.core's dynamic client.

    Not kubernetes.client.CoreV1Api: importing it loads some 250 generated model classes (about a second
    the first time in a run) for four REST calls."""

    def __init__(self, dynamic):
        self._dynamic = dynamic

    def read(self, path: str) -> dict | None:
        try:
            return self._dynamic.request("GET", path).to_dict()
        except NotFoundError:
            return None

    def create(self, path: str, body: dict, field_manager: str) -> dict:
        return self._dynamic.request("POST", path, body=body, field_manager=field_manager).to_dict()

    def delete(self, path: str) -> None:
        self._dynamic.request("DELETE", path)


def _account_path(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/serviceaccounts/{name}"


def _secret_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/secrets" + (f"/{name}" if name else "")


def bound_token(core, params: dict, check_mode: bool) -> dict:
    ns, name = params["namespace"], params["service_account"]
    current = params.get("current_token")
    before = {"expires_at": _expiry(current)}
    account = core.read(_account_path(ns, name))
    # A token of an earlier ServiceAccount (recreated, or another cluster's) is refused however long it has left.
    current_usable = issued_for(current, account["metadata"]["uid"] if account else None)
    if not params["force_renew"] and current_usable and not needs_renewal(current, params["renew_before"], time.time()):
        return {"token": current, "expires_at": before["expires_at"], "renewed": False, "changes": [],
                "diff": {"before": before, "after": before}}
    detail = f"{params['expiration']}s, audiences {params['audiences'] or ['(API server)']}"
    changes = [change("k8s", "ServiceAccountToken", name, "add", namespace=ns, detail=detail)]
    if check_mode:
        return {"token": None, "expires_at": None, "renewed": True, "changes": changes,
                "diff": {"before": before, "after": {"expires_at": f"now + {params['expiration']}s"}}}
    if account is None:  # a refused TokenRequest is still a write attempt
        raise ValueError(f"service_account: ServiceAccount {ns}/{name} does not exist")
    spec = {"audiences": params["audiences"], "expirationSeconds": params["expiration"]}
    ref = params.get("bound_object")
    if ref:
        fields = (("apiVersion", "v1"), ("kind", ref["kind"]), ("name", ref["name"]), ("uid", ref.get("uid")))
        spec["boundObjectRef"] = {k: v for k, v in fields if v}
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    result = core.create(_account_path(ns, name) + "/token", request, params["field_manager"])
    token = result["status"]["token"]
    return {"token": token, "expires_at": _expiry(token), "renewed": True, "changes": changes,
            "diff": {"before": before, "after": {"expires_at": _expiry(token)}}}


def _expiry(token):
    try:
        return token_expiry(token) if token else None
    except ValueError:
        return None


def _secret_token(secret):
    data = (secret.get("data") or {}) if secret else {}
    return base64.b64decode(data["token"]).decode() if data.get("token") else None


def legacy_token(core, params: dict, check_mode: bool) -> dict:
    ns, sa = params["namespace"], params["service_account"]
    name = params.get("secret_name") or f"{sa}-token"
    secret = core.read(_secret_path(ns, name))
    if secret and (secret.get("type") != LEGACY_TYPE or (secret["metadata"].get("annotations") or {}).get(SA_ANNOTATION) != sa):
        raise ValueError(f"secret_name: Secret {ns}/{name} exists but is not the {LEGACY_TYPE} Secret of {sa}")
    out = {"secret_name": name, "expires_at": None, "renewed": False, "changes": [],
           "diff": {"before": {"secret": name if secret else None}, "after": {"secret": name}}}
    if secret and not params["force_renew"]:
        return dict(out, token=_secret_token(secret) or _wait_filled(core, name, ns, params["wait_timeout"]))
    if secret:
        out["changes"].append(change("k8s", "Secret", name, "remove", namespace=ns, detail="revokes the old token"))
    out["changes"].append(change("k8s", "Secret", name, "add", namespace=ns, detail=f"{LEGACY_TYPE} for {sa}"))
    out["renewed"] = True
    if check_mode:
        return dict(out, token=None)
    if core.read(_account_path(ns, sa)) is None:
        raise ValueError(f"service_account: ServiceAccount {ns}/{sa} does not exist")
    if secret:
        core.delete(_secret_path(ns, name))
        _wait_gone(core, name, ns, params["wait_timeout"])
    body = {"apiVersion": "v1", "kind": "Secret", "type": LEGACY_TYPE,
            "metadata": {"name": name, "namespace": ns, "annotations": {SA_ANNOTATION: sa},
                         "labels": {"app.kubernetes.io/managed-by": "nodeless.eks"}}}
    core.create(_secret_path(ns), body, params["field_manager"])
    return dict(out, token=_wait_filled(core, name, ns, params["wait_timeout"]))


def _wait_filled(core, name, ns, timeout):
    return wait_until(lambda: _secret_token(core.read(_secret_path(ns, name))), timeout,
                      f"wait_timeout: the token controller did not fill Secret {ns}/{name}")


def _wait_gone(core, name, ns, timeout):
    wait_until(lambda: core.read(_secret_path(ns, name)) is None, timeout, f"wait_timeout: Secret {ns}/{name} was not deleted")


def main():
    argument_spec = dict(
        AUTH_ARG_SPEC,
        namespace=dict(type="str", required=True),
        service_account=dict(type="str", required=True),
        type=dict(type="str", choices=["bound", "legacy_secret"], default="bound"),
        audiences=dict(type="list", elements="str", default=[]),
        expiration=dict(type="int", default=86400),
        renew_before=dict(type="int", default=3600),
        bound_object=dict(type="dict", options=dict(kind=dict(type="str", choices=["Secret", "Pod"], required=True),
                                                    name=dict(type="str", required=True), uid=dict(type="str"))),
        secret_name=dict(type="str"),
        current_token=dict(type="str", no_log=True),
        force_renew=dict(type="bool", default=False),
        field_manager=dict(type="str", default="nodeless-eks"),
        wait_timeout=dict(type="int", default=60),
    )
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_JWT:
        module.fail_json(msg=missing_required_lib("PyJWT"))
    params = module.params
    try:
        check_expiration(params["expiration"], "expiration")
        if not 0 <= params["renew_before"] < params["expiration"]:
            raise ValueError(f"renew_before: {params['renew_before']} must be at least 0 and less than expiration ({params['expiration']})")
        core = CoreApi(get_api_client(module).client)
        fetch = legacy_token if params["type"] == "legacy_secret" else bound_token
        result = fetch(core, params, module.check_mode)
        # Ansible masks any returned value equal to a no_log option, so the current token is never echoed back.
        result["token_is_current"] = bool(result["token"]) and result["token"] == params.get("current_token")
        if result["token_is_current"]:
            result["token"] = None
    except (ValueError, TimeoutError) as exc:
        module.fail_json(msg=str(exc))
    except DynamicApiError as exc:
        module.fail_json(msg=f"service_account: {params['namespace']}/{params['service_account']}: "
                             f"the API server answered {exc.status} {exc.reason}: {api_error_text(exc)}")
    except CoreException as exc:
        module.fail_from_exception(exc)
    module.exit_json(changed=bool(result["changes"]), **result)


if __name__ == "__main__":
    main()
