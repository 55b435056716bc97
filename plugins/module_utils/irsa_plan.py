# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The irsa role's plan: every ``irsa_service_accounts`` entry validated (errors name the field) and turned into role
names, ARNs, the trust policy (IRSA or EKS Pod Identity) and the managed policies to create or attach, before any
write; and the Pod Identity associations of such a plan.

Pure functions. Used by the ``irsa_plan`` filters.
"""

from __future__ import annotations

import json

from ansible_collections.nodeless.eks.plugins.module_utils.iam_policy_documents import document_size, policy_values, render_document, split_document
from ansible_collections.nodeless.eks.plugins.module_utils.irsa_trust import STS_AUDIENCE, TRUST_POLICY_LIMIT, provider_arn, trust_policy
from ansible_collections.nodeless.eks.plugins.module_utils.names import (
    bounded_name, iam_path_error, is_policy_arn, is_policy_name, role_name_error, service_account_name_errors,
)
from ansible_collections.nodeless.eks.plugins.module_utils.pod_identity import trust_policy as pod_identity_trust

# How pods get the role's credentials: IRSA (OIDC web identity, the ServiceAccount annotated) or EKS Pod Identity
# (an association, the Pod Identity agent; no annotation).
IDENTITIES = ("irsa", "pod_identity")


def default_role_name(cluster_name: str, namespace: str, service_account: str) -> str:
    return bounded_name(f"{cluster_name}-{namespace}-{service_account}")


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
        if not is_policy_name(base):
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
        for key, message in service_account_name_errors(namespace, sa):
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
        problem = iam_path_error(path)
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
        # what a convergence record of the including role covers (issue #23): the customer managed policies this role
        # creates and the OIDC provider the role trusts (None under Pod Identity)
        plan[-1]["fact"]["managed_policy_arns"] = sorted(prefix + m["name"] for m in managed)
        plan[-1]["fact"]["provider_arn"] = provider
    return plan


def associations(plan: list[dict]) -> list[dict]:
    """The Pod Identity associations of an irsa plan (entries with ``associate``), as pod_identity_association takes them."""
    return [{"namespace": e["namespace"], "service_account": e["service_account"], "role_arn": e["role_arn"]}
            for e in plan if e.get("associate")]


def record_targets(plan: list[dict], cluster: dict) -> dict:
    """What the irsa role's convergence record covers (issue #23), as nodeless.eks.convergence_record takes it: the IAM
    roles, the customer managed policies the role creates (not the ARNs it only attaches), the cluster's OIDC provider,
    and per namespace the ServiceAccounts it annotates (one list each, kept to those names)."""
    attached = {a["arn"] for e in plan for a in e.get("attach") or []}
    policies = sorted({arn for e in plan for arn in e.get("policy_arns") or []} - attached)
    provider = provider_arn(cluster.get("partition") or "aws", cluster.get("account_id"), cluster.get("oidc_issuer"))
    aws = [{"type": "iam_oidc_provider", "ids": [provider]}]
    if plan:
        aws.append({"type": "iam_role", "ids": sorted({e["role_name"] for e in plan})})
    if policies:
        aws.append({"type": "iam_policy", "ids": policies})
    namespaces = {}
    for entry in plan:
        namespaces.setdefault(entry["namespace"], set()).add(entry["service_account"])
    kubernetes = [{"api_version": "v1", "kind": "ServiceAccount", "namespace": ns, "names": sorted(names)}
                  for ns, names in sorted(namespaces.items())]
    return {"aws": aws, "kubernetes": kubernetes}
