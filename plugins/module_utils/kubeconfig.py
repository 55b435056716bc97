# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubeconfig documents and token lifetimes, as pure functions (no I/O; unit-tested directly).

Renewal is decided from the token's own ``exp`` claim, so a re-run whose token is still good
makes no API call at all. The signature is not checked here: the API server does that on use.
"""

from __future__ import annotations

import re

from ansible.module_utils.common.yaml import yaml_dump

try:  # PyJWT reads the claims; the module reports a missing library with missing_required_lib
    import jwt

    HAS_JWT = True
except ImportError:
    HAS_JWT = False

# The TokenRequest API refuses expirationSeconds below ten minutes.
MIN_EXPIRATION = 600
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, not verified: the API server issued it, and only its claims are read here."""
    if not HAS_JWT:
        raise ValueError("reading a token's claims needs the Python library PyJWT (pip install PyJWT)")
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
        if not _ROLE_ARN.match(role_arn):
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
