# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Customer managed IAM policies, several per call, each read by its ARN (pure logic of ``iam_managed_policies``).

A policy's ARN is ``arn:<partition>:iam::<account>:policy<path><name>``, so the module reads each policy
with two calls (GetPolicy, GetPolicyVersion of the default) instead of listing every policy of the
account (over a thousand AWS managed ones, a dozen pages) to find it by name.
"""

from __future__ import annotations

import re

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.iam_policy_documents import MANAGED_POLICY_LIMIT, document_size, documents_differ
from ansible_collections.nodeless.eks.plugins.module_utils.json_document import json_object
from ansible_collections.nodeless.eks.plugins.module_utils.names import iam_path_error, is_policy_name

MAX_VERSIONS = 5  # IAM keeps at most five versions of a managed policy
_DESCRIPTION_MAX = 1000


class InputError(ValueError):
    """Bad input, named by its field; raised before any AWS call."""


def _field(index: int, key: str = "") -> str:
    return f"policies[{index}]" + (f".{key}" if key else "")


def desired_policies(policies, description: str | None = None) -> list[dict]:
    """Each entry as {name, path, document, description}; errors name the field."""
    if not isinstance(policies, list):
        raise InputError("policies: must be a list of {name, document, path, description}")
    out, seen = [], {}
    for index, entry in enumerate(policies):
        if not isinstance(entry, dict):
            raise InputError(f"{_field(index)}: must be a dictionary with name and document")
        unknown = sorted(set(entry) - {"name", "path", "document", "description"})
        if unknown:
            raise InputError(f"{_field(index, unknown[0])}: unknown key (known: name, path, document, description)")
        name = entry.get("name")
        if not isinstance(name, str) or not is_policy_name(name):
            raise InputError(f"{_field(index, 'name')}: {name!r} is not an IAM policy name (1 to 128 of letters, digits and +=,.@_-)")
        path = entry.get("path") or "/"
        problem = iam_path_error(path)
        if problem:
            raise InputError(f"{_field(index, 'path')}: {problem}")
        document = json_object(entry.get("document"), _field(index, "document"), InputError)
        if "Statement" not in document:
            raise InputError(f"{_field(index, 'document')}: a policy document needs a Statement")
        size = document_size(document)
        if size > MANAGED_POLICY_LIMIT:
            raise InputError(f"{_field(index, 'document')}: {size} characters, over IAM's limit of {MANAGED_POLICY_LIMIT}")
        text = entry.get("description") if entry.get("description") is not None else description
        if text is not None and len(str(text)) > _DESCRIPTION_MAX:
            raise InputError(f"{_field(index, 'description')}: longer than {_DESCRIPTION_MAX} characters")
        key = path + name
        if name in seen:
            raise InputError(f"{_field(index, 'name')}: {name!r} is already listed at {_field(seen[name])} (names are unique in an account)")
        seen[name] = index
        out.append({"index": index, "name": name, "path": path, "key": key, "document": document,
                    "description": None if text is None else str(text)})
    return out


def account_of(account_id: str | None, partition: str) -> tuple[str, str] | None:
    """``(partition, account)`` when the caller states them (no GetCallerIdentity call needed), else None."""
    if not account_id:
        return None
    if not re.match(r"^\d{12}$", account_id):
        raise InputError(f"account_id: {account_id!r} is not a 12-digit AWS account ID")
    if not re.match(r"^aws(-[a-z]+)*$", partition or ""):
        raise InputError(f"partition: {partition!r} is not an AWS partition (aws, aws-cn, aws-us-gov, ...)")
    return partition, account_id


def policy_arn(partition: str, account: str, path: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:policy{path}{name}"


def tag_steps(current: dict, wanted: dict | None, purge: bool) -> tuple[dict, list]:
    """(tags to set, tag keys to remove), as amazon.aws compares them (``aws:`` tags are never removed);
    nothing when tags are not given."""
    if wanted is None:
        return {}, []
    return compare_aws_tags(current, {str(k): str(v) for k, v in wanted.items()}, purge)


def plan(current: dict | None, want: dict, tags: dict | None, purge_tags: bool) -> dict:
    """What one policy needs: create it, a new default version, tags set or removed (nothing = {})."""
    if current is None:
        return {"create": True, "new_version": False, "set_tags": dict(tags or {}), "unset_tags": []}
    set_tags, unset_tags = tag_steps(current["tags"], tags, purge_tags)
    return {"create": False, "new_version": documents_differ(current["document"], want["document"]),
            "set_tags": set_tags, "unset_tags": unset_tags}


def is_noop(steps: dict) -> bool:
    return not (steps["create"] or steps["new_version"] or steps["set_tags"] or steps["unset_tags"])


def version_to_delete(versions: list[dict]) -> str | None:
    """The oldest non-default version when IAM's five are used up (a new version needs room), else None."""
    if len(versions) < MAX_VERSIONS:
        return None
    others = sorted((v for v in versions if not v.get("IsDefaultVersion")), key=lambda v: (str(v.get("CreateDate")), v["VersionId"]))
    return others[0]["VersionId"] if others else None


def after(current: dict | None, want: dict, steps: dict, arn: str) -> dict:
    """The policy as it is after the run (as it would be, in check mode)."""
    tags = dict((current or {}).get("tags") or {})
    for key in steps["unset_tags"]:
        tags.pop(key, None)
    tags.update(steps["set_tags"])
    description = current.get("description") if current else want["description"]
    return {"name": want["name"], "path": want["path"], "arn": arn, "description": description,
            "document": want["document"], "tags": tags}


def detail(steps: dict) -> str:
    parts = []
    if steps["new_version"]:
        parts.append("document (new default version)")
    if steps["set_tags"] or steps["unset_tags"]:
        parts.append("tags")
    return "; ".join(parts)


def changes(want: dict, steps: dict) -> list[dict]:
    if is_noop(steps):
        return []
    if steps["create"]:
        return [change("aws", "iam-policy", want["key"].lstrip("/"), "add")]
    return [change("aws", "iam-policy", want["key"].lstrip("/"), "change", detail=detail(steps))]


def description_warning(current: dict | None, want: dict) -> str | None:
    """IAM cannot change a policy's description after creation: say so instead of pretending."""
    if current and want["description"] is not None and (current.get("description") or "") != want["description"]:
        return (f"{_field(want['index'], 'description')}: policy {want['name']} keeps its description "
                f"{current.get('description') or ''!r}; IAM cannot change a description after creation")
    return None
