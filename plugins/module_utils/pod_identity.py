# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS Pod Identity: associations (validate, read once, plan locally, then the fewest writes) and the role trust policy.

An association binds one Kubernetes service account (namespace and name) to one IAM role; EKS allows one association
per service account. ``validate``, ``plan``, ``trust_policy`` and ``trusts_pod_identity`` are pure; ``read`` and
``apply`` take AnsibleAWSModule's retrying EKS client (calls pass ``aws_retry``).
"""

from __future__ import annotations

import re

from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_label, is_dns1123_subdomain, is_role_arn

SERVICE = "pods.eks.amazonaws.com"
ACTIONS = ("sts:AssumeRole", "sts:TagSession")
_CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:eks:[a-z0-9-]+:(\d{12}):cluster/[A-Za-z0-9][A-Za-z0-9_-]*$")
_ACCOUNT = re.compile(r"^\d{12}$")


class PodIdentityError(ValueError):
    """Bad input or a conflict; the message names the field."""


def trust_policy(account_id: str, cluster_arn: str | None = None) -> dict:
    """The trust policy of a role for EKS Pod Identity, as the EKS user guide gives it: the service principal
    pods.eks.amazonaws.com may sts:AssumeRole and sts:TagSession, only for ACCOUNT_ID (aws:SourceAccount) and, when
    CLUSTER_ARN is given, only for that cluster (aws:SourceArn)."""
    account_id = str(account_id)
    if not _ACCOUNT.match(account_id):
        raise PodIdentityError(f"account_id: {account_id!r} is not a 12-digit AWS account id")
    condition = {"StringEquals": {"aws:SourceAccount": account_id}}
    if cluster_arn is not None:
        match = _CLUSTER_ARN.match(str(cluster_arn))
        if not match:
            raise PodIdentityError(f"cluster_arn: {cluster_arn!r} is not an EKS cluster ARN")
        if match.group(1) != account_id:
            raise PodIdentityError(f"cluster_arn: {cluster_arn} is in account {match.group(1)}, not {account_id}")
        condition["ArnEquals"] = {"aws:SourceArn": cluster_arn}
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow", "Principal": {"Service": SERVICE},
        "Action": list(ACTIONS), "Condition": condition}]}


def _as_list(value) -> list:
    return [value] if isinstance(value, (str, dict)) else list(value or [])


def trusts_pod_identity(document) -> bool:
    """Whether a role trust policy lets EKS Pod Identity assume the role with session tags (one Allow statement
    naming the service pods.eks.amazonaws.com with both sts:AssumeRole and sts:TagSession, or sts:*)."""
    for statement in _as_list((document or {}).get("Statement")) if isinstance(document, dict) else []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal") or {}
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        actions = _as_list(statement.get("Action"))
        if SERVICE in services and ("sts:*" in actions or all(a in actions for a in ACTIONS)):
            return True
    return False


def validate(items, field: str = "associations") -> list[dict]:
    """Each association as {key, field, namespace, service_account, role_arn, disable_session_tags, state};
    every problem of every item is reported together."""
    if not isinstance(items, list):
        raise PodIdentityError(f"{field}: must be a list")
    out, seen, problems = [], {}, []
    for index, raw in enumerate(items):
        where = f"{field}[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping with namespace, service_account and role_arn")
            continue
        namespace, account = raw.get("namespace"), raw.get("service_account")
        state = raw.get("state") or "present"
        role = raw.get("role_arn")
        if not is_dns1123_label(namespace):
            problems.append(f"{where}.namespace: {namespace!r} is not a Kubernetes namespace name "
                            "(lowercase letters, digits and '-', at most 63)")
        if not is_dns1123_subdomain(account):
            problems.append(f"{where}.service_account: {account!r} is not a Kubernetes service account name "
                            "(lowercase letters, digits, '-' and '.', at most 253)")
        if state not in ("present", "absent"):
            problems.append(f"{where}.state: {state!r} is not one of present, absent")
        if state == "present" and not is_role_arn(role):
            problems.append(f"{where}.role_arn: {role!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        key = f"{namespace}/{account}"
        if key in seen:
            problems.append(f"{where}: service account {key} is already listed at {field}[{seen[key]}] "
                            "(EKS allows one Pod Identity association per service account)")
        seen.setdefault(key, index)
        out.append({"key": key, "field": where, "namespace": namespace, "service_account": account, "state": state,
                    "role_arn": role if state == "present" else None,
                    "disable_session_tags": bool(raw.get("disable_session_tags"))})
    if problems:
        raise PodIdentityError("; ".join(problems))
    return out


def view(record: dict | None) -> dict | None:
    """An association as the module returns it (API's camelCase to the module's names)."""
    if not record:
        return None
    return {"namespace": record["namespace"], "service_account": record["serviceAccount"], "role_arn": record.get("roleArn"),
            "disable_session_tags": bool(record.get("disableSessionTags", False)), "association_id": record.get("associationId"),
            "association_arn": record.get("associationArn"), "owner_arn": record.get("ownerArn")}


def read(client, cluster: str, wanted: list[dict] | None) -> dict:
    """{namespace/service_account: association as EKS describes it} for the listed service accounts that have one
    (one paginated list of the cluster's associations, then a describe of each listed one; WANTED None: all)."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

    @AWSRetry.jittered_backoff()
    def _all():
        pages = client.get_paginator("list_pod_identity_associations").paginate(clusterName=cluster)
        return pages.build_full_result().get("associations", [])

    keys = None if wanted is None else {w["key"] for w in wanted}
    current = {}
    for summary in _all():
        key = f"{summary['namespace']}/{summary['serviceAccount']}"
        if keys is None or key in keys:
            current[key] = client.describe_pod_identity_association(
                clusterName=cluster, associationId=summary["associationId"], aws_retry=True)["association"]
    return current


def read_all(client, cluster: str) -> dict:
    """{namespace/service_account: association as EKS describes it} for every association of the cluster."""
    return read(client, cluster, None)


def plan(wanted: list[dict], current: dict) -> list[tuple]:
    """[(want, verb, differing fields)] with verb create, update, delete or None (nothing to do)."""
    steps, problems = [], []
    for want in wanted:
        have = current.get(want["key"])
        if have and have.get("ownerArn"):
            problems.append(f"{want['field']}: the association of {want['key']} belongs to {have['ownerArn']}; "
                            "change it through that add-on (nodeless.eks.eks_addon pod_identity_associations)")
            continue
        if want["state"] == "absent":
            steps.append((want, "delete" if have else None, []))
        elif not have:
            steps.append((want, "create", []))
        else:
            differs = [name for name, api in (("role_arn", "roleArn"), ("disable_session_tags", "disableSessionTags"))
                       if want[name] != (have.get(api) if api == "roleArn" else bool(have.get(api, False)))]
            steps.append((want, "update" if differs else None, differs))
    if problems:
        raise PodIdentityError("; ".join(problems))
    return steps


def predicted(want: dict, have: dict | None) -> dict | None:
    """The association after a step, as the module returns it (before any write: the check-mode answer)."""
    if want["state"] == "absent":
        return None
    out = view(have) or {"namespace": want["namespace"], "service_account": want["service_account"],
                         "association_id": None, "association_arn": None, "owner_arn": None}
    return dict(out, role_arn=want["role_arn"], disable_session_tags=want["disable_session_tags"])


def apply(client, cluster: str, steps: list[tuple], current: dict) -> dict:
    """The writes, in order; {key: association after} (None once deleted) for the steps that wrote."""
    done = {}
    for want, verb, _differs in steps:
        have = current.get(want["key"])
        if verb == "create":
            done[want["key"]] = view(client.create_pod_identity_association(
                clusterName=cluster, namespace=want["namespace"], serviceAccount=want["service_account"],
                roleArn=want["role_arn"], disableSessionTags=want["disable_session_tags"], aws_retry=True)["association"])
        elif verb == "update":
            done[want["key"]] = view(client.update_pod_identity_association(
                clusterName=cluster, associationId=have["associationId"], roleArn=want["role_arn"],
                disableSessionTags=want["disable_session_tags"], aws_retry=True)["association"])
        elif verb == "delete":
            client.delete_pod_identity_association(clusterName=cluster, associationId=have["associationId"], aws_retry=True)
            done[want["key"]] = None
    return done


def diff_view(item: dict | None) -> dict | None:
    return None if not item else {"role_arn": item["role_arn"], "disable_session_tags": item["disable_session_tags"]}


# --- migration from IRSA ---------------------------------------------------------------------------

IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
# The annotations EKS's pod identity webhook reads for IRSA; none may stay on a service account under Pod Identity
# (with the role ARN there, pods still get the web identity token, which the SDKs' credential chains try first).
IRSA_ANNOTATIONS = (IRSA_ROLE_ANNOTATION, "eks.amazonaws.com/sts-regional-endpoints", "eks.amazonaws.com/audience",
                    "eks.amazonaws.com/token-expiration")
_FARGATE_SCHEDULER = "fargate-scheduler"


def annotation_removal(metadata: dict | None) -> list[dict]:
    """JSON patch operations removing the IRSA annotations a ServiceAccount's METADATA holds (empty: none)."""
    held = (metadata or {}).get("annotations") or {}
    return [{"op": "remove", "path": "/metadata/annotations/" + name.replace("~", "~0").replace("/", "~1")}
            for name in IRSA_ANNOTATIONS if name in held]


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def on_fargate(pod: dict) -> bool:
    """Whether EKS runs (or will run) POD on Fargate: the Fargate scheduler, its profile annotation, or a Fargate node."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    return (spec.get("schedulerName") == _FARGATE_SCHEDULER or "eks.amazonaws.com/fargate-profile" in (meta.get("annotations") or {})
            or str(spec.get("nodeName") or "").startswith("fargate-"))


def migration_plan(service_accounts, pods, addons, associations, selected=None) -> dict:
    """What moving the cluster's IRSA service accounts to EKS Pod Identity takes, before any write.

    SERVICE_ACCOUNTS: ServiceAccount metadata (namespace, name, annotations); PODS: Pod objects (metadata, spec); ADDONS:
    the cluster's managed add-ons as eks_addon_info returns them; ASSOCIATIONS: the cluster's Pod Identity associations
    ({namespace, service_account, role_arn, owner_arn}); SELECTED: the namespace/name keys to move (None: every
    service account with an IRSA role annotation), each listed once.

    Returns {associations: [{namespace, service_account, role_arn}] to make with pod_identity_association, trust:
    [{role_name, role_arn}] roles whose trust
    gains the Pod Identity statement, unannotate: [{namespace, service_account, patch}] (the JSON patch removing the IRSA
    annotations),
    kept: [{key, role_arn, reason}] service accounts left on IRSA and why: a pod of it on Fargate, or the service
    account of an EKS managed add-on holding the role as serviceAccountRoleArn (see the reason)}. Refused (PodIdentityError, every problem
    at once): a selected key listed twice or without an IRSA annotation, or a service account that already has an
    association to another role (EKS allows one association per service account)."""
    problems = []
    annotated, metadata = {}, {}
    for meta in service_accounts or []:
        role = ((meta or {}).get("annotations") or {}).get(IRSA_ROLE_ANNOTATION)
        if role:
            annotated[f"{meta['namespace']}/{meta['name']}"] = role
            metadata[f"{meta['namespace']}/{meta['name']}"] = meta
    if selected is None:
        keys = sorted(annotated)
    else:
        keys, seen = [], {}
        for index, key in enumerate(selected):
            field = f"migrate_pod_identity_service_accounts[{index}]"
            if key in seen:
                problems.append(f"{field}: {key} is already listed at migrate_pod_identity_service_accounts[{seen[key]}] "
                                "(EKS allows one Pod Identity association per service account)")
                continue
            seen[key] = index
            if key not in annotated:
                problems.append(f"{field}: ServiceAccount {key} does not exist or has no {IRSA_ROLE_ANNOTATION} annotation")
                continue
            keys.append(key)
    existing = {f"{a['namespace']}/{a['service_account']}": a for a in associations or []}
    fargate = {f"{(p.get('metadata') or {}).get('namespace')}/{(p.get('spec') or {}).get('serviceAccountName') or 'default'}"
               for p in pods or [] if on_fargate(p)}
    by_role = {}
    for addon in addons or []:
        if addon.get("service_account_role_arn"):
            by_role.setdefault(addon["service_account_role_arn"], []).append(addon["name"])
    out = {"associations": [], "trust": [], "unannotate": [], "kept": []}
    for key in keys:
        namespace, name = key.split("/", 1)
        role = annotated[key]
        if key in fargate:
            out["kept"].append({"key": key, "role_arn": role, "reason": "a pod of it runs on Fargate, where EKS Pod Identity "
                                "gives no credentials (no agent DaemonSet there): it stays on IRSA"})
            continue
        have = existing.get(key)
        if have and have.get("role_arn") != role:
            problems.append(f"{key}: already has a Pod Identity association to {have.get('role_arn')}"
                            + (f" (owned by {have['owner_arn']})" if have.get("owner_arn") else "")
                            + f", its IRSA annotation names {role}; EKS allows one association per service account: delete one "
                            "or make them the same role")
            continue
        owners = [a for a in by_role.get(role, []) if namespace == "kube-system"]
        if owners:
            out["kept"].append({"key": key, "role_arn": role, "reason": (
                f"the EKS add-on {owners[0]} holds its role as serviceAccountRoleArn and writes the annotation back; its "
                "association must be the add-on's own (podIdentityAssociations) and UpdateAddon cannot clear "
                "serviceAccountRoleArn (minimum length 1): delete the add-on keeping its workload (aws eks delete-addon "
                "--preserve) and create it again with the association (the addons role, "
                "addons_ebs_csi_driver_identity: pod_identity for the EBS CSI driver)")})
            continue
        if not have:
            out["associations"].append({"namespace": namespace, "service_account": name, "role_arn": role})
        if {"role_arn": role, "role_name": _role_name(role)} not in out["trust"]:
            out["trust"].append({"role_arn": role, "role_name": _role_name(role)})
        out["unannotate"].append({"namespace": namespace, "service_account": name, "patch": annotation_removal(metadata[key])})
    if problems:
        raise PodIdentityError("; ".join(problems))
    return out


def with_pod_identity_trust(document, account_id: str, cluster_arn: str | None = None) -> dict:
    """DOCUMENT (a role's trust policy, parsed or JSON text) with the Pod Identity statement of ``trust_policy`` added,
    its other statements kept (IRSA's, so running pods keep their credentials until they restart); unchanged when it
    already trusts Pod Identity."""
    import json

    if isinstance(document, str):
        document = json.loads(document)
    document = dict(document or {"Version": "2012-10-17", "Statement": []})
    if trusts_pod_identity(document):
        return document
    statements = _as_list(document.get("Statement"))
    document["Statement"] = statements + trust_policy(account_id, cluster_arn)["Statement"]
    return document
