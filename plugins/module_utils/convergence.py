# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The convergence record of a capability and the gate that compares it with the live state (issue #23).

After a role converged, it stores what it converged to in the cluster: one ConfigMap per capability
(``nodeless-eks-<capability>`` in namespace ``nodeless-eks``), whose ``record.json`` is human-readable JSON:

- ``schema`` / ``version``: the record's schema and the nodeless.eks version that wrote it;
- ``written_at``: when its content last changed;
- ``inputs``: sha256 of the role's effective inputs (canonical JSON);
- ``kubernetes``: the objects the role manages (kind, namespace, name, uid, and ``generation`` for kinds
  whose spec no controller writes, else ``resourceVersion``);
- ``aws``: the AWS resources the role manages (type, id, sha256 of what is managed on it);
- ``helm``: release revisions;
- ``files`` (optional): files the role writes on the host it runs on (path, sha256 of the bytes, mode);
- ``valid_until`` (optional): epoch seconds after which the record no longer holds whatever the live state says
  (a kubeconfig's token is renewed before it expires).

On the next run the gate reads the live state the same way and compares (:func:`compare`): in sync only when
the inputs digest and every entry are equal. A record from a newer version or schema is not trusted, one that
is not a record is ignored with a warning, and a failed read is never in sync. Pure functions only; the module
``nodeless.eks.convergence_record`` does the reads and the write.
"""

from __future__ import annotations

import hashlib
import json
import re
import time

SCHEMA = 1
# The collection's version (galaxy.yml; a unit test keeps the two equal).
VERSION = "0.1.0"
NAMESPACE = "nodeless-eks"
DATA_KEY = "record.json"
LABELS = {"app.kubernetes.io/managed-by": "nodeless.eks", "app.kubernetes.io/component": "convergence-record"}
# spec_except_replicas: a Deployment a HorizontalPodAutoscaler scales (istiod). Scaling moves its generation; the gate
# should not fall through each time the autoscaler acted, yet any other change to its spec is drift.
# data: a legacy token Secret, whose resourceVersion the API server moves when it marks the token used (the
# kubernetes.io/legacy-token-last-used label); its uid and a digest of its data (the token) are what matter.
TRACKS = ("generation", "resourceVersion", "spec_except_replicas", "data")
# Where the records live and how they are written (doc fragment nodeless.eks.convergence).
RECORD_STORE_ARGS = dict(
    namespace=dict(type="str", default=NAMESPACE),
    field_manager=dict(type="str", default="nodeless-eks-convergence"),
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
)


class RecordError(Exception):
    """The stored text is not a record this code can read."""


def canonical(value) -> str:
    """Canonical JSON: sorted keys, no spaces, text for what JSON lacks."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value) -> str:
    return "sha256:" + hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def is_capability_name(name) -> bool:
    """Whether NAME can name a record (its ConfigMap): lowercase letters, digits, - and _ (at most 50)."""
    return isinstance(name, str) and re.fullmatch(r"[a-z0-9]([a-z0-9_-]{0,48}[a-z0-9])?", name) is not None


def capability_errors(capability: str) -> list[str]:
    """The capability names a ConfigMap: lowercase letters, digits, - and _ (at most 50)."""
    if not is_capability_name(capability):
        return [f"capability: {capability!r} is not a capability name (lowercase letters, digits, - and _, at most 50)"]
    return []


def missing_ids(requested: list[dict], entries: list[dict]) -> list[str]:
    """One error per aws[i] whose ids were not all found by the read (ENTRIES)."""
    found = {(e["type"], e["id"]) for e in entries}
    errors = []
    for index, item in enumerate(requested):
        absent = sorted({i for i in item["ids"] if (item["type"], i) not in found})
        if absent:
            errors.append(f"aws[{index}].ids: {item['type']} not found: {', '.join(absent)}")
    return errors


def fact_name(capability: str) -> str:
    """The host fact a capability's gate or record write leaves for the run's gate (convergence_run.py)."""
    return "nodeless_eks_record_" + capability.replace("-", "_")


def configmap_name(capability: str) -> str:
    return "nodeless-eks-" + capability.replace("_", "-").lower()


def k8s_entry(obj: dict, track: str) -> dict:
    """What the record keeps of one live object."""
    meta = obj.get("metadata") or {}
    entry = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"), "uid": meta.get("uid")}
    if meta.get("namespace"):
        entry["namespace"] = meta["namespace"]
    if track == "data":
        entry["data"] = digest(obj.get("data") or {})
    elif track == "spec_except_replicas" and isinstance(obj.get("spec"), dict):
        entry["spec"] = digest({k: v for k, v in obj["spec"].items() if k != "replicas"})
    elif track == "generation" and meta.get("generation") is not None:
        entry["generation"] = meta["generation"]
    else:
        entry["resourceVersion"] = meta.get("resourceVersion")
    return entry


def aws_entry(resource_type: str, resource_id: str, managed) -> dict:
    """One AWS resource: its type, id and a digest of what is managed on it (tags, routes, a policy document)."""
    return {"type": resource_type, "id": resource_id, "sha256": digest(managed)}


def ec2_tags(resource: dict) -> dict:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def asg_tags(group: dict) -> dict:
    return {t["Key"]: [t.get("Value"), bool(t.get("PropagateAtLaunch"))] for t in group.get("Tags") or []}


def route_tables(tables: list) -> dict:
    """{route table id: its associations and routes}: what decides whether a subnet is public or private."""
    result = {}
    for table in tables:
        associations = sorted(("main" if a.get("Main") else a.get("SubnetId") or a.get("GatewayId") or "")
                              for a in table.get("Associations") or [])
        routes = sorted(canonical({k: v for k, v in route.items() if k not in ("State", "Origin")})
                        for route in table.get("Routes") or [])
        result[table["RouteTableId"]] = {"associations": associations, "routes": routes}
    return result


def iam_role(detail: dict) -> dict:
    """What the record covers of an IAM role (a RoleDetail of GetAccountAuthorizationDetails): its id (a role deleted
    and made again is another role), path, trust policy, attached managed policy ARNs, inline policies (name and
    document), permissions boundary and tags. Not RoleLastUsed, which moves whenever the role is used."""
    return {"role_id": detail.get("RoleId"), "path": detail.get("Path"), "trust": detail.get("AssumeRolePolicyDocument"),
            "managed": sorted(p.get("PolicyArn") for p in detail.get("AttachedManagedPolicies") or []),
            "inline": {p.get("PolicyName"): p.get("PolicyDocument") for p in detail.get("RolePolicyList") or []},
            "boundary": (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
            "tags": ec2_tags(detail)}


def iam_policy(policy: dict) -> dict:
    """What the record covers of a customer managed policy (a ManagedPolicyDetail of GetAccountAuthorizationDetails):
    its id, path, default version id and that version's document, and every version id (a version added or deleted
    out of band changes it, default or not). Not AttachmentCount or UpdateDate, which other roles' attachments move."""
    versions = policy.get("PolicyVersionList") or []
    default = next((v for v in versions if v.get("VersionId") == policy.get("DefaultVersionId")), {})
    return {"policy_id": policy.get("PolicyId"), "path": policy.get("Path"), "default_version": policy.get("DefaultVersionId"),
            "document": default.get("Document"), "versions": sorted(v.get("VersionId") for v in versions)}


def oidc_provider(provider: dict) -> dict:
    """What the record covers of an IAM OIDC provider (GetOpenIDConnectProvider): URL, audiences, thumbprints, tags."""
    return {"url": provider.get("Url"), "client_ids": sorted(provider.get("ClientIDList") or []),
            "thumbprints": sorted(provider.get("ThumbprintList") or []), "tags": ec2_tags(provider)}


def fargate_profile(profile: dict) -> dict:
    """What the record covers of a Fargate profile (DescribeFargateProfile): its ARN (a profile deleted and made again
    under the same name has another), pod execution role, subnets, selectors, tags and status. EKS cannot change a
    profile in place; tags aside, a changed profile is a new one."""
    return {"arn": profile.get("fargateProfileArn"), "role": profile.get("podExecutionRoleArn"),
            "subnets": sorted(profile.get("subnets") or []), "selectors": profile.get("selectors") or [],
            "tags": profile.get("tags") or {}, "status": profile.get("status")}


def eks_addon(addon: dict) -> dict:
    """What the record covers of an EKS add-on (DescribeAddon's ``addon``): what the addons role sets on it (version,
    configuration values, IRSA role, Pod Identity association ARNs) and its status (a failed add-on is applied again).
    Not its health issues, tags or timestamps."""
    return {"version": addon.get("addonVersion"), "configurationValues": addon.get("configurationValues") or "",
            "serviceAccountRoleArn": addon.get("serviceAccountRoleArn"),
            "podIdentityAssociations": sorted(addon.get("podIdentityAssociations") or []), "status": addon.get("status")}


def file_entry(path: str, data: bytes, mode: int) -> dict:
    """One file the role wrote: its path, a sha256 of its bytes (never the bytes: a kubeconfig holds a token) and mode."""
    return {"path": path, "sha256": "sha256:" + hashlib.sha256(data).hexdigest(), "mode": f"{mode & 0o7777:04o}"}


def _key(entry: dict) -> tuple:
    if "path" in entry:
        return ("file", entry["path"])
    if "type" in entry:
        return ("aws", entry["type"], entry["id"])
    if "release" in entry:
        return ("helm", entry.get("namespace") or "", entry["release"])
    return ("k8s", entry.get("kind") or "", entry.get("namespace") or "", entry.get("name") or "")


def _sorted(entries: list) -> list:
    return sorted(entries, key=_key)


def build(capability: str, inputs_digest: str, snapshot: dict, written_at: str, valid_until: int | None = None) -> dict:
    """A record from a live snapshot ({kubernetes, aws, helm, files} lists of entries); files and valid_until only
    when there are (records of roles that write no file read as before)."""
    record = {
        "schema": SCHEMA,
        "collection": "nodeless.eks",
        "version": VERSION,
        "capability": capability,
        "written_at": written_at,
        "inputs": inputs_digest,
        "kubernetes": _sorted(snapshot.get("kubernetes") or []),
        "aws": _sorted(snapshot.get("aws") or []),
        "helm": _sorted(snapshot.get("helm") or []),
    }
    if snapshot.get("files"):
        record["files"] = _sorted(snapshot["files"])
    if valid_until is not None:
        record["valid_until"] = int(valid_until)
    return record


def content(record: dict | None) -> dict | None:
    """The record without the time it was written: what decides whether it must be written again."""
    if record is None:
        return None
    return {k: v for k, v in record.items() if k != "written_at"}


def render(record: dict) -> str:
    """The ConfigMap's text: indented, sorted, one entry per line where it fits."""
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def configmap(record: dict, namespace: str) -> dict:
    """The ConfigMap that stores RECORD."""
    labels = dict(LABELS, **{"nodeless.eks/capability": record["capability"]})
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": configmap_name(record["capability"]), "namespace": namespace, "labels": labels},
            "data": {DATA_KEY: render(record)}}


def _version_tuple(text) -> tuple:
    parts = []
    for part in str(text).split("-", 1)[0].split("."):
        if not part.isdigit():
            raise RecordError(f"version {text!r} is not X.Y.Z")
        parts.append(int(part))
    return tuple(parts)


def load(text, required: tuple) -> dict:
    """The JSON object stored as TEXT, with the REQUIRED keys, a numeric schema and an X.Y.Z version (a record's or the
    run record's head); RecordError when it is not one."""
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise RecordError("not a JSON object")
    missing = [k for k in required if k not in document]
    if missing:
        raise RecordError("missing " + ", ".join(missing))
    if not isinstance(document["schema"], int) or isinstance(document["schema"], bool):
        raise RecordError("schema is not a number")
    _version_tuple(document["version"])
    return document


def parse(text) -> dict:
    """The record stored as TEXT; RecordError when it is not one."""
    record = load(text, ("schema", "version", "capability", "written_at", "inputs", "kubernetes", "aws", "helm"))
    for part in ("kubernetes", "aws", "helm"):
        if not isinstance(record[part], list) or not all(isinstance(e, dict) for e in record[part]):
            raise RecordError(f"{part} is not a list of objects")
    if not all({"type", "id", "sha256"} <= set(e) for e in record["aws"]):
        raise RecordError("an aws entry lacks type, id or sha256")
    if not all({"kind", "name"} <= set(e) for e in record["kubernetes"]):
        raise RecordError("a kubernetes entry lacks kind or name")
    if not all({"release", "revision"} <= set(e) for e in record["helm"]):
        raise RecordError("a helm entry lacks release or revision")
    files = record.get("files", [])
    if not isinstance(files, list) or not all(isinstance(e, dict) and {"path", "sha256", "mode"} <= set(e) for e in files):
        raise RecordError("files is not a list of {path, sha256, mode}")
    if record.get("valid_until") is not None and (not isinstance(record["valid_until"], int) or isinstance(record["valid_until"], bool)):
        raise RecordError("valid_until is not a number")
    return record


def trust(record: dict) -> str | None:
    """Why a readable record must not be trusted (written by a newer collection or schema), else None."""
    if _version_tuple(record["version"]) > _version_tuple(VERSION):
        return f"record written by nodeless.eks {record['version']}, newer than this {VERSION}: full path"
    if record["schema"] != SCHEMA:
        return f"record schema {record['schema']}, this nodeless.eks {VERSION} reads schema {SCHEMA}: full path"
    return None


def _label(entry: dict) -> str:
    if "path" in entry:
        return f"file {entry['path']}"
    if "type" in entry:
        return f"aws {entry['type']} {entry['id']}"
    if "release" in entry:
        return f"helm release {entry.get('namespace', '')}/{entry['release']}".replace(" /", " ")
    where = f"{entry['namespace']}/" if entry.get("namespace") else ""
    return f"{entry.get('kind')} {where}{entry.get('name')}"


def differences(recorded: list, live: list) -> list[str]:
    """What differs between the recorded and the live entries of one part, one reason per object."""
    before = {_key(e): e for e in recorded}
    after = {_key(e): e for e in live}
    reasons = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            reasons.append(f"{_label(before[key])}: gone")
        elif key not in before:
            reasons.append(f"{_label(after[key])}: not in the record")
        elif before[key] != after[key]:
            fields = sorted(k for k in set(before[key]) | set(after[key]) if before[key].get(k) != after[key].get(k))
            reasons.append(f"{_label(after[key])}: {', '.join(fields)} changed")
    return reasons


PARTS = ("kubernetes", "aws", "helm", "files")


def compare(record: dict | None, inputs_digest: str, snapshot: dict, now: float) -> tuple[bool, list[str]]:
    """(in sync, reasons) for a trusted RECORD (None: there is none) against the live SNAPSHOT and the inputs, at
    NOW (epoch seconds; a record past its valid_until no longer holds).

    SNAPSHOT holds ``errors``: any read that failed makes the answer "not in sync"."""
    if record is None:
        return False, ["no record: full path"]
    reasons = [f"read failed: {e}" for e in snapshot.get("errors") or []]
    if record.get("inputs") != inputs_digest:
        reasons.append("the role's inputs changed")
    if record.get("valid_until") is not None and now >= record["valid_until"]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record["valid_until"]))
        reasons.append(f"the record held until {stamp} (a renewal is due)")
    if not reasons:
        for part in PARTS:
            reasons += differences(record.get(part) or [], snapshot.get(part) or [])
    return not reasons, reasons


def count(record: dict) -> int:
    return sum(len(record.get(part) or []) for part in PARTS)


def message(capability: str, in_sync: bool, record: dict | None, reasons: list[str], limit: int = 3) -> str:
    """The one line the role prints."""
    if in_sync:
        return f"{capability}: in sync (record {record['written_at']}, {count(record)} objects)"
    shown = reasons[:limit] + ([f"{len(reasons) - limit} more"] if len(reasons) > limit else [])
    return f"{capability}: not in sync, full path ({'; '.join(shown)})"


def drifted(gate: dict, kinds: list) -> bool:
    """Whether a gate's result (the module's return; a skipped task's is empty) found an object of one of KINDS
    edited, deleted or added out of band while the inputs were those of a trusted record. A role whose own
    comparison would not see that edit (Helm upgrades only when the chart or the values differ) re-applies then.
    A failed read or changed inputs name no object, so they never count."""
    if not isinstance(gate, dict) or gate.get("in_sync") or not gate.get("record"):
        return False
    prefixes = tuple(f"{kind} " for kind in kinds or [])
    return any(str(reason).startswith(prefixes) for reason in gate.get("reasons") or []) if prefixes else False


SQS_VOLATILE = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")


def sqs_queue(attributes: dict) -> dict:
    """What a queue's record keeps: every attribute (policy, retention, encryption, its ARN and creation time, so a
    queue made again is found) but the message counts, which move with the traffic."""
    return {k: v for k, v in (attributes or {}).items() if k not in SQS_VOLATILE}


def eventbridge_rules(rules: list) -> dict:
    """{rule name: what ListRules says of it} for the rules under one name prefix: an added, deleted, disabled or
    edited rule changes it. (ListRules does not return targets.)"""
    return {r["Name"]: {k: v for k, v in r.items() if k != "Name"} for r in rules or []}
