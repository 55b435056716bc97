# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From the ``aws-auth`` ConfigMap to EKS access entries: what each mapping becomes, and what cannot be moved.

Pure functions (no I/O); the module ``nodeless.eks.access_entries_migration`` reads and writes.

Each ``mapRoles`` / ``mapUsers`` / ``mapAccounts`` item becomes one row:

- ``entry``: an access entry this migration makes (STANDARD with Kubernetes groups and, for ``system:masters``, the
  access policy AmazonEKSClusterAdminPolicy; or a node type, EC2_LINUX / EC2_WINDOWS / FARGATE_LINUX, for a node
  role EKS does not manage: self-managed nodes, Karpenter's node role);
- ``eks``: the role of a managed node group or a Fargate profile: EKS makes its entry (EC2_LINUX / FARGATE_LINUX)
  when the authentication mode comes to include API; the migration checks it is there and makes it only if not;
- ``exists``: the principal already has an access entry made by someone else (by hand, another owner): left as is;
- ``inert``: a ``rolearn`` with a path, which aws-auth matches to nobody: it grants nothing today, nothing is made;
- ``unmigrated``: what an access entry cannot express (an account mapping, a username template other than
  ``{{SessionName}}`` / ``{{SessionNameRaw}}`` after a colon on a role, ``{{AccessKeyID}}``, another ``system:``
  group than ``system:masters`` or a node mapping's own, a reserved username prefix, one principal mapped twice
  differently). It is reported with why, never dropped, and it blocks the move to API (aws-auth keeps it working
  in API_AND_CONFIG_MAP).
"""

from __future__ import annotations

import re

from ansible_collections.nodeless.eks.plugins.module_utils import aws_auth, yaml_text

ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
NODE_GROUPS = {"system:bootstrappers", "system:nodes"}
NODE_USERNAME = {"EC2_LINUX": "system:node:{{EC2PrivateDNSName}}", "EC2_WINDOWS": "system:node:{{EC2PrivateDNSName}}",
                 "FARGATE_LINUX": "system:node:{{SessionName}}"}
NODE_EXTRA_GROUPS = {"EC2_LINUX": set(), "EC2_WINDOWS": {"eks:kube-proxy-windows"}, "FARGATE_LINUX": {"system:node-proxier"}}
RESERVED_USERNAME = ("system:", "eks:", "aws:", "amazon:", "iam:")
_TEMPLATE = re.compile(r"\{\{(\w+)\}\}")
_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)/([\w+=,.@/-]+)$")
_MAPS = (("mapRoles", "rolearn", "role"), ("mapUsers", "userarn", "user"))


class MigrationError(ValueError):
    """The ConfigMap cannot be read, or the move to API would lock a mapping out; the message names the field."""


def parse(data: dict | None) -> list[dict]:
    """Every mapping of aws-auth's ``data`` as {source, kind, arn, username, groups} (``account`` for mapAccounts)."""
    data = data or {}
    out = []
    for key, arn_key, kind in _MAPS:
        for index, item in enumerate(aws_auth.parse_map(data.get(key), key)):
            source = f"aws_auth.{key}[{index}]"
            if not isinstance(item, dict):
                raise MigrationError(f"{source}: must be a mapping with {arn_key}, username and groups, not {item!r}")
            groups = item.get("groups") or []
            if not isinstance(groups, list):
                raise MigrationError(f"{source}.groups: must be a list of group names")
            out.append({"source": source, "kind": kind, "arn": str(item.get(arn_key) or ""),
                        "username": None if item.get("username") in (None, "") else str(item["username"]),
                        "groups": [str(g) for g in groups]})
    text = data.get("mapAccounts")
    if text and text.strip():
        try:
            accounts = yaml_text.load(text)
        except yaml_text.YamlTextError as exc:
            raise MigrationError(f"aws_auth.mapAccounts: the ConfigMap's mapAccounts is not valid YAML ({exc.kind})") from None
        for index, account in enumerate(accounts if isinstance(accounts, list) else [accounts]):
            out.append({"source": f"aws_auth.mapAccounts[{index}]", "kind": "account", "arn": str(account),
                        "username": None, "groups": []})
    return out


def _username(mapping: dict, account: str) -> tuple[str | None, str | None]:
    """(the entry's username, or None for EKS's default; a reason it cannot be expressed, or None)."""
    name = mapping["username"]
    if name is None:
        return None, None
    name = name.replace("{{AccountID}}", account)  # the principal's own account: the same value every time
    if name.startswith(RESERVED_USERNAME):
        return None, (f"username {mapping['username']!r}: an access entry's username cannot start with "
                      f"{', '.join(RESERVED_USERNAME)}")
    for match in _TEMPLATE.finditer(name):
        template = match.group(0)
        if match.group(1) not in ("SessionName", "SessionNameRaw"):
            return None, (f"username {mapping['username']!r}: access entries have no {template} template "
                          "(only {{SessionName}} and {{SessionNameRaw}} of a role's session)")
        if mapping["kind"] != "role":
            return None, f"username {mapping['username']!r}: {template} needs a role's session; an IAM user has none"
        if ":" not in name[:match.start()]:
            return None, (f"username {mapping['username']!r}: EKS takes {template} only after a colon "
                          f"(e.g. 'name:{template}')")
    return name, None


def classify(mapping: dict, partition: str = "aws") -> dict:
    """The row of one mapping (see the module docstring); ``entry`` is the access entry to make, if any."""
    row = {"source": mapping["source"], "principal_arn": mapping["arn"], "outcome": "entry", "entry": None, "reason": None}
    if mapping["kind"] == "account":
        why = f"mapAccounts lets every IAM principal of account {mapping['arn']} in; an access entry names one principal"
        return dict(row, outcome="unmigrated", reason=why)
    match = _ARN.match(mapping["arn"])
    if not match or match.group(3) != mapping["kind"]:
        return dict(row, outcome="unmigrated", reason=f"{mapping['arn']!r} is not an IAM {mapping['kind']} ARN")
    if mapping["kind"] == "role" and "/" in match.group(4):
        return dict(row, outcome="inert", reason="aws-auth matches a rolearn without its path only, so this mapping grants "
                                                 "nothing today; no entry is made")
    groups = set(mapping["groups"])
    if NODE_GROUPS <= groups:
        kind = "FARGATE_LINUX" if "system:node-proxier" in groups else "EC2_WINDOWS" if "eks:kube-proxy-windows" in groups else "EC2_LINUX"
        extra = sorted(groups - NODE_GROUPS - NODE_EXTRA_GROUPS[kind])
        if mapping["kind"] != "role":
            return dict(row, outcome="unmigrated", reason="node groups (system:nodes) on an IAM user: node entries take roles only")
        if extra:
            return dict(row, outcome="unmigrated", reason=f"a node mapping with other groups {extra}: a {kind} entry takes no groups")
        if mapping["username"] not in (None, NODE_USERNAME[kind]):
            return dict(row, outcome="unmigrated", reason=(f"a node mapping with username {mapping['username']!r}: a {kind} entry's "
                                                           f"username is always {NODE_USERNAME[kind]}"))
        return dict(row, entry={"principal_arn": mapping["arn"], "type": kind, "kubernetes_groups": [], "username": None,
                                "access_policies": {}})
    system = sorted(g for g in groups if g.startswith("system:") and g != "system:masters")
    if system:
        return dict(row, outcome="unmigrated", reason=(f"groups {system}: an access entry takes no system: group, and no access "
                                                       "policy grants exactly what it does"))
    username, why = _username(mapping, match.group(2))
    if why:
        return dict(row, outcome="unmigrated", reason=why)
    policies = {}
    if "system:masters" in groups:
        policies[f"arn:{partition}:eks::aws:cluster-access-policy/{ADMIN_POLICY}"] = {"type": "cluster"}
    return dict(row, entry={"principal_arn": mapping["arn"], "type": "STANDARD", "username": username, "access_policies": policies,
                            "kubernetes_groups": sorted(groups - {"system:masters"})})


def owners_of(annotation: str | None) -> dict:
    """principal ARN -> the nodeless.eks owner that mapped it in aws-auth (the ``nodeless.eks/aws-auth-owners`` annotation)."""
    out = {}
    for name, maps in sorted(aws_auth.parse_owners(annotation).items()):
        maps = maps if isinstance(maps, dict) else {}
        for key, _arn_key, _kind in _MAPS:
            for arn in maps.get(key) if isinstance(maps.get(key), list) else []:
                out.setdefault(str(arn), str(name))
    return out


def plan(data: dict | None, current: dict, managed: dict, owner: str, partition: str = "aws", owners: str | None = None) -> dict:
    """What the migration does for aws-auth ``data``.

    ``current``: the cluster's access entries (``access_entries.read``; empty in CONFIG_MAP); ``managed``: principal ARN
    -> entry type of the roles EKS makes entries for (managed node groups EC2_LINUX, Fargate profiles FARGATE_LINUX);
    ``owners``: the aws-auth owner annotation. An entry is made under the owner that mapped its principal in aws-auth
    (the access role's ``access_owner``, ``karpenter``), so that owner, moved to access entries, finds it as its own;
    ``owner`` otherwise, and only entries tagged ``owner`` are updated later.
    Returns {"rows", "desired" (entries for ``access_entries.plan``, with ``owner`` where it is another), "eks"
    ({arn: type} EKS makes, or the migration if EKS did not), "blocking" (rows that keep the cluster out of API)}.
    """
    rows, desired, eks, seen = [], [], {}, {}
    mapped_by = owners_of(owners)
    for mapping in parse(data):
        row = classify(mapping, partition)
        arn = row["principal_arn"]
        if row["entry"] is not None and arn in seen:
            first = seen[arn]
            if first["entry"] == row["entry"]:
                rows.append(dict(row, outcome="duplicate", entry=None, reason=f"the same mapping as {first['source']}"))
            else:
                rows.append(dict(row, outcome="unmigrated", entry=None,
                                 reason=f"{arn} is mapped differently at {first['source']}; one principal has one access entry"))
            continue
        if row["entry"] is not None:
            seen[arn] = row
            have = current.get(arn)
            if arn in managed:
                if row["entry"]["type"] != managed[arn]:
                    row = dict(row, outcome="unmigrated", entry=None,
                               reason=(f"the role of a managed node group or Fargate profile, which EKS maps with a {managed[arn]} "
                                       f"entry, is mapped as {row['entry']['type']} here"))
                elif have is not None:
                    who = f"owner {have['owner']}" if have.get("owner") else "EKS"
                    row = dict(row, outcome="exists", reason=f"its {have['type']} entry is there (made by {who})")
                else:
                    row = dict(row, outcome="eks", reason=f"EKS makes its {managed[arn]} entry when the mode includes API")
                    eks[arn] = managed[arn]
            elif have is not None and have.get("owner") != owner:
                who = f"owner {have['owner']}" if have.get("owner") else "EKS, by hand or another tool"
                row = dict(row, outcome="exists", reason=f"it already has a {have['type']} access entry, made by {who}; left as is")
            else:
                if have is None and mapped_by.get(arn, owner) != owner:
                    row = dict(row, entry=dict(row["entry"], owner=mapped_by[arn]))
                desired.append(row["entry"])
        rows.append(row)
    return {"rows": rows, "desired": desired, "eks": eks, "blocking": [r for r in rows if r["outcome"] == "unmigrated"]}


def describe(row: dict) -> str:
    """One line of the plan table for a row."""
    entry = row["entry"]
    if row["outcome"] in ("entry", "eks") and entry:
        parts = [f"{entry['type']} access entry" + (" (made by EKS)" if row["outcome"] == "eks" else "")]
        if entry["kubernetes_groups"]:
            parts.append(f"Kubernetes groups {entry['kubernetes_groups']}")
        if entry["username"]:
            parts.append(f"username {entry['username']}")
        parts += [f"access policy {arn.rsplit('/', 1)[-1]} ({scope['type']})" for arn, scope in sorted(entry["access_policies"].items())]
        if entry.get("owner"):
            parts.append(f"owner {entry['owner']} (as in aws-auth)")
        return f"{row['source']} {row['principal_arn']} -> " + ", ".join(parts)
    label = {"exists": "kept", "inert": "not migrated", "duplicate": "not migrated", "unmigrated": "NOT MIGRATED (blocks API)"}
    return f"{row['source']} {row['principal_arn']} -> {label[row['outcome']]}: {row['reason']}"


def blocking_message(blocking: list) -> str:
    """Why the move to API is refused, naming each mapping."""
    return ("authentication_mode: API would lock out what aws-auth maps and access entries cannot express; keep "
            "API_AND_CONFIG_MAP (aws-auth keeps working) until these are mapped another way or removed from aws-auth: "
            + "; ".join(f"{r['source']} ({r['principal_arn']}): {r['reason']}" for r in blocking))
