# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EventBridge rules: validation, the canonical rule, and the plan that brings a rule to a desired state.

Pure functions (no I/O), used by the ``eventbridge_rule`` module. A rule is handled as one canonical
dict throughout (the module's ``rule`` return value and both sides of its diff)::

    {"name", "event_bus_name", "description", "event_pattern" (dict), "enabled" (bool),
     "targets": [{"id", "arn", "input"?}] (sorted by id), "tags": {key: value}, "arn"}

Event patterns are compared as parsed JSON: key order and whitespace do not matter, array order does
(EventBridge keeps a pattern as it was given). Target inputs are compared the same way.
"""

from __future__ import annotations

import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.json_document import json_object

KIND = "eventbridge-rule"
DEFAULT_BUS = "default"
MAX_TARGETS = 5  # targets per rule (EventBridge quota, not adjustable)
_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_BUS_NAME = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")
_BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/(?P<name>[/.\-_A-Za-z0-9]{1,256})$")
_TARGET_ID = _NAME
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")


class InputError(ValueError):
    """Bad input, reported before any AWS call as ``<field>: <why>``."""


# --- validation -------------------------------------------------------------------------------

def name_error(name) -> str | None:
    if not isinstance(name, str) or not name:
        return "is required"
    if len(name) > 64:
        return f"{name!r} is {len(name)} characters long; EventBridge allows at most 64"
    if not _NAME.match(name):
        return f"{name!r} may contain only letters, digits, '.', '-' and '_'"
    return None


def bus_short_name(bus: str) -> str:
    """The event bus's name, also when it is given as an ARN."""
    match = _BUS_ARN.match(bus)
    return match.group("name") if match else bus


def bus_error(bus) -> str | None:
    if not isinstance(bus, str) or not bus:
        return "is required"
    if _BUS_ARN.match(bus) or _BUS_NAME.match(bus):
        return None
    return f"{bus!r} is neither an event bus name (letters, digits, '/', '.', '-', '_'; at most 256) nor an event bus ARN"


def parse_pattern(value, field: str = "event_pattern") -> dict:
    """The pattern as a dict: a dict is taken as is, a string is parsed as JSON. Checks the shape EventBridge requires."""
    value = json_object(value, field, InputError)
    if not value:
        raise InputError(f"{field}: must not be empty; an event pattern needs at least one field to match")
    problems = pattern_errors(value, field)
    if problems:
        raise InputError("; ".join(problems))
    return value


def pattern_errors(pattern: dict, path: str) -> list[str]:
    """Every field of an event pattern must hold an array of match values or a nested object."""
    errors = []
    for key, val in pattern.items():
        where = f"{path}.{key}"
        if isinstance(val, dict):
            if not val:
                errors.append(f"{where}: an empty object matches nothing")
            else:
                errors.extend(pattern_errors(val, where))
        elif isinstance(val, list):
            if not val:
                errors.append(f"{where}: an empty array matches nothing")
        else:
            errors.append(f"{where}: must be an array of match values or an object, not {json.dumps(val)}")
    return errors


def parse_targets(targets, field: str = "targets") -> list[dict] | None:
    """Validated targets ``[{id, arn, input?}]`` sorted by id, or None when targets are not managed."""
    if targets is None:
        return None
    if len(targets) > MAX_TARGETS:
        raise InputError(f"{field}: {len(targets)} targets; EventBridge allows at most {MAX_TARGETS} per rule")
    seen = {}
    out = []
    for index, target in enumerate(targets):
        where = f"{field}[{index}]"
        if not isinstance(target, dict):
            raise InputError(f"{where}: must be a dict with id and arn")
        tid, arn = target.get("id"), target.get("arn")
        if not tid:
            raise InputError(f"{where}.id: is required")
        problem = name_error(tid)
        if problem:
            raise InputError(f"{where}.id: {problem}")
        if tid in seen:
            raise InputError(f"{where}.id: {tid!r} is already used by {field}[{seen[tid]}]")
        seen[tid] = index
        if not arn:
            raise InputError(f"{where}.arn: is required")
        if not isinstance(arn, str) or not _ARN.match(arn):
            raise InputError(f"{where}.arn: {arn!r} is not an ARN (arn:<partition>:<service>:<region>:<account>:<resource>)")
        entry = {"id": tid, "arn": arn}
        if target.get("input") is not None:
            text = target["input"]
            if not isinstance(text, str):
                text = json.dumps(text)
            try:
                json.loads(text)
            except ValueError as exc:
                raise InputError(f"{where}.input: not valid JSON: {exc}") from None
            entry["input"] = text
        out.append(entry)
    return sorted(out, key=lambda t: t["id"])


def desired_rule(params: dict) -> dict:
    """The rule the module's parameters describe, validated. ``description``, ``targets`` and ``tags``
    are None when not given (left as they are)."""
    problem = name_error(params.get("name"))
    if problem:
        raise InputError(f"name: {problem}")
    bus = params.get("event_bus_name") or DEFAULT_BUS
    problem = bus_error(bus)
    if problem:
        raise InputError(f"event_bus_name: {problem}")
    want = {"name": params["name"], "event_bus_name": bus_short_name(bus)}
    if params.get("state", "present") == "absent":
        return want
    if params.get("event_pattern") in (None, ""):
        raise InputError("event_pattern: is required when state=present")
    want["event_pattern"] = parse_pattern(params["event_pattern"])
    want["description"] = params.get("description")
    if want["description"] is not None and len(want["description"]) > 512:
        raise InputError(f"description: {len(want['description'])} characters; EventBridge allows at most 512")
    want["enabled"] = bool(params.get("enabled", True))
    want["targets"] = parse_targets(params.get("targets"))
    tags = params.get("tags")
    want["tags"] = None if tags is None else {str(k): str(v) for k, v in tags.items()}
    return want


def desired_rules(params: dict) -> list[dict]:
    """The rules of one module run: ``name`` alone, or every entry of ``rules``. An entry takes the
    top-level ``event_bus_name`` and ``enabled`` unless it sets its own, and always the top-level ``state``;
    messages name the entry (``rules[2].targets[0].arn: ...``), and a rule listed twice on one bus is refused."""
    if params.get("rules") is None:
        return [desired_rule(params)]
    if not params["rules"]:
        raise InputError("rules: is empty; list at least one rule, or use name")
    wants, seen = [], {}
    for index, entry in enumerate(params["rules"]):
        merged = {key: value for key, value in entry.items() if value is not None}
        merged.setdefault("event_bus_name", params.get("event_bus_name") or DEFAULT_BUS)
        merged.setdefault("enabled", params.get("enabled", True))
        merged["state"] = params.get("state", "present")
        try:
            want = desired_rule(merged)
        except InputError as exc:
            raise InputError(f"rules[{index}].{exc}") from None
        key = (want["event_bus_name"], want["name"])
        if key in seen:
            raise InputError(f"rules[{index}].name: {want['name']!r} is already rules[{seen[key]}] on event bus {key[0]}")
        seen[key] = index
        wants.append(want)
    return wants


# --- reading ----------------------------------------------------------------------------------

def current_rule(described: dict, targets: list[dict], tags: list[dict]) -> dict:
    """The canonical rule from DescribeRule, ListTargetsByRule and ListTagsForResource output."""
    pattern = described.get("EventPattern")
    try:
        pattern = json.loads(pattern) if isinstance(pattern, str) else (pattern or {})
    except ValueError:
        pattern = {"unparsable": [pattern]}
    out_targets = []
    for target in targets:
        entry = {"id": target["Id"], "arn": target["Arn"]}
        if target.get("Input") is not None:
            entry["input"] = target["Input"]
        out_targets.append(entry)
    return {
        "name": described["Name"],
        "event_bus_name": bus_short_name(described.get("EventBusName") or DEFAULT_BUS),
        "arn": described.get("Arn"),
        "description": described.get("Description") or "",
        "event_pattern": pattern,
        "enabled": described.get("State", "ENABLED") != "DISABLED",
        "targets": sorted(out_targets, key=lambda t: t["id"]),
        "tags": {t["Key"]: t["Value"] for t in tags or []},
    }


def rule_arn(partition: str, region: str, account: str, bus: str, name: str) -> str:
    """The ARN EventBridge gives a rule: ``rule/<name>`` on the default bus, ``rule/<bus>/<name>`` on others."""
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"arn:{partition}:events:{region}:{account}:rule/{path}"


# --- planning ---------------------------------------------------------------------------------

def _same_input(left, right) -> bool:
    if left is None or right is None:
        return left is right
    try:
        return json.loads(left) == json.loads(right)
    except ValueError:
        return left == right


def _same_target(left: dict, right: dict) -> bool:
    return left["arn"] == right["arn"] and _same_input(left.get("input"), right.get("input"))


def plan(current: dict | None, want: dict, purge_tags: bool = True) -> dict:
    """What it takes to go from ``current`` (None: no rule) to ``want`` (from :func:`desired_rule`).

    Returns ``{create, rule_fields, put_targets, remove_targets, set_tags, unset_tags}``: ``rule_fields``
    names the rule's own fields that differ (one PutRule call covers them), ``put_targets`` the targets to
    put (new or different), ``remove_targets`` the ids of targets no longer wanted (only when targets are
    managed), ``set_tags`` / ``unset_tags`` the tag changes (only when tags are managed).
    """
    if current is None:
        return {"create": True, "rule_fields": ["event_pattern"], "put_targets": list(want["targets"] or []),
                "remove_targets": [], "set_tags": dict(want["tags"] or {}), "unset_tags": []}
    fields = []
    if current["event_pattern"] != want["event_pattern"]:
        fields.append("event_pattern")
    if want["description"] is not None and current["description"] != want["description"]:
        fields.append("description")
    if current["enabled"] != want["enabled"]:
        fields.append("enabled")
    put, remove = [], []
    if want["targets"] is not None:
        have = {t["id"]: t for t in current["targets"]}
        put = [t for t in want["targets"] if t["id"] not in have or not _same_target(have[t["id"]], t)]
        wanted_ids = {t["id"] for t in want["targets"]}
        remove = sorted(tid for tid in have if tid not in wanted_ids)
    set_tags, unset_tags = {}, []
    if want["tags"] is not None:
        set_tags, unset_tags = compare_aws_tags(current["tags"], want["tags"], purge_tags)
        unset_tags = sorted(unset_tags)
    return {"create": False, "rule_fields": fields, "put_targets": put, "remove_targets": remove,
            "set_tags": set_tags, "unset_tags": unset_tags}


def is_noop(steps: dict) -> bool:
    return not (steps["create"] or steps["rule_fields"] or steps["put_targets"] or steps["remove_targets"]
                or steps["set_tags"] or steps["unset_tags"])


def after_rule(current: dict | None, want: dict, steps: dict, arn: str | None) -> dict:
    """The canonical rule once ``steps`` are carried out (what check mode reports as ``rule``)."""
    base = current or {"name": want["name"], "event_bus_name": want["event_bus_name"], "description": "",
                       "targets": [], "tags": {}}
    after = dict(base, event_pattern=want["event_pattern"], enabled=want["enabled"], arn=arn or base.get("arn"))
    if want["description"] is not None:
        after["description"] = want["description"]
    if want["targets"] is not None:
        after["targets"] = [dict(t) for t in want["targets"]]
    tags = {k: v for k, v in base["tags"].items() if k not in steps["unset_tags"]}
    tags.update(steps["set_tags"])
    after["tags"] = tags
    return after


def detail(steps: dict) -> str:
    """A short, deterministic description of a change (the same in check mode and in the real run)."""
    parts = list(steps["rule_fields"])
    if steps["put_targets"]:
        parts.append("put targets " + ", ".join(t["id"] for t in steps["put_targets"]))
    if steps["remove_targets"]:
        parts.append("remove targets " + ", ".join(steps["remove_targets"]))
    if steps["set_tags"] or steps["unset_tags"]:
        parts.append("tags")
    return "; ".join(parts)


def changes(want: dict, steps: dict | None, current: dict | None, state: str) -> list[dict]:
    """The ``changes`` entries: one per rule added, changed or removed."""
    namespace = None if want["event_bus_name"] == DEFAULT_BUS else want["event_bus_name"]
    if state == "absent":
        return [change("aws", KIND, want["name"], "remove", namespace=namespace)] if current else []
    if steps is None or is_noop(steps):
        return []
    action = "add" if steps["create"] else "change"
    return [change("aws", KIND, want["name"], action, namespace=namespace, detail=None if steps["create"] else detail(steps))]


# --- requests ---------------------------------------------------------------------------------

def put_rule_request(want: dict, current: dict | None, described: dict | None = None) -> dict:
    """PutRule replaces the whole rule, so fields this module does not manage (a schedule, a role)
    are carried over from ``described`` (the DescribeRule output)."""
    request = {"Name": want["name"], "EventBusName": want["event_bus_name"],
               "EventPattern": json.dumps(want["event_pattern"]),
               "State": "ENABLED" if want["enabled"] else "DISABLED"}
    description = want["description"] if want["description"] is not None else (current or {}).get("description")
    if description:
        request["Description"] = description
    for key in ("ScheduleExpression", "RoleArn"):
        if (described or {}).get(key):
            request[key] = described[key]
    if current is None and want["tags"]:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(want["tags"].items())]
    return request


def targets_request(targets: list[dict]) -> list[dict]:
    out = []
    for target in targets:
        entry = {"Id": target["id"], "Arn": target["arn"]}
        if target.get("input") is not None:
            entry["Input"] = target["input"]
        out.append(entry)
    return out
