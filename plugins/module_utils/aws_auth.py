# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``kube-system/aws-auth`` ConfigMap merge: each owner edits only the entries it made.

``mapRoles`` and ``mapUsers`` are YAML lists inside single string fields, so server-side apply
cannot split ownership per entry. Ownership is recorded instead in one annotation, a JSON object
``{owner: {"mapRoles": [arn...], "mapUsers": [arn...]}}``: an owner's entries that it no longer
lists are removed, everyone else's keep their values and order (a map that changes is re-rendered
as YAML; a map that does not change keeps its exact text). Pure functions; no I/O.
"""

from __future__ import annotations

import json
import re

from ansible.module_utils.common.yaml import yaml_dump

from ansible_collections.nodeless.eks.plugins.module_utils import yaml_text

OWNERS_ANNOTATION = "nodeless.eks/aws-auth-owners"
# (data key, ARN key of an entry, IAM resource type the ARN must name)
# The module options that carry each map, named in error messages.
FIELDS = ("map_roles", "map_users")
MAPS = (("mapRoles", "rolearn", "role"), ("mapUsers", "userarn", "user"))
_ARN = r"^arn:aws[a-z-]*:iam::\d{{12}}:{kind}/[\w+=,.@/-]+$"


class AwsAuthError(ValueError):
    """Bad input or a conflict with entries owned by someone else; the message names the field."""


def _check_entry(entry, field: str, arn_key: str, kind: str) -> dict:
    if not isinstance(entry, dict):
        raise AwsAuthError(f"{field}: must be a mapping with {arn_key}, username and groups")
    unknown = sorted(set(entry) - {arn_key, "username", "groups"})
    if unknown:
        raise AwsAuthError(f"{field}: unknown keys {unknown}; expected {arn_key}, username, groups")
    arn = entry.get(arn_key)
    if not isinstance(arn, str) or not re.match(_ARN.format(kind=kind), arn):
        raise AwsAuthError(f"{field}.{arn_key}: {arn!r} is not an IAM {kind} ARN")
    groups = entry.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise AwsAuthError(f"{field}.groups: must be a list of group names")
    username = entry.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise AwsAuthError(f"{field}.username: must be a non-empty string")
    out = {arn_key: arn}
    if username:
        out["username"] = username
    out["groups"] = list(groups)
    return out


def validate(entries, field: str, arn_key: str, kind: str) -> list[dict]:
    """Normalised entries; an ARN listed twice with different settings is an error naming both places."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise AwsAuthError(f"{field}: must be a list")
    seen: dict[str, tuple[int, dict]] = {}
    out = []
    for index, entry in enumerate(entries):
        item = _check_entry(entry, f"{field}[{index}]", arn_key, kind)
        arn = item[arn_key]
        if arn in seen:
            first, earlier = seen[arn]
            if not same_mapping(earlier, item):
                raise AwsAuthError(f"{field}[{index}].{arn_key}: {arn} is already listed at {field}[{first}] "
                                   f"with groups {earlier['groups']}; one ARN cannot map to different groups")
            continue
        seen[arn] = (index, item)
        out.append(item)
    return out


def same_mapping(a: dict, b: dict) -> bool:
    return a.get("username") == b.get("username") and sorted(a.get("groups") or []) == sorted(b.get("groups") or [])


def parse_map(text: str | None, key: str) -> list:
    """A mapRoles / mapUsers string as a list (empty when absent)."""
    if not text or not text.strip():
        return []
    try:
        value = yaml_text.load(text)
    except yaml_text.YamlTextError as exc:
        raise AwsAuthError(f"aws-auth {key}: the existing ConfigMap is not valid YAML ({exc.kind}); fix it by hand first") from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise AwsAuthError(f"aws-auth {key}: the existing ConfigMap holds a {type(value).__name__}, not a list")
    return value


def parse_owners(annotation: str | None) -> dict:
    if not annotation:
        return {}
    try:
        owners = json.loads(annotation)
    except ValueError:
        return {}
    return owners if isinstance(owners, dict) else {}


def render_map(entries: list) -> str:
    return yaml_dump(entries, default_flow_style=False, sort_keys=False) if entries else ""


def _merge_one(current: list, desired: list, mine: set, others: dict, arn_key: str, field: str):
    """(merged list, ARNs now mine, [(action, arn)]) for one map."""
    by_arn = {e[arn_key]: e for e in desired}
    merged, actions, owned = [], [], set()
    present = set()
    for entry in current:
        arn = entry.get(arn_key) if isinstance(entry, dict) else None
        if arn in mine:
            if arn in by_arn:
                if not same_mapping(entry, by_arn[arn]):
                    actions.append(("change", arn))
                merged.append(by_arn[arn] if not same_mapping(entry, by_arn[arn]) else entry)
                owned.add(arn)
                present.add(arn)
            else:
                actions.append(("remove", arn))
            continue
        if arn in by_arn and arn not in present:
            if not same_mapping(entry, by_arn[arn]):
                index = next(i for i, e in enumerate(desired) if e[arn_key] == arn)
                owner = others.get(arn)
                who = f"by owner {owner!r}" if owner else "by hand or another tool"
                raise AwsAuthError(f"{field}[{index}].{arn_key}: {arn} is already mapped in aws-auth {who} with groups "
                                   f"{entry.get('groups')}; refusing to map it again with groups {by_arn[arn]['groups']}")
            present.add(arn)  # identical entry made by someone else: leave it, do not take it over
        merged.append(entry)
    for item in desired:
        if item[arn_key] not in present:
            merged.append(item)
            owned.add(item[arn_key])
            actions.append(("add", item[arn_key]))
    return merged, owned, actions


def merge(data: dict | None, annotation: str | None, owner: str, roles: list, users: list) -> dict:
    """Plan the ConfigMap for ``owner`` listing exactly ``roles`` and ``users`` (already validated).

    Returns {"data", "annotation", "actions": [(map, action, arn)], "changed"}; ``data`` keeps the
    original strings of maps whose entries did not change, so re-runs compare equal.
    """
    data = dict(data or {})
    owners = parse_owners(annotation)
    mine_before = owners.get(owner) or {}
    new_data, new_mine, actions = dict(data), {}, []
    for (key, arn_key, _kind), desired, field in zip(MAPS, (roles, users), FIELDS):
        current = parse_map(data.get(key), key)
        others = {arn: name for name, maps in owners.items() if name != owner for arn in (maps or {}).get(key, [])}
        merged, owned, done = _merge_one(current, desired, set(mine_before.get(key) or []), others, arn_key, field)
        if merged != current:
            new_data[key] = render_map(merged)
            if not merged and key not in data:
                new_data.pop(key)
        if owned:
            new_mine[key] = sorted(owned)
        actions += [(key, action, arn) for action, arn in done]
    if new_mine:
        owners[owner] = new_mine
    else:
        owners.pop(owner, None)
    new_annotation = json.dumps(owners, sort_keys=True, separators=(",", ":"))
    changed = new_data != data or owners != parse_owners(annotation)
    return {"data": new_data, "annotation": new_annotation, "actions": actions, "changed": changed}
