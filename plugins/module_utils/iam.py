# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM logic for cluster identity: policy documents, IRSA trust, role names, OIDC provider diffs.

Everything here is pure (no AWS calls) except ``tls_chain``, so unit tests call it directly. Used by
the ``iam_policy`` lookup, the ``irsa_plan`` filter and the ``oidc_provider`` module.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_label, is_dns1123_subdomain
from ansible_collections.nodeless.eks.plugins.module_utils.pod_identity import trust_policy as pod_identity_trust

STS_AUDIENCE = "sts.amazonaws.com"
MANAGED_POLICY_LIMIT = 6144  # characters, whitespace excluded (IAM quota, not adjustable)
TRUST_POLICY_LIMIT = 2048  # characters, the default role trust policy quota (adjustable to 4096)
ROLE_NAME_MAX = 64
# How pods get the role's credentials: IRSA (OIDC web identity, the ServiceAccount annotated) or EKS Pod Identity
# (an association, the Pod Identity agent; no annotation).
IDENTITIES = ("irsa", "pod_identity")

_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]+$")
_IAM_PATH = re.compile(r"^/([\x21-\x7e]+/)?$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
_ZONE_ID = re.compile(r"^(/hostedzone/)?([A-Z0-9]{1,32})$")
_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_GIVEN_AS = {"hosted_zone_arns": "hosted_zone_ids"}  # derived parameters, named as the caller spells them


# --- policy documents ----------------------------------------------------------------------------

def render_document(template, values: dict):
    """Replace ``${name}`` in keys and values; a value that is exactly ``${name}`` of a list becomes that list."""
    if isinstance(template, dict):
        return {render_document(k, values): render_document(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render_document(v, values) for v in template]
    if not isinstance(template, str):
        return template
    whole = _PLACEHOLDER.fullmatch(template)
    if whole and isinstance(values.get(whole.group(1)), list):
        return list(values[whole.group(1)])

    def _one(match):
        name = match.group(1)
        if values.get(name) in (None, "", []):
            raise ValueError(f"{_GIVEN_AS.get(name, name)}: required by this policy document but not given")
        return str(values[name])
    return _PLACEHOLDER.sub(_one, template)


def hosted_zone_arns(partition: str, zone_ids) -> list[str]:
    """'Z123' or '/hostedzone/Z123' -> 'arn:<partition>:route53:::hostedzone/Z123'."""
    if isinstance(zone_ids, str):
        zone_ids = [zone_ids]
    arns = []
    for index, zone in enumerate(zone_ids or []):
        match = _ZONE_ID.match(str(zone))
        if not match:
            raise ValueError(f"hosted_zone_ids[{index}]: {zone!r} is not a Route 53 hosted zone id such as Z0123456789ABC")
        arns.append(f"arn:{partition}:route53:::hostedzone/{match.group(2)}")
    return sorted(set(arns))


def policy_values(cluster: dict | None, overrides: dict | None = None) -> dict:
    """The parameters policy documents use, from the cluster facts, then explicit overrides."""
    cluster = cluster or {}
    values = {
        "cluster_name": cluster.get("name"),
        "partition": cluster.get("partition") or "aws",
        "account_id": cluster.get("account_id"),
        "region": cluster.get("region"),
    }
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    name = values.get("cluster_name")
    values.setdefault("node_role_name", f"KarpenterNodeRole-{name}" if name else None)
    values.setdefault("interruption_queue_name", name)
    if values.get("hosted_zone_ids") not in (None, "", []):
        values["hosted_zone_arns"] = hosted_zone_arns(values["partition"], values["hosted_zone_ids"])
    return values


def _as_sorted_list(value):
    items = value if isinstance(value, list) else [value]
    return sorted({json.dumps(i, sort_keys=True) if not isinstance(i, str) else i for i in items})


def canonical(document) -> dict:
    """A policy in one spelling: parsed, single values as sorted lists, statements sorted.

    Two documents IAM treats the same (key order, whitespace, "x" vs ["x"], statement order) have
    equal canonical forms, so a policy is rewritten only when it really differs.
    """
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out = []
    for stmt in statements:
        item = {}
        for key, value in stmt.items():
            if key in _LIST_KEYS:
                item[key] = _as_sorted_list(value)
            elif key == "Principal" and isinstance(value, dict):
                item[key] = {p: _as_sorted_list(v) for p, v in value.items()}
            elif key == "Condition":
                item[key] = {op: {k: _as_sorted_list(v) for k, v in cond.items()} for op, cond in value.items()}
            else:
                item[key] = value
        out.append(item)
    out.sort(key=lambda s: json.dumps(s, sort_keys=True))
    result = {k: v for k, v in document.items() if k != "Statement"}
    result["Statement"] = out
    return result


def documents_differ(current, desired) -> bool:
    """IAM's reading, as amazon.aws compare_policies makes it: key order, whitespace, statement order and
    "x" against ["x"] do not make two documents differ."""
    return compare_policies(_parsed(current), _parsed(desired))


def _parsed(document):
    return json.loads(document) if isinstance(document, str) else document


def document_size(document) -> int:
    """Characters IAM counts against its quotas: the JSON without whitespace."""
    if isinstance(document, str):
        document = json.loads(document)
    return len(json.dumps(document, separators=(",", ":")))


def split_document(document: dict, limit: int = MANAGED_POLICY_LIMIT) -> list[dict]:
    """Documents of at most ``limit`` characters holding the statements in order (one when it fits)."""
    if document_size(document) <= limit:
        return [document]
    head = {k: v for k, v in document.items() if k != "Statement"}
    parts: list[dict] = []
    for stmt in document["Statement"]:
        if parts and document_size(dict(head, Statement=parts[-1]["Statement"] + [stmt])) <= limit:
            parts[-1]["Statement"].append(stmt)
            continue
        part = dict(head, Statement=[stmt])
        if document_size(part) > limit:
            raise ValueError(f"statement {stmt.get('Sid', '')!r} alone is {document_size(part)} characters, over the limit of {limit}")
        parts.append(part)
    return parts


def grants(document) -> set[tuple]:
    """(effect, action, resource, condition) for every action x resource a document allows or denies.

    Action and resource names compare case-insensitively for the service prefix as IAM does; Sids
    and statement layout do not matter. Drift tests compare these sets.
    """
    found = set()
    for stmt in canonical(document)["Statement"]:
        condition = json.dumps(stmt.get("Condition", {}), sort_keys=True)
        for action in stmt.get("Action", []):
            for resource in stmt.get("Resource", []):
                found.add((stmt.get("Effect"), action.lower(), resource, condition))
    return found


# --- IRSA trust and names ------------------------------------------------------------------------

def issuer_host_path(issuer: str) -> str:
    return re.sub(r"^https://", "", issuer or "").rstrip("/")


def provider_arn(partition: str, account_id: str, issuer: str) -> str:
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{issuer_host_path(issuer)}"


def subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def trust_policy(provider: str, issuer: str, namespace: str, service_account: str, audience: str = STS_AUDIENCE) -> dict:
    """Only this ServiceAccount's tokens, for STS, from this cluster's provider: no wildcards."""
    host = issuer_host_path(issuer)
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{host}:sub": subject(namespace, service_account), f"{host}:aud": audience}},
        }],
    }


def bounded_name(name: str, limit: int = ROLE_NAME_MAX) -> str:
    """``name`` if it fits, else a prefix plus an 8-character hash of the whole name (still unique and stable)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('-')}-{digest}"


def default_role_name(cluster_name: str, namespace: str, service_account: str) -> str:
    return bounded_name(f"{cluster_name}-{namespace}-{service_account}")


def name_errors(namespace, service_account) -> list[tuple[str, str]]:
    """(field, message) for a namespace that is not a DNS-1123 label or an SA name that is not a subdomain."""
    errors = []
    if not is_dns1123_label(namespace):
        errors.append(("namespace", f"{namespace!r} is not a valid namespace name (DNS-1123 label: lower-case "
                                    "letters, digits and '-', at most 63 characters)"))
    if not is_dns1123_subdomain(service_account):
        errors.append(("service_account", f"{service_account!r} is not a valid ServiceAccount name (DNS-1123 subdomain: "
                                          "lower-case letters, digits, '-' and '.', at most 253 characters)"))
    return errors


def role_name_error(name) -> str | None:
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > ROLE_NAME_MAX:
        return f"{name!r} is {len(name)} characters; IAM role names are at most {ROLE_NAME_MAX}"
    if not _ROLE_NAME.match(name):
        return f"{name!r} may only contain letters, digits and +=,.@_-"
    return None


def path_error(path) -> str | None:
    if not isinstance(path, str) or len(path) > 512 or not _IAM_PATH.match(path):
        return f"{path!r} is not an IAM path: it starts and ends with '/', e.g. /irsa/"
    return None


def is_policy_arn(value) -> bool:
    return isinstance(value, str) and bool(_POLICY_ARN.match(value))


# --- OIDC provider -------------------------------------------------------------------------------

def top_certificate_sha1(chain_der: list[bytes]) -> str:
    """eksctl's thumbprint: SHA-1 of the last (top-most) certificate the issuer's server sends, lower-case hex."""
    if not chain_der:
        raise ValueError("the issuer's server sent no certificate")
    return hashlib.sha1(chain_der[-1]).hexdigest()  # nosec: IAM defines the thumbprint as SHA-1


def tls_chain(host: str, port: int = 443, validate: bool = True, timeout: float = 10.0) -> list[bytes]:
    """The certificate chain (DER, leaf first) the server presents, read with ssl's public
    SSLSocket.get_unverified_chain (Python 3.13 and newer; older Pythons have no supported way)."""
    import socket
    import ssl

    if not hasattr(ssl.SSLSocket, "get_unverified_chain"):
        raise ValueError("reading the chain needs Python 3.13 or newer (ssl.SSLSocket.get_unverified_chain); AWS IAM "
                         "no longer needs a thumbprint for an EKS issuer: leave thumbprints out, or give them")
    context = ssl.create_default_context()
    if not validate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            chain = tls.get_unverified_chain() or []
            return [c if isinstance(c, bytes) else ssl.PEM_cert_to_DER_cert(c.public_bytes()) for c in chain]


def split_host_port(url: str) -> tuple[str, int]:
    host = issuer_host_path(url).split("/", 1)[0]
    if ":" in host:
        name, port = host.rsplit(":", 1)
        return name, int(port)
    return host, 443


def provider_update(current: dict | None, desired: dict, purge_tags: bool = True) -> dict:
    """What to change on an existing provider: client ids to add/remove, new thumbprints, tags to set/remove.

    ``desired['thumbprints']`` None means "not managed": no drift is invented for EKS issuers.
    ``desired['tags']`` None means tags are left alone.
    """
    current = current or {}
    have_ids, want_ids = set(current.get("client_ids") or []), set(desired.get("client_ids") or [])
    plan = {"add_client_ids": sorted(want_ids - have_ids), "remove_client_ids": sorted(have_ids - want_ids),
            "thumbprints": None, "set_tags": {}, "remove_tags": []}
    want_thumbs = desired.get("thumbprints")
    if want_thumbs is not None and sorted(t.lower() for t in want_thumbs) != sorted(t.lower() for t in current.get("thumbprints") or []):
        plan["thumbprints"] = [t.lower() for t in want_thumbs]
    if desired.get("tags") is not None:
        set_tags, remove_tags = compare_aws_tags(current.get("tags") or {}, desired["tags"], purge_tags=purge_tags)
        plan["set_tags"], plan["remove_tags"] = set_tags, sorted(remove_tags)
    return plan


def update_is_empty(plan: dict) -> bool:
    return not (plan["add_client_ids"] or plan["remove_client_ids"] or plan["thumbprints"] is not None
                or plan["set_tags"] or plan["remove_tags"])


# --- the irsa role's plan ------------------------------------------------------------------------

_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")


def _field(index: int, key: str = "") -> str:
    return f"irsa_service_accounts[{index}]" + (f".{key}" if key else "")


def _policy_items(index, entry, role_name, values, load_policy, known):
    """(managed documents to create as {name, document}, ARNs to attach as {arn, field}) for one entry."""
    managed, attach = [], []
    policies = entry.get("policies") or []
    if not isinstance(policies, list):
        raise ValueError(f"{_field(index, 'policies')}: must be a list of policy names, ARNs or documents")
    for pos, item in enumerate(policies):
        field = f"{_field(index, 'policies')}[{pos}]"
        if isinstance(item, str) and item.startswith("arn:"):
            if not is_policy_arn(item):
                raise ValueError(f"{field}: {item!r} is a malformed policy ARN (expected arn:<partition>:iam::<account>:policy/<name>)")
            attach.append({"arn": item, "field": field})
            continue
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ValueError(f"{field}: must be a policy ARN, a collection policy name or a policy document")
        if "Statement" in item:
            name, document = f"inline-{pos}", item
        else:
            unknown = sorted(set(item) - {"name", "document", "vars"})
            if unknown:
                raise ValueError(f"{field}.{unknown[0]}: unknown key (a policy entry takes name, document and vars, "
                                 "or is a policy document with a Statement)")
            name = item.get("name")
            document = item.get("document")
            if document is None:
                if name not in known:
                    raise ValueError(f"{field}: {name!r} is not a policy ARN nor one of the collection's policies ({', '.join(known)})")
                try:
                    document = render_document(load_policy(name)["document"], policy_values(values, item.get("vars")))
                except ValueError as exc:
                    raise ValueError(f"{field}.vars.{exc}") from exc
            if isinstance(document, str):
                try:
                    document = json.loads(document)
                except ValueError as exc:
                    raise ValueError(f"{field}.document: not valid JSON: {exc}") from exc
            if not isinstance(document, dict) or "Statement" not in document:
                raise ValueError(f"{field}.document: a policy document needs a Statement")
        base = f"{role_name}-{str(name).replace('_', '-')}"
        if not _POLICY_NAME.match(base):
            raise ValueError(f"{field}.name: {name!r} gives the policy name {base!r}, which IAM does not accept")
        parts = split_document(document)
        for number, part in enumerate(parts, 1):
            managed.append({"name": base if len(parts) == 1 else f"{base}-{number}", "document": part})
    return managed, attach


def irsa_plan(service_accounts, cluster: dict, defaults: dict, load_policy, known: list) -> list[dict]:
    """Validate every entry (errors name the field) and compute names, ARNs, trust and policies, before any write."""
    if not isinstance(service_accounts, list):
        raise ValueError("irsa_service_accounts: must be a list of {namespace, service_account, policies}")
    identity = defaults.get("identity") or "irsa"
    if identity not in IDENTITIES:
        raise ValueError(f"irsa_mode: {identity!r} is not one of {', '.join(IDENTITIES)}")
    issuer = cluster.get("oidc_issuer")
    if identity == "irsa" and not issuer:
        raise ValueError(f"nodeless_eks_cluster_name: EKS cluster {cluster.get('name')!r} has no OIDC issuer; IRSA needs one "
                         "(EKS Pod Identity does not: irsa_mode pod_identity)")
    partition, account = cluster.get("partition") or "aws", cluster.get("account_id")
    provider = provider_arn(partition, account, issuer) if identity == "irsa" else None
    limit = int(defaults.get("trust_policy_size_limit") or TRUST_POLICY_LIMIT)
    plan, seen = [], {}
    for index, entry in enumerate(service_accounts):
        if not isinstance(entry, dict):
            raise ValueError(f"{_field(index)}: must be a dictionary with namespace, service_account and policies")
        unknown = sorted(set(entry) - {"namespace", "service_account", "policies", "role_name", "path", "permissions_boundary",
                                       "max_session_duration", "create_service_account", "associate"})
        if unknown:
            raise ValueError(f"{_field(index, unknown[0])}: unknown key")
        namespace, sa = entry.get("namespace"), entry.get("service_account")
        for key, message in name_errors(namespace, sa):
            raise ValueError(f"{_field(index, key)}: {message}")
        key = f"{namespace}/{sa}"
        if key in seen:
            raise ValueError(f"{_field(index)}: {key} is already listed at irsa_service_accounts[{seen[key]}]")
        seen[key] = index
        role_name = entry.get("role_name") or default_role_name(cluster["name"], namespace, sa)
        problem = role_name_error(role_name)
        if problem:
            raise ValueError(f"{_field(index, 'role_name')}: {problem}")
        path = entry.get("path") or defaults.get("path") or "/"
        problem = path_error(path)
        if problem:
            raise ValueError(f"{_field(index, 'path')}: {problem}")
        boundary = entry.get("permissions_boundary") or defaults.get("permissions_boundary") or None
        if boundary and not is_policy_arn(boundary):
            raise ValueError(f"{_field(index, 'permissions_boundary')}: {boundary!r} is a malformed policy ARN")
        duration = entry.get("max_session_duration") or defaults.get("max_session_duration") or 3600
        if not str(duration).isdigit() or not 3600 <= int(duration) <= 43200:
            raise ValueError(f"{_field(index, 'max_session_duration')}: {duration!r} must be 3600 to 43200 seconds")
        if identity == "irsa":
            trust = trust_policy(provider, issuer, namespace, sa, defaults.get("audience") or STS_AUDIENCE)
        else:
            try:
                trust = pod_identity_trust(account, cluster.get("arn"))
            except ValueError as exc:
                raise ValueError(f"nodeless_eks_cluster.{exc}") from exc
        size = document_size(trust)
        if size > limit:
            raise ValueError(f"{_field(index)}: the trust policy for {key} is {size} characters, over the account's limit of {limit}")
        values = {"name": cluster["name"], "partition": partition, "account_id": account, "region": cluster.get("region")}
        managed, attach = _policy_items(index, entry, role_name, values, load_policy, known)
        prefix = f"arn:{partition}:iam::{account}:policy{path}"
        plan.append({
            "key": key, "index": index, "namespace": namespace, "service_account": sa,
            "role_name": role_name, "path": path, "role_arn": f"arn:{partition}:iam::{account}:role{path}{role_name}",
            "fact": {"role_name": role_name, "role_arn": f"arn:{partition}:iam::{account}:role{path}{role_name}"},
            "trust": trust, "trust_size": size, "provider_arn": provider,
            # as the iam_managed_policies module takes them
            "managed": [dict(m, path=path) for m in managed], "attach": attach,
            "policy_arns": sorted({prefix + m["name"] for m in managed} | {a["arn"] for a in attach}),
            "permissions_boundary": boundary, "max_session_duration": int(duration),
            "create_service_account": entry.get("create_service_account", True) not in (False, "false", "no"),
            "identity": identity,
            # pod_identity: the role makes the association, unless the caller has it made another way (an EKS add-on's
            # own podIdentityAssociations, which EKS requires for the add-on's service account)
            "associate": identity == "pod_identity" and entry.get("associate", True) not in (False, "false", "no"),
        })
        plan[-1]["fact"]["identity"] = identity
    return plan


# --- EKS Pod Identity through the irsa role ------------------------------------------------------

def associations(plan: list[dict]) -> list[dict]:
    """The Pod Identity associations of an irsa plan (entries with ``associate``), as pod_identity_association takes them."""
    return [{"namespace": e["namespace"], "service_account": e["service_account"], "role_arn": e["role_arn"]}
            for e in plan if e.get("associate")]
