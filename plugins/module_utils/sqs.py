# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQS standard queues: validation, the canonical queue, and the plan that brings a queue to a desired state.

Pure functions (no I/O), used by the ``sqs_queue`` module. A queue is handled as one canonical dict
throughout (the module's ``queue`` return value and both sides of its diff)::

    {"name", "url", "arn", "tags": {key: value},
     "attributes": {"message_retention_period", "visibility_timeout", "delay_seconds", "maximum_message_size",
                    "receive_message_wait_time_seconds" (ints), "policy" (dict or None),
                    "sse" ("sqs", "kms" or "none"), "kms_master_key_id", "kms_data_key_reuse_period_seconds"}}

The desired queue (:func:`desired_queue`) holds in ``attributes`` only the options that were given: an
option left out is not managed, so whatever value the queue has for it is no drift. Policies are compared
as parsed JSON (key order and whitespace do not matter, array order does), numbers as ints.
"""

from __future__ import annotations

import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.json_document import json_object

KIND = "sqs-queue"
MAX_NAME = 80
MAX_TAGS = 50  # tags per queue (SQS quota)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
SSE_CHOICES = ("sqs", "kms", "none")
MISSING_CODES = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")

# option -> (SQS attribute, lowest, highest, what the range means)
INT_OPTIONS = {
    "message_retention_period": ("MessageRetentionPeriod", 60, 1209600, "seconds (1 minute to 14 days)"),
    "visibility_timeout": ("VisibilityTimeout", 0, 43200, "seconds (up to 12 hours)"),
    "delay_seconds": ("DelaySeconds", 0, 900, "seconds (up to 15 minutes)"),
    "maximum_message_size": ("MaximumMessageSize", 1024, 1048576, "bytes (1 KiB to 1 MiB)"),
    "receive_message_wait_time_seconds": ("ReceiveMessageWaitTimeSeconds", 0, 20, "seconds"),
}
REUSE = ("kms_data_key_reuse_period_seconds", "KmsDataKeyReusePeriodSeconds", 60, 86400, "seconds (1 minute to 24 hours)")
# The keys of a canonical queue's ``attributes``, in the order changes are reported.
ATTRIBUTE_KEYS = tuple(INT_OPTIONS) + ("policy", "sse", "kms_master_key_id", REUSE[0])


class InputError(ValueError):
    """Bad input, reported before any AWS call as ``<field>: <why>``."""


# --- validation -------------------------------------------------------------------------------

def name_error(name) -> str | None:
    if not isinstance(name, str) or not name:
        return "is required"
    if name.endswith(".fifo"):
        return f"{name!r} names a FIFO queue; this module manages standard queues only (FIFO is not supported)"
    if len(name) > MAX_NAME:
        return f"{name!r} is {len(name)} characters long; SQS allows at most {MAX_NAME} (letters, digits, '-' and '_')"
    if not _NAME.match(name):
        return f"{name!r} may contain only letters, digits, '-' and '_' (at most {MAX_NAME} characters)"
    return None


def _int_option(option: str, value, low: int, high: int, unit: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"{option}: must be an integer, not {value!r}")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise InputError(f"{option}: must be an integer, not {value!r}") from None
    if not isinstance(value, int):
        raise InputError(f"{option}: must be an integer, not {value!r}")
    if not low <= value <= high:
        raise InputError(f"{option}: must be {low}..{high} {unit}, not {value}")
    return value


def parse_policy(value, field: str = "policy") -> dict | None:
    """The queue policy as a dict (a dict is taken as is, a string is parsed as JSON); None for an empty
    dict or an empty string (the queue has no policy)."""
    if isinstance(value, (str, bytes, bytearray)) and not value.strip():
        return None
    value = json_object(value, field, InputError)
    if not value:
        return None
    try:  # the form SQS gives back: JSON types only
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{field}: cannot be written as JSON: {exc}") from None


def parse_tags(tags, field: str = "tags") -> dict | None:
    if tags is None:
        return None
    if not isinstance(tags, dict):
        raise InputError(f"{field}: must be a dict of key: value, not {type(tags).__name__}")
    if len(tags) > MAX_TAGS:
        raise InputError(f"{field}: {len(tags)} tags; SQS allows at most {MAX_TAGS} per queue")
    out = {}
    for key, value in tags.items():
        key, value = str(key), "" if value is None else str(value)
        if not key or len(key) > 128:
            raise InputError(f"{field}: key {key!r} must be 1 to 128 characters long")
        if key.startswith("aws:"):
            raise InputError(f"{field}: key {key!r} starts with 'aws:', which is reserved for AWS")
        if len(value) > 256:
            raise InputError(f"{field}.{key}: value is {len(value)} characters long; SQS allows at most 256")
        out[key] = value
    return out


def _sse_options(params: dict) -> dict:
    """The managed encryption options: sse and, with sse=kms, the key (and its reuse period when given)."""
    sse = params.get("sse")
    key = params.get("kms_master_key_id")
    reuse = params.get(REUSE[0])
    if sse is not None and sse not in SSE_CHOICES:
        raise InputError(f"sse: must be one of {', '.join(SSE_CHOICES)}, not {sse!r}")
    if sse == "kms":
        if not key:
            raise InputError("kms_master_key_id: is required when sse=kms (a KMS key id, ARN or alias, e.g. alias/aws/sqs)")
        if not isinstance(key, str):
            raise InputError(f"kms_master_key_id: must be a string, not {type(key).__name__}")
        out = {"sse": "kms", "kms_master_key_id": key}
        if reuse is not None:
            out[REUSE[0]] = _int_option(REUSE[0], reuse, *REUSE[2:])
        return out
    shown = "not set" if sse is None else f"sse={sse}"
    if key not in (None, ""):
        raise InputError(f"kms_master_key_id: only applies with sse=kms ({shown})")
    if reuse is not None:
        raise InputError(f"{REUSE[0]}: only applies with sse=kms ({shown})")
    return {} if sse is None else {"sse": sse}


def desired_queue(params: dict) -> dict:
    """The queue the module's parameters describe, validated: ``{"name", "attributes", "tags"}``.

    ``attributes`` holds only the options that were given (the managed ones); ``tags`` is None when not
    given (left as they are). With state=absent only the name is checked and returned.
    """
    problem = name_error(params.get("name"))
    if problem:
        raise InputError(f"name: {problem}")
    want = {"name": params["name"]}
    if params.get("state", "present") == "absent":
        return want
    attributes = {}
    for option, (_attr, low, high, unit) in INT_OPTIONS.items():
        if params.get(option) is not None:
            attributes[option] = _int_option(option, params[option], low, high, unit)
    if params.get("policy") is not None:
        attributes["policy"] = parse_policy(params["policy"])
    attributes.update(_sse_options(params))
    want["attributes"] = attributes
    want["tags"] = parse_tags(params.get("tags"))
    return want


# --- SQS attributes ---------------------------------------------------------------------------

def policy_text(policy: dict | None) -> str:
    """The Policy attribute for a parsed policy; an empty string removes the queue's policy."""
    return json.dumps(policy, separators=(",", ":")) if policy else ""


def queue_attributes(attributes: dict) -> dict:
    """The CreateQueue ``Attributes`` (all strings) for the managed options of a desired queue."""
    out = {}
    for option, (attr, *_rest) in INT_OPTIONS.items():
        if option in attributes:
            out[attr] = str(attributes[option])
    if attributes.get("policy"):
        out["Policy"] = policy_text(attributes["policy"])
    sse = attributes.get("sse")
    if sse == "kms":
        # SQS allows one kind of SSE at a time: SSE-SQS is switched off explicitly.
        out["KmsMasterKeyId"] = attributes["kms_master_key_id"]
        out["SqsManagedSseEnabled"] = "false"
        if attributes.get(REUSE[0]) is not None:
            out[REUSE[1]] = str(attributes[REUSE[0]])
    elif sse is not None:
        out["SqsManagedSseEnabled"] = "true" if sse == "sqs" else "false"
    return out


# --- reading ----------------------------------------------------------------------------------

def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def current_attributes(attributes: dict) -> dict:
    """The canonical ``attributes`` from GetQueueAttributes(All) output."""
    out = {option: _int_or_none(attributes.get(attr)) for option, (attr, *_rest) in INT_OPTIONS.items()}
    text = attributes.get("Policy")
    if text:
        try:
            out["policy"] = json.loads(text)
        except ValueError:
            out["policy"] = {"unparsable": text}  # differs from every wanted policy
    else:
        out["policy"] = None
    key = attributes.get("KmsMasterKeyId") or None
    if key:
        out["sse"] = "kms"
    elif str(attributes.get("SqsManagedSseEnabled", "")).lower() == "true":
        out["sse"] = "sqs"
    else:
        out["sse"] = "none"
    out["kms_master_key_id"] = key
    out[REUSE[0]] = _int_or_none(attributes.get(REUSE[1])) if key else None
    return out


def current_queue(attributes: dict, tags: dict | None, url: str) -> dict:
    """The canonical queue from GetQueueAttributes(All) and ListQueueTags output and the queue's URL."""
    arn = attributes.get("QueueArn")
    name = arn.rsplit(":", 1)[-1] if arn else url.rstrip("/").rsplit("/", 1)[-1]
    return {"name": name, "url": url, "arn": arn, "attributes": current_attributes(attributes), "tags": dict(tags or {})}


def queue_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


# --- planning ---------------------------------------------------------------------------------

def _sse_changes(have: dict, want: dict) -> tuple[list[str], dict]:
    """(changed option names, SetQueueAttributes entries) for the encryption options."""
    if "sse" not in want:
        return [], {}
    fields, out = [], {}
    sse, now = want["sse"], have.get("sse")
    if sse == "kms":
        if now != "kms":
            fields.append("sse")
            out["KmsMasterKeyId"] = want["kms_master_key_id"]
            if now == "sqs":  # one kind of SSE at a time
                out["SqsManagedSseEnabled"] = "false"
        elif have.get("kms_master_key_id") != want["kms_master_key_id"]:
            fields.append("kms_master_key_id")
            out["KmsMasterKeyId"] = want["kms_master_key_id"]
        reuse = want.get(REUSE[0])
        if reuse is not None and (now != "kms" or have.get(REUSE[0]) != reuse):
            fields.append(REUSE[0])
            out[REUSE[1]] = str(reuse)
    elif sse != now:
        fields.append("sse")
        out["SqsManagedSseEnabled"] = "true" if sse == "sqs" else "false"
        if now == "kms":
            out["KmsMasterKeyId"] = ""  # removes SSE-KMS
    return fields, out


def _policy_differs(have, want) -> bool:
    """Compared as IAM reads a policy (amazon.aws compare_policies): key and statement order, and "x" against
    ["x"], do not make a queue policy differ; no policy on one side only does."""
    if have is None or want is None:
        return have != want
    return compare_policies(have, want)


def attribute_changes(have: dict, want: dict) -> tuple[list[str], dict]:
    """(changed option names, the SetQueueAttributes ``Attributes`` for only those) between canonical
    attributes ``have`` and the managed options ``want``."""
    fields, out = [], {}
    for option, (attr, *_rest) in INT_OPTIONS.items():
        if option in want and have.get(option) != want[option]:
            fields.append(option)
            out[attr] = str(want[option])
    if "policy" in want and _policy_differs(have.get("policy") or None, want["policy"]):
        fields.append("policy")
        out["Policy"] = policy_text(want["policy"])
    sse_fields, sse_out = _sse_changes(have, want)
    return fields + sse_fields, dict(out, **sse_out)


def plan(current: dict | None, want: dict, purge_tags: bool = True) -> dict:
    """What it takes to go from ``current`` (None: no queue) to ``want`` (from :func:`desired_queue`).

    Returns ``{create, fields, attributes, set_tags, unset_tags}``: ``attributes`` is the CreateQueue
    ``Attributes`` when creating, else the SetQueueAttributes ``Attributes`` holding only what differs
    (one call covers them); ``fields`` names the options that differ; ``set_tags`` / ``unset_tags`` are
    the tag changes (only when tags are managed; on create the tags go with CreateQueue).
    """
    if current is None:
        return {"create": True, "fields": [k for k in ATTRIBUTE_KEYS if k in want["attributes"]],
                "attributes": queue_attributes(want["attributes"]), "set_tags": dict(want["tags"] or {}), "unset_tags": []}
    fields, attributes = attribute_changes(current["attributes"], want["attributes"])
    set_tags, unset_tags = {}, []
    if want["tags"] is not None:
        set_tags, unset_tags = compare_aws_tags(current["tags"], want["tags"], purge_tags)
        unset_tags = sorted(unset_tags)
    return {"create": False, "fields": fields, "attributes": attributes, "set_tags": set_tags, "unset_tags": unset_tags}


def is_noop(steps: dict) -> bool:
    return not (steps["create"] or steps["attributes"] or steps["set_tags"] or steps["unset_tags"])


def after_attributes(have: dict | None, want: dict) -> dict:
    """The canonical attributes once the managed options ``want`` are applied to ``have`` (None: a new
    queue, whose options not given stay None: SQS's defaults, not known before it exists)."""
    out = dict(have) if have else {key: None for key in ATTRIBUTE_KEYS}
    was_kms = out.get("sse") == "kms"
    out.update(want)
    if "sse" in want:
        if want["sse"] != "kms":
            out["kms_master_key_id"] = None
            out[REUSE[0]] = None
        elif not was_kms and REUSE[0] not in want:
            out[REUSE[0]] = None
    return out


def after_queue(current: dict | None, want: dict, steps: dict, url: str | None = None, arn: str | None = None) -> dict:
    """The canonical queue once ``steps`` are carried out (what check mode reports as ``queue``)."""
    base = current or {"name": want["name"], "url": None, "arn": None, "attributes": None, "tags": {}}
    tags = {k: v for k, v in base["tags"].items() if k not in steps["unset_tags"]}
    tags.update(steps["set_tags"])
    return {"name": base["name"], "url": url or base["url"], "arn": arn or base["arn"],
            "attributes": after_attributes(base["attributes"], want["attributes"]), "tags": tags}


def detail(steps: dict) -> str:
    """A short, deterministic description of a change (the same in check mode and in the real run)."""
    parts = list(steps["fields"])
    if steps["set_tags"] or steps["unset_tags"]:
        parts.append("tags")
    return "; ".join(parts)


def changes(want: dict, steps: dict | None, current: dict | None, state: str) -> list[dict]:
    """The ``changes`` entries: one per queue added, changed or removed."""
    if state == "absent":
        return [change("aws", KIND, want["name"], "remove")] if current else []
    if steps is None or is_noop(steps):
        return []
    if steps["create"]:
        return [change("aws", KIND, want["name"], "add")]
    return [change("aws", KIND, want["name"], "change", detail=detail(steps))]
