# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM policy documents: rendering the collection's templates (``${name}`` placeholders), comparing two documents
as IAM reads them, measuring them against IAM's size quotas and splitting what is too large.

Pure functions. Used by the ``iam_policy`` lookup, the irsa plan (``irsa_plan``) and ``iam_managed_policies``.
"""

from __future__ import annotations

import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

MANAGED_POLICY_LIMIT = 6144  # characters, whitespace excluded (IAM quota, not adjustable)

_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
_ZONE_ID = re.compile(r"^(/hostedzone/)?([A-Z0-9]{1,32})$")
_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_GIVEN_AS = {"hosted_zone_arns": "hosted_zone_ids"}  # derived parameters, named as the caller spells them


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
