# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS access entries for one owner: validate, read once, plan locally, then the fewest writes.

Ownership is the tag ``nodeless.eks/owner`` on each access entry: entries this owner tagged and
no longer lists are deleted; entries made by EKS, by hand or by another owner are never touched.
``validate`` and ``plan`` are pure; ``read`` and ``apply`` take a boto3 EKS client (unit-tested
with botocore's Stubber, because moto has no access-entry API).
"""

from __future__ import annotations

import re

OWNER_TAG = "nodeless.eks/owner"
TYPES = ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX")
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]+$")
_POLICY_NAME = re.compile(r"^[A-Za-z0-9]+$")


MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")


class AccessEntryError(ValueError):
    """Bad input or a conflict; the message names the field."""


def mode_step(current: str, wanted: str | None) -> str | None:
    """The authentication mode to move CURRENT to (None: nothing to do). EKS moves it only forward,
    CONFIG_MAP -> API_AND_CONFIG_MAP -> API; a change backwards is refused here, before any write."""
    if wanted is None or wanted == current:
        return None
    if wanted not in MODES:
        raise AccessEntryError(f"authentication_mode: {wanted!r} is not one of {list(MODES)}")
    if current in MODES and MODES.index(wanted) < MODES.index(current):
        raise AccessEntryError(f"authentication_mode: the cluster is in {current}, and EKS moves the authentication mode "
                               f"only forward (CONFIG_MAP -> API_AND_CONFIG_MAP -> API), so it cannot go back to {wanted}; "
                               f"set authentication_mode: {current} or leave it out")
    return wanted


def cluster_mode(client, cluster: str) -> str:
    """The cluster's authentication mode (CONFIG_MAP when EKS reports none, as for clusters made before access entries)."""
    found = client.describe_cluster(name=cluster, aws_retry=True)["cluster"]
    return (found.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP"


def set_mode(client, cluster: str, mode: str, timeout: float = 900, sleep=None) -> None:
    """UpdateClusterConfig (accessConfig), then DescribeUpdate until it succeeded; raises AccessEntryError when it
    failed or TIMEOUT seconds passed."""
    import time

    sleep = sleep or time.sleep
    update = client.update_cluster_config(name=cluster, accessConfig={"authenticationMode": mode}, aws_retry=True)["update"]
    deadline = time.monotonic() + timeout
    polls = 0
    while update.get("status") not in ("Successful", "Failed", "Cancelled"):
        if time.monotonic() > deadline:
            raise AccessEntryError(f"authentication_mode: the update of cluster {cluster} to {mode} ({update['id']}) "
                                   f"was still {update.get('status')} after {int(timeout)} s")
        if polls:
            sleep(5)
        polls += 1
        update = client.describe_update(name=cluster, updateId=update["id"], aws_retry=True)["update"]
    if update["status"] != "Successful":
        errors = "; ".join(e.get("errorMessage", "") for e in update.get("errors") or [])
        raise AccessEntryError(f"authentication_mode: the update of cluster {cluster} to {mode} {update['status']}: {errors}")


def policy_arn(value: str, partition: str, field: str) -> str:
    """Full policy ARN from an ARN or a short name such as AmazonEKSViewPolicy."""
    if isinstance(value, str) and _POLICY_ARN.match(value):
        return value
    if isinstance(value, str) and _POLICY_NAME.match(value):
        return f"arn:{partition}:eks::aws:cluster-access-policy/{value}"
    raise AccessEntryError(f"{field}: {value!r} is neither an EKS access policy ARN nor a policy name")


def available_policies(client) -> list[str]:
    """The ARNs of the access policies EKS offers (ListAccessPolicies, paginated)."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

    @AWSRetry.jittered_backoff()
    def _all():
        return client.get_paginator("list_access_policies").paginate().build_full_result().get("accessPolicies", [])

    return sorted(p["arn"] for p in _all())


def unknown_policies(entries, available, partition: str = "aws", field: str = "entries") -> list[str]:
    """A problem naming the field for each listed policy EKS does not offer (entries already validated)."""
    names = ", ".join(sorted(arn.rsplit("/", 1)[-1] for arn in available))
    problems = []
    for index, raw in enumerate(entries or []):
        for pindex, pol in enumerate(raw.get("access_policies") or []):
            parn = policy_arn(pol.get("policy_arn"), partition, f"{field}[{index}].access_policies[{pindex}].policy_arn")
            if parn not in available:
                problems.append(f"{field}[{index}].access_policies[{pindex}].policy_arn: {pol.get('policy_arn')} is not an "
                                f"EKS access policy; valid names: {names}")
    return problems


def _scope(scope, field: str) -> dict:
    scope = scope or {"type": "cluster"}
    kind = str(scope.get("type", "cluster")).lower()
    namespaces = sorted(scope.get("namespaces") or [])
    if kind == "cluster" and not namespaces:
        return {"type": "cluster"}
    if kind == "namespace" and namespaces:
        return {"type": "namespace", "namespaces": namespaces}
    raise AccessEntryError(f"{field}: type must be cluster (no namespaces) or namespace (with namespaces), not {scope!r}")


def validate(entries, partition: str = "aws", field: str = "entries") -> list[dict]:
    if not isinstance(entries, list):
        raise AccessEntryError(f"{field}: must be a list")
    out, seen = [], {}
    for index, raw in enumerate(entries):
        where = f"{field}[{index}]"
        if not isinstance(raw, dict):
            raise AccessEntryError(f"{where}: must be a mapping with principal_arn")
        arn = raw.get("principal_arn")
        if not isinstance(arn, str) or not _PRINCIPAL.match(arn):
            raise AccessEntryError(f"{where}.principal_arn: {arn!r} is not an IAM role or user ARN")
        if arn in seen:
            raise AccessEntryError(f"{where}.principal_arn: {arn} is already listed at {field}[{seen[arn]}]")
        seen[arn] = index
        kind = raw.get("type") or "STANDARD"
        if kind not in TYPES:
            raise AccessEntryError(f"{where}.type: {kind!r} is not one of {list(TYPES)}")
        groups = raw.get("kubernetes_groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) and g and not g.startswith("system:") for g in groups):
            raise AccessEntryError(f"{where}.kubernetes_groups: must be a list of group names not starting with system:")
        policies = {}
        for pindex, pol in enumerate(raw.get("access_policies") or []):
            pfield = f"{where}.access_policies[{pindex}]"
            if not isinstance(pol, dict):
                raise AccessEntryError(f"{pfield}: must be a mapping with policy_arn and access_scope")
            parn = policy_arn(pol.get("policy_arn"), partition, f"{pfield}.policy_arn")
            policies[parn] = _scope(pol.get("access_scope"), f"{pfield}.access_scope")
        if policies and kind != "STANDARD":
            raise AccessEntryError(f"{where}.access_policies: only STANDARD access entries take access policies")
        out.append({"principal_arn": arn, "type": kind, "kubernetes_groups": sorted(groups),
                    "username": raw.get("username") or None, "access_policies": policies})
    return out


def plan(desired: list[dict], current: dict, owner: str) -> list[tuple]:
    """Actions [(verb, principal_arn, detail)] turning ``current`` into ``desired`` for ``owner``.

    ``current`` maps principal ARN -> {"owner", "type", "kubernetes_groups", "username", "access_policies"}.
    verbs: create, update, associate, disassociate, delete.
    """
    actions = []
    wanted = {d["principal_arn"]: d for d in desired}
    for index, want in enumerate(desired):
        arn = want["principal_arn"]
        have = current.get(arn)
        if have is None:
            actions.append(("create", arn, want))
            actions += [("associate", arn, (p, s)) for p, s in sorted(want["access_policies"].items())]
            continue
        if have.get("owner") != owner:
            who = f"owner {have['owner']!r}" if have.get("owner") else "EKS, by hand or another tool"
            raise AccessEntryError(f"entries[{index}].principal_arn: {arn} already has an access entry made by {who}; "
                                   "remove it or list it under that owner")
        if have["type"] != want["type"]:
            raise AccessEntryError(f"entries[{index}].type: {arn} is {have['type']}; the type of an access entry cannot change")
        # EKS sets a node entry's groups (system:nodes) and username itself, and refuses to update them
        if want["type"] == "STANDARD" and (sorted(have["kubernetes_groups"]) != want["kubernetes_groups"]
                                           or (want["username"] and have["username"] != want["username"])):
            actions.append(("update", arn, want))
        for parn, scope in sorted(want["access_policies"].items()):
            if have["access_policies"].get(parn) != scope:
                actions.append(("associate", arn, (parn, scope)))
        actions += [("disassociate", arn, parn) for parn in sorted(set(have["access_policies"]) - set(want["access_policies"]))]
    for arn, have in sorted(current.items()):
        if have.get("owner") == owner and arn not in wanted:
            actions.append(("delete", arn, None))
    return actions


def _scope_from_api(scope: dict) -> dict:
    return _scope({"type": scope.get("type"), "namespaces": scope.get("namespaces")}, "accessScope")


def read(client, cluster: str) -> dict:
    """Every access entry of the cluster with its owner tag and associated policies."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

    @AWSRetry.jittered_backoff()
    def _all(operation, key, **kwargs):
        return client.get_paginator(operation).paginate(clusterName=cluster, **kwargs).build_full_result().get(key, [])

    current = {}
    for arn in _all("list_access_entries", "accessEntries"):
        entry = client.describe_access_entry(clusterName=cluster, principalArn=arn, aws_retry=True)["accessEntry"]
        pols = _all("list_associated_access_policies", "associatedAccessPolicies", principalArn=arn)
        current[arn] = {"owner": (entry.get("tags") or {}).get(OWNER_TAG), "type": entry.get("type", "STANDARD"),
                        "kubernetes_groups": sorted(entry.get("kubernetesGroups") or []), "username": entry.get("username"),
                        "access_policies": {p["policyArn"]: _scope_from_api(p.get("accessScope") or {}) for p in pols}}
    return current


def apply(client, cluster: str, owner: str, actions: list[tuple]) -> None:
    """The writes, in plan order; ``client`` is AnsibleAWSModule's retrying client (calls pass aws_retry)."""
    for verb, arn, detail in actions:
        if verb == "create":
            args = {"clusterName": cluster, "principalArn": arn, "type": detail["type"], "tags": {OWNER_TAG: owner}}
            if detail["kubernetes_groups"]:
                args["kubernetesGroups"] = detail["kubernetes_groups"]
            if detail["username"]:
                args["username"] = detail["username"]
            client.create_access_entry(aws_retry=True, **args)
        elif verb == "update":
            args = {"clusterName": cluster, "principalArn": arn, "kubernetesGroups": detail["kubernetes_groups"]}
            if detail["username"]:
                args["username"] = detail["username"]
            client.update_access_entry(aws_retry=True, **args)
        elif verb == "associate":
            client.associate_access_policy(clusterName=cluster, principalArn=arn, policyArn=detail[0], accessScope=detail[1], aws_retry=True)
        elif verb == "disassociate":
            client.disassociate_access_policy(clusterName=cluster, principalArn=arn, policyArn=detail, aws_retry=True)
        elif verb == "delete":
            client.delete_access_entry(clusterName=cluster, principalArn=arn, aws_retry=True)
