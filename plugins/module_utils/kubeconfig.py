# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubeconfig documents and token lifetimes, as pure functions (no I/O; unit-tested directly).

Renewal is decided from the token's own ``exp`` claim, so a re-run whose token is still good
makes no API call at all. The signature is not checked here: the API server does that on use.
"""

from __future__ import annotations

import importlib.util
import posixpath

from ansible.module_utils.common.yaml import yaml_dump

from ansible_collections.nodeless.eks.plugins.module_utils.convergence import is_capability_name
from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_subdomain, is_role_arn

# PyJWT reads the claims; the module reports a missing library with missing_required_lib. It is imported where a
# claim is read, not here: the filters of this file's callers are loaded by every task that uses any nodeless.eks
# filter (Ansible loads all of a collection's filter files to find one), and PyJWT's import (cryptography) cost each
# such task about 0.35 s.
HAS_JWT = importlib.util.find_spec("jwt") is not None

# The TokenRequest API refuses expirationSeconds below ten minutes.
MIN_EXPIRATION = 600
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, not verified: the API server issued it, and only its claims are read here."""
    try:
        import jwt  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ValueError("reading a token's claims needs the Python library PyJWT (pip install PyJWT)") from None
    try:
        return jwt.decode(token or "", options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError(f"not a JWT: {exc}") from exc


def token_expiry(token: str) -> int | None:
    """The token's ``exp`` (epoch seconds), None for tokens that never expire (legacy Secrets)."""
    exp = jwt_claims(token).get("exp")
    return int(exp) if exp is not None else None


def needs_renewal(token: str | None, margin: int, now: float) -> bool:
    """True when there is no usable token or it expires within ``margin`` seconds of ``now``."""
    if not token:
        return True
    try:
        exp = token_expiry(token)
    except ValueError:
        return True
    return exp is not None and exp - now <= margin


def token_account_uid(token: str) -> str | None:
    """UID of the ServiceAccount a token was issued for (bound and legacy token claims)."""
    claims = jwt_claims(token)
    bound = ((claims.get("kubernetes.io") or {}).get("serviceaccount") or {}).get("uid")
    return bound or claims.get("kubernetes.io/serviceaccount/service-account.uid")


def issued_for(token: str | None, account_uid: str | None) -> bool:
    """False when the token names another ServiceAccount UID than ``account_uid`` (the account was
    recreated, or the kubeconfig was written for another cluster): such a token is refused."""
    if not token or not account_uid:
        return False
    try:
        return token_account_uid(token) == account_uid
    except ValueError:
        return False


def token_subject(token: str) -> str | None:
    """``system:serviceaccount:<ns>:<name>`` for service-account tokens."""
    return jwt_claims(token).get("sub")


def check_expiration(value, field: str = "expiration") -> int:
    """Seconds as an int, at least MIN_EXPIRATION; the error names the field."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: must be a number of seconds, not {value!r}")
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(f"{field}: must be a number of seconds, not {value!r}") from None
    if seconds < MIN_EXPIRATION:
        raise ValueError(f"{field}: {seconds} is below the TokenRequest API minimum of {MIN_EXPIRATION} seconds")
    return seconds


def _cluster(server: str, ca_data: str | None, insecure: bool) -> dict:
    if not server:
        raise ValueError("server: the API endpoint is required")
    if ca_data:
        return {"server": server, "certificate-authority-data": ca_data}
    if not insecure:
        raise ValueError("ca_data: an endpoint needs its CA data unless insecure is asked for explicitly")
    return {"server": server, "insecure-skip-tls-verify": True}


def _document(name: str, cluster: dict, user: dict, namespace: str | None) -> dict:
    context = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
        "preferences": {},
    }


def token_kubeconfig(name: str, server: str, ca_data: str | None, token: str, namespace: str | None = None,
                     insecure: bool = False) -> dict:
    """A kubeconfig that authenticates with a bearer token (works without the AWS CLI)."""
    return _document(name, _cluster(server, ca_data, insecure), {"token": token}, namespace)


def exec_kubeconfig(name: str, server: str, ca_data: str | None, cluster_name: str, region: str,
                    role_arn: str | None = None, profile: str | None = None, insecure: bool = False,
                    command: str = "aws") -> dict:
    """A kubeconfig whose credentials come from ``aws eks get-token`` on every use."""
    args = ["--region", region, "eks", "get-token", "--cluster-name", cluster_name, "--output", "json"]
    if role_arn:
        if not is_role_arn(role_arn):
            raise ValueError(f"role_arn: {role_arn!r} is not an IAM role ARN")
        args += ["--role-arn", role_arn]
    user = {"exec": {"apiVersion": EXEC_API_VERSION, "command": command, "args": args,
                     "interactiveMode": "IfAvailable", "provideClusterInfo": False}}
    if profile:
        user["exec"]["env"] = [{"name": "AWS_PROFILE", "value": profile}]
    return _document(name, _cluster(server, ca_data, insecure), user, None)


def kubeconfig_token(document: dict | None) -> str | None:
    """The bearer token of a kubeconfig's current user, if it has one."""
    if not isinstance(document, dict):
        return None
    current = document.get("current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in document.get("contexts") or [] if isinstance(c, dict)}
    user_name = contexts.get(current, {}).get("user")
    for user in document.get("users") or []:
        if isinstance(user, dict) and user.get("name") == user_name:
            return (user.get("user") or {}).get("token")
    return None


def render(document: dict) -> str:
    """Stable YAML text, so an unchanged kubeconfig is byte-identical on re-runs."""
    return yaml_dump(document, default_flow_style=False, sort_keys=False)


def build(settings: dict) -> dict:
    """A token or exec kubeconfig from one settings mapping (what the kubeconfig role passes)."""
    common = {"name": settings.get("name") or "eks", "server": settings.get("server"),
              "ca_data": settings.get("ca_data") or None, "insecure": bool(settings.get("insecure"))}
    if settings.get("exec"):
        ex = settings["exec"]
        return exec_kubeconfig(cluster_name=ex.get("cluster_name"), region=ex.get("region"), role_arn=ex.get("role_arn") or None,
                               profile=ex.get("profile") or None, command=ex.get("command") or "aws", **common)
    if not settings.get("token"):
        raise ValueError("token: no token to put in the kubeconfig")
    return token_kubeconfig(token=settings["token"], namespace=settings.get("namespace") or None, **common)


def _int(value) -> int:
    """Jinja's ``int``: 0 for what is not a number (the argument spec has refused those already)."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


def settings_errors(s: dict) -> list[str]:
    """Every broken kubeconfig role setting at once, each message naming its variable.

    ``s`` holds the role's variables without the ``kubeconfig_`` prefix (``cluster_role_wanted`` is
    ``kubeconfig_cluster_role`` as given), the derived ``namespace``, ``rbac_namespaces``, ``server``,
    ``ca`` and ``cluster_role``, and what the preflight read, None where it read nothing: ``dir`` (the
    stat), ``probe`` (the tempfile result), ``clusterroles_found`` (how many ClusterRoles of that name)
    and ``existing_namespaces`` (names).
    """
    from ansible.module_utils.parsing.convert_bool import boolean  # noqa: PLC0415 - keeps this file importable bare

    def flag(key):
        return boolean(s.get(key) or False, strict=False)

    mode, state, path = s.get("mode"), s.get("state"), s.get("path") or ""
    break_glass = mode == "break_glass"
    token_settings = any(s.get(k) for k in ("service_account", "cluster_role_wanted", "rules", "rbac_namespaces"))
    exec_settings = any(s.get(k) for k in ("exec_role_arn", "exec_profile"))
    errors = []
    if break_glass and not flag("break_glass_enabled"):
        errors.append("kubeconfig_mode is break_glass but kubeconfig_break_glass_enabled is not true. A break-glass "
                      "cluster-admin bypasses IAM; opt in explicitly (see docs/kubeconfig.md for rotation and revocation).")
    if ((mode == "exec" and token_settings) or (mode != "exec" and exec_settings) or (break_glass and token_settings)
            or (s.get("rules") and s.get("cluster_role_wanted"))):
        errors.append(f"kubeconfig_mode is {mode}: conflicting modes. kubeconfig_service_account, kubeconfig_cluster_role, "
                      "kubeconfig_rules and kubeconfig_rbac_namespaces belong to token mode only, kubeconfig_exec_role_arn "
                      "and kubeconfig_exec_profile to exec mode only, and kubeconfig_rules and kubeconfig_cluster_role "
                      "exclude each other.")
    if mode == "token" and not is_dns1123_subdomain(s.get("service_account")):
        errors.append(f"kubeconfig_service_account: {s.get('service_account') or 'unset'} must be a DNS-1123 name in token mode")
    if mode == "token" and s.get("cluster_role") == "cluster-admin" and not flag("allow_cluster_admin"):
        errors.append("kubeconfig_cluster_role: cluster-admin needs kubeconfig_allow_cluster_admin=true; prefer view, edit "
                      "or namespace-scoped grants (kubeconfig_rbac_namespaces).")
    expiration, renew_before = _int(s.get("token_expiration")), _int(s.get("token_renew_before"))
    if expiration < MIN_EXPIRATION or not 0 <= renew_before < expiration:
        errors.append(f"kubeconfig_token_expiration ({s.get('token_expiration')}) must be at least {MIN_EXPIRATION} seconds, "
                      f"the TokenRequest API minimum, and kubeconfig_token_renew_before ({s.get('token_renew_before')}) "
                      "less than it.")
    server, ca = s.get("server") or "", s.get("ca") or ""
    if state == "present" and (not server.startswith("https://") or (not ca and not flag("insecure"))):
        errors.append(f"kubeconfig_server ({server}) must be an https URL and needs kubeconfig_ca_data (base64 PEM) unless "
                      "kubeconfig_insecure is true.")
    if (not path and not flag("set_fact") and state == "present") or (path and not path.startswith("/")):
        errors.append(f"kubeconfig_path ({path or 'unset'}) must be an absolute file path, or set kubeconfig_set_fact")
    directory, stat, probe = posixpath.dirname(path), (s.get("dir") or {}), s.get("probe")
    if path and not (stat.get("exists") and stat.get("isdir") and stat.get("writeable") and not stat.get("woth")):
        found = "missing" if not stat.get("exists") else f"mode {stat.get('mode')}"
        errors.append(f"kubeconfig_path: directory {directory} must exist, be writable by this user and not be "
                      f"world-writable (it is {found}), since the file holds a credential.")
    elif path and probe is not None and "path" not in probe:
        errors.append(f"kubeconfig_path: no file can be created in {directory} ({probe.get('msg', '')}), so the "
                      "kubeconfig could not be written there.")
    if flag("record") and not is_capability_name(str(s.get("record_name") or "")):
        errors.append(f"kubeconfig_record_name: {s.get('record_name') or 'unset'} must be lowercase letters, digits, - and _ "
                      "(at most 50), the name of the kubeconfig's convergence record")
    arn = s.get("exec_role_arn") or ""
    if arn and not is_role_arn(arn):
        errors.append(f"kubeconfig_exec_role_arn: {arn} is not an IAM role ARN")
    if s.get("clusterroles_found") is not None and s["clusterroles_found"] != 1:
        errors.append(f"kubeconfig_cluster_role: ClusterRole {s.get('cluster_role')} does not exist in the cluster")
    existing = s.get("existing_namespaces")
    missing = [] if existing is None else [
        ns for i, ns in enumerate(s.get("rbac_namespaces") or [])
        if ns not in existing and ns != s.get("namespace") and ns not in (s.get("rbac_namespaces") or [])[:i]]
    if missing:
        errors.append(f"kubeconfig_rbac_namespaces: {', '.join(missing)} do not exist (only kubeconfig_namespace is made "
                      "by this role)")
    return errors
