# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS managed add-ons: validate the input, resolve versions for the cluster's Kubernetes minor, check
configuration values against the add-on's JSON schema, plan the fewest writes, and the reads, writes and
waits that carry it out.

``validate``, ``resolve_version``, ``schema_errors``, ``canonical`` and ``plan`` are pure; the rest take a
boto3 EKS client wrapped by AnsibleAWSModule (calls pass ``aws_retry``), unit-tested with botocore's Stubber.
Configuration values are data throughout: parsed from the API's text (JSON or YAML), compared as data, and
sent as compact JSON with sorted keys, so key order and formatting never make a difference.
"""

from __future__ import annotations

import fnmatch
import json
import re
from urllib.parse import unquote

from ansible_collections.nodeless.eks.plugins.module_utils import yaml_text
from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.irsa_trust import provider_arn, subject
from ansible_collections.nodeless.eks.plugins.module_utils.names import is_role_arn

try:  # named in the module's requirements; the module reports it missing with missing_required_lib
    import jsonschema

    HAS_JSONSCHEMA = True
except ImportError:
    HAS_JSONSCHEMA = False

KIND = "eks-addon"
RESOLVE = ("overwrite", "none", "preserve")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
_BUSY = ("CREATING", "UPDATING", "DELETING")


class AddonError(ValueError):
    """Bad input, an add-on that cannot reach the wanted state, or a wait that ran out; the message names the field."""


# --- input -----------------------------------------------------------------------------------------

def parse_values(value, field: str):
    """Configuration values as data: a dict, or JSON / YAML text of one (EKS takes both). None stays None."""
    if value is None or isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise AddonError(f"{field}: must be a mapping, or JSON / YAML text of one, not {type(value).__name__}")
    if not value.strip():
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        try:
            data = yaml_text.load(value)
        except yaml_text.YamlTextError as exc:
            raise AddonError(f"{field}: is neither valid JSON nor valid YAML ({exc.first_line})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AddonError(f"{field}: must be a mapping (JSON / YAML object), not {type(data).__name__}")
    return data


def _pods(raw, where: str):
    """pod_identity_associations as a sorted list of {service_account, role_arn}, or None (not managed)."""
    if raw is None:
        return None
    out = []
    for index, assoc in enumerate(raw):
        account, role = (assoc or {}).get("service_account"), (assoc or {}).get("role_arn")
        if not isinstance(account, str) or not account:
            raise AddonError(f"{where}[{index}].service_account: name the add-on's service account")
        if not is_role_arn(role):
            raise AddonError(f"{where}[{index}].role_arn: {role!r} is not an IAM role ARN")
        if any(a["service_account"] == account for a in out):
            raise AddonError(f"{where}[{index}].service_account: {account} is listed twice (one role per service account)")
        out.append({"service_account": account, "role_arn": role})
    return sorted(out, key=lambda a: a["service_account"])


def validate(addons, resolve_conflicts: str, field: str = "addons") -> list[dict]:
    """The listed add-ons, normalised: name, state, version, values (data or None), role (str or None), pods (list or
    None), resolve, preserve."""
    if not isinstance(addons, list) or not addons:
        raise AddonError(f"{field}: list at least one add-on")
    out, seen = [], {}
    for index, raw in enumerate(addons):
        where = f"{field}[{index}]"
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise AddonError(f"{where}.name: {name!r} is not an add-on name (lower-case letters, digits and '-')")
        if name in seen:
            raise AddonError(f"{where}.name: {name} is already listed at {field}[{seen[name]}]")
        seen[name] = index
        role = raw.get("service_account_role_arn")
        if role and not is_role_arn(role):
            raise AddonError(f"{where}.service_account_role_arn: {role!r} is not an IAM role ARN")
        version = raw.get("version")
        if version is not None and not str(version).strip():
            raise AddonError(f"{where}.version: give latest, default or an exact version such as v1.20.4-eksbuild.1")
        out.append({"name": name, "state": raw.get("state") or "present", "version": version,
                    "values": parse_values(raw.get("configuration_values"), f"{where}.configuration_values"),
                    "role": role, "pods": _pods(raw.get("pod_identity_associations"), f"{where}.pod_identity_associations"),
                    "resolve": (raw.get("resolve_conflicts") or resolve_conflicts).upper(),
                    "preserve": raw.get("preserve", True) is not False, "field": where})
    return out


def version_key(version: str) -> tuple:
    """v1.20.4-eksbuild.12 -> (1, 20, 4, 12): EKS add-on versions in release order."""
    return tuple(int(n) for n in re.findall(r"\d+", version or ""))


def compatible(version_infos: list[dict], minor: str) -> tuple[list[str], str | None]:
    """(versions compatible with MINOR newest first, the default one for MINOR) from DescribeAddonVersions' addonVersions."""
    versions, default = [], None
    for info in version_infos:
        for compat in info.get("compatibilities") or []:
            if compat.get("clusterVersion") == minor:
                versions.append(info["addonVersion"])
                if compat.get("defaultVersion"):
                    default = info["addonVersion"]
    return sorted(set(versions), key=version_key, reverse=True), default


def compatible_by_minor(version_infos: list[dict], minors: list[str]) -> dict:
    """{minor: {versions: newest first, default}} for each of MINORS, from DescribeAddonVersions' addonVersions."""
    out = {}
    for minor in minors:
        versions, default = compatible(version_infos, minor)
        out[minor] = {"versions": versions, "default": default}
    return out


def minors_errors(minors, field: str) -> list[str]:
    """Messages naming each entry of FIELD that is not a Kubernetes minor such as 1.36."""
    return [f"{field}[{index}]: must be a Kubernetes minor such as 1.36, got {minor!r}"
            for index, minor in enumerate(minors or []) if not re.match(r"^1\.\d{1,3}$", str(minor))]


def resolve_version(want: dict, minor: str, version_infos: list[dict], current: dict | None) -> str:
    """The exact version WANT asks for on a cluster of MINOR: latest, default, exact, or (None) the current one / default.

    ``default`` never downgrades: an add-on already newer than the default keeps its version."""
    versions, default = compatible(version_infos, minor)
    asked = want["version"]
    where = f"{want['field']}.version"
    if not versions:
        raise AddonError(f"{where}: EKS lists no version of {want['name']} for Kubernetes {minor}")
    have = (current or {}).get("version")
    if asked is None:
        return have or default or versions[0]
    if asked == "latest":
        return versions[0]
    if asked == "default":
        pick = default or versions[0]
        return have if have and version_key(have) > version_key(pick) else pick
    if asked not in versions:
        raise AddonError(f"{where}: {asked} of {want['name']} is not compatible with Kubernetes {minor}; "
                         f"compatible versions: {', '.join(versions)} (default {default or 'none'})")
    return asked


def _json_path(field: str, path) -> str:
    return field + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def schema_errors(schema_text: str, values: dict, field: str) -> list[str]:
    """Every place VALUES break the add-on's JSON schema (DescribeAddonConfiguration), as '<field>.<json path>: why'.

    Besides the draft's own keywords, the formats EKS's schemas use on string values are checked:
    ``boolean`` ("true" / "false") and ``integer`` (digits)."""
    try:
        schema = json.loads(schema_text or "{}")
    except ValueError:
        return []  # no usable schema: EKS itself judges the values
    checker = jsonschema.FormatChecker()
    checker.checks("boolean")(lambda v: not isinstance(v, str) or v in ("true", "false"))
    checker.checks("integer")(lambda v: not isinstance(v, str) or re.fullmatch(r"-?\d+", v) is not None)
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_json_path(field, err.absolute_path)}: {err.message}" for err in errors]


def pod_identity_errors(configuration: dict, pods: list[dict] | None, field: str) -> list[str]:
    """Service accounts the add-on does not name in its pod identity configuration (DescribeAddonConfiguration)."""
    allowed = [c.get("serviceAccount") for c in configuration.get("podIdentityConfiguration") or []]
    return [f"{field}[{index}].service_account: {assoc['service_account']} is not a service account of this add-on for "
            f"EKS Pod Identity; it names {', '.join(allowed) if allowed else 'none (use service_account_role_arn or nothing)'}"
            for index, assoc in enumerate(pods or []) if assoc["service_account"] not in allowed]


def _listed(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def trust_problems(document, role: str, cluster: dict, service_accounts: list[str], field: str) -> list[str]:
    """Why ROLE cannot serve the add-on's service account through IRSA ([] when it can): the cluster needs an OIDC
    issuer, the role a trust statement for the cluster's OIDC provider (sts:AssumeRoleWithWebIdentity) whose ``sub``
    condition, if any, admits one of SERVICE_ACCOUNTS (kube-system). DOCUMENT: the role's trust policy (None: no role)."""
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    if not issuer:
        return [f"{field}: cluster {cluster.get('name')} has no OIDC issuer, so IRSA cannot work; "
                "associate an OIDC provider first, or use pod_identity_associations"]
    if document is None:
        return [f"{field}: IAM role {role} does not exist"]
    parts = (cluster.get("arn") or "").split(":")
    provider = provider_arn(parts[1] if len(parts) > 4 else "aws", parts[4] if len(parts) > 4 else "", issuer)
    if isinstance(document, str):
        document = json.loads(unquote(document))
    host = provider.split("oidc-provider/", 1)[1]
    wanted = [subject("kube-system", sa) for sa in service_accounts]
    trusted_subjects = []
    for statement in _listed(document.get("Statement")):
        if statement.get("Effect") != "Allow" or "sts:AssumeRoleWithWebIdentity" not in _listed(statement.get("Action")):
            continue
        if provider not in _listed((statement.get("Principal") or {}).get("Federated")):
            continue
        condition = statement.get("Condition") or {}
        equals = _listed((condition.get("StringEquals") or {}).get(f"{host}:sub"))
        like = _listed((condition.get("StringLike") or {}).get(f"{host}:sub"))
        if not wanted or (not equals and not like) or any(s in equals or any(fnmatch.fnmatchcase(s, p) for p in like) for s in wanted):
            return []
        trusted_subjects += equals + like
    if trusted_subjects:
        return [f"{field}: IAM role {role} trusts {', '.join(sorted(set(trusted_subjects)))} of the cluster's OIDC provider, "
                f"not the add-on's service account ({', '.join(wanted)})"]
    return [f"{field}: IAM role {role} does not trust the cluster's OIDC provider {provider} "
            "(no Allow of sts:AssumeRoleWithWebIdentity for it); the add-on's pods would get no AWS credentials"]


# --- current state and the plan -----------------------------------------------------------------

def canonical(addon: dict | None, field: str = "configuration_values") -> dict | None:
    """What this module compares and returns about a DescribeAddon ``addon``, or None."""
    if not addon:
        return None
    try:
        values = parse_values(addon.get("configurationValues") or "", field)
    except AddonError:
        values = {"__unparsed__": addon.get("configurationValues")}
    return {"name": addon["addonName"], "version": addon.get("addonVersion"), "configuration_values": values or {},
            "service_account_role_arn": addon.get("serviceAccountRoleArn") or None,
            # known without a read only when there are none; prepare() reads them when they are managed
            "pod_identity_associations": None if addon.get("podIdentityAssociations") else [], "status": addon.get("status"),
            "arn": addon.get("addonArn"), "health": (addon.get("health") or {}).get("issues") or []}


def plan(want: dict, version: str | None, current: dict | None) -> tuple[str | None, list[str]]:
    """(verb, what differs): verb create, update, delete or None."""
    if want["state"] == "absent":
        return ("delete", []) if current else (None, [])
    if current is None:
        return "create", []
    differs = []
    if version != current["version"]:
        differs.append(f"version {current['version']} -> {version}")
    if want["values"] is not None and want["values"] != current["configuration_values"]:
        differs.append("configuration_values")
    if want["role"] is not None and (want["role"] or None) != current["service_account_role_arn"]:
        differs.append("service_account_role_arn")
    if want["pods"] is not None and want["pods"] != (current["pod_identity_associations"] or []):
        differs.append("pod_identity_associations")
    if current["status"] in ("CREATE_FAILED", "UPDATE_FAILED") and not differs:
        differs.append(f"status {current['status']}")  # a failed add-on is re-applied
    return ("update", differs) if differs else (None, [])


def after(want: dict, version: str | None, current: dict | None, verb: str | None) -> dict | None:
    """The add-on as the plan leaves it (check mode's prediction, the diff's ``after``)."""
    if want["state"] == "absent":
        return None
    base = dict(current or {"name": want["name"], "configuration_values": {}, "service_account_role_arn": None,
                            "pod_identity_associations": [], "arn": None, "health": []})
    base["version"] = version
    if want["values"] is not None:
        base["configuration_values"] = want["values"]
    if want["role"] is not None:
        base["service_account_role_arn"] = want["role"] or None
    if want["pods"] is not None:
        base["pod_identity_associations"] = want["pods"]
    base["status"] = "ACTIVE" if verb else base.get("status")
    return base


def diff_view(item: dict | None) -> dict | None:
    """Version, values and role; the pod identity associations when there are (known) ones."""
    if item is None:
        return None
    view = {k: item[k] for k in ("version", "configuration_values", "service_account_role_arn")}
    if item.get("pod_identity_associations"):
        view["pod_identity_associations"] = item["pod_identity_associations"]
    return view


def entry(cluster: str, name: str, verb: str, differs: list[str]) -> dict:
    action = {"create": "add", "update": "change", "delete": "remove"}[verb]
    return change("aws", KIND, f"{cluster}/{name}", action, detail="; ".join(differs) or None)


def role_removal_errors(want: dict, differs: list[str]) -> list[str]:
    """An empty role asked for an add-on that has one: UpdateAddon takes no empty serviceAccountRoleArn (botocore's
    model: at least 1 character) and leaves the role when it is omitted, so EKS cannot remove it in place."""
    if want["role"] != "" or "service_account_role_arn" not in differs:
        return []
    return [f"{want['field']}.service_account_role_arn: EKS cannot remove the IAM role of add-on {want['name']!r} in place "
            "(UpdateAddon takes no empty role); delete the add-on with state=absent and preserve=true (its workload keeps "
            "running), then create it again without the role, or with pod_identity_associations"]


def encode_values(values: dict) -> str:
    """Configuration values as EKS receives them: compact JSON, keys sorted (one text for one set of values)."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def request(cluster: str, want: dict, version: str, verb: str, differs: list[str]) -> dict:
    """CreateAddon / UpdateAddon arguments: on update only what differs (and resolveConflicts)."""
    args = {"clusterName": cluster, "addonName": want["name"], "resolveConflicts": want["resolve"]}
    if verb == "create" or any(d.startswith(("version", "status")) for d in differs):
        args["addonVersion"] = version
    if want["values"] is not None and (verb == "create" and want["values"] or "configuration_values" in differs):
        args["configurationValues"] = encode_values(want["values"]) if want["values"] else ""
    if want["role"] and (verb == "create" or "service_account_role_arn" in differs):
        args["serviceAccountRoleArn"] = want["role"]
    if want["pods"] is not None and (verb == "create" and want["pods"] or "pod_identity_associations" in differs):
        args["podIdentityAssociations"] = [{"serviceAccount": a["service_account"], "roleArn": a["role_arn"]} for a in want["pods"]]
    if verb == "create" and want["resolve"] == "PRESERVE":
        args["resolveConflicts"] = "NONE"  # EKS takes PRESERVE on updates only
    return args


# --- reads, writes, waits (client: AnsibleAWSModule's retrying EKS client) ------------------------

def describe_cluster(client, cluster: str) -> dict:
    """DescribeCluster's cluster: ``version`` (the Kubernetes minor), ``arn``, ``identity.oidc.issuer``."""
    return client.describe_cluster(name=cluster, aws_retry=True)["cluster"]


def _paged(client, operation: str, key: str, **kwargs) -> list:
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

    @AWSRetry.jittered_backoff()
    def _all():
        return client.get_paginator(operation).paginate(**kwargs).build_full_result().get(key, [])

    return _all()


def addon_versions(client, name: str, minor: str | None) -> list[dict]:
    """DescribeAddonVersions' addonVersions of NAME for Kubernetes MINOR, every minor's when None ([] when EKS has no
    such add-on)."""
    found = _paged(client, "describe_addon_versions", "addons", addonName=name, **({"kubernetesVersion": minor} if minor else {}))
    return [v for item in found if item.get("addonName") == name for v in item.get("addonVersions") or []]


def catalogue_names(client, minor: str) -> list[str]:
    return sorted({item["addonName"] for item in _paged(client, "describe_addon_versions", "addons", kubernetesVersion=minor)})


def configuration(client, name: str, version: str) -> dict:
    """DescribeAddonConfiguration: configurationSchema (JSON text) and podIdentityConfiguration."""
    return client.describe_addon_configuration(addonName=name, addonVersion=version, aws_retry=True)


def associations(client, cluster: str, arns: list[str]) -> list[dict]:
    """The add-on's pod identity associations (ARNs from DescribeAddon) as a sorted list of {service_account, role_arn}."""
    out = []
    for arn in arns:
        found = client.describe_pod_identity_association(clusterName=cluster, associationId=arn.rsplit("/", 1)[-1],
                                                         aws_retry=True)["association"]
        out.append({"service_account": found["serviceAccount"], "role_arn": found["roleArn"]})
    return sorted(out, key=lambda a: a["service_account"])


def role_trust(iam_client, role: str):
    """The trust policy of ROLE (an ARN), or None when IAM has no such role (in this account)."""
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

    try:
        return iam_client.get_role(RoleName=role.rsplit("/", 1)[-1], aws_retry=True)["Role"].get("AssumeRolePolicyDocument") or {}
    except is_boto3_error_code("NoSuchEntity"):
        return None


def describe(client, cluster: str, name: str) -> dict | None:
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

    try:
        return client.describe_addon(clusterName=cluster, addonName=name, aws_retry=True)["addon"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def write(client, cluster: str, want: dict, version: str, verb: str, differs: list[str]) -> None:
    if verb == "delete":
        client.delete_addon(clusterName=cluster, addonName=want["name"], preserve=want["preserve"], aws_retry=True)
    elif verb == "create":
        client.create_addon(aws_retry=True, **request(cluster, want, version, verb, differs))
    else:
        client.update_addon(aws_retry=True, **request(cluster, want, version, verb, differs))


def wait(client, cluster: str, name: str, deleted: bool, timeout: int, delay: int = 10) -> dict | None:
    """Wait with botocore's AddonActive / AddonDeleted waiter; the DescribeAddon ``addon`` at the end (None: deleted)."""
    from botocore.exceptions import WaiterError

    delay = max(1, min(delay, timeout))
    waiter = client.get_waiter("addon_deleted" if deleted else "addon_active")
    try:
        waiter.wait(clusterName=cluster, addonName=name, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, timeout // delay)})
    except WaiterError as exc:
        addon = (exc.last_response or {}).get("addon") or {}
        status = addon.get("status", "unknown")
        issues = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in (addon.get("health") or {}).get("issues") or [])
        goal = "to be deleted" if deleted else "to be ACTIVE"
        if "Max attempts exceeded" in str(exc):
            raise AddonError(f"wait_timeout: waited {timeout}s for EKS add-on {name} of cluster {cluster} {goal}; "
                             f"it is still {status}{' (' + issues + ')' if issues else ''}") from None
        raise AddonError(f"EKS add-on {name} of cluster {cluster} is {status}, not ACTIVE"
                         f"{': ' + issues if issues else ''} (the request was made; once the cause is fixed, for example "
                         "capacity its pods can schedule on, a re-run reports it)") from None
    return None if deleted else describe(client, cluster, name)


def busy(current: dict | None) -> bool:
    return bool(current) and current.get("status") in _BUSY
