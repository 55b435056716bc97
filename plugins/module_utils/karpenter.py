# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Karpenter v1: build NodePool / EC2NodeClass objects from module options, validate them, convert legacy manifests.

Pure functions (no I/O). Validation mirrors the v1 CRDs' schema and CEL rules so that bad input is
refused before anything reaches the API server, with the field path in the message. Conversion
accepts the manifests most tutorials still show (v1alpha5 ``Provisioner``, v1alpha1 ``AWSNodeTemplate``)
and the v1beta1 objects, and returns a v1 object plus one warning per field that has no v1 meaning.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_subdomain

NODEPOOL = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool"}
EC2NODECLASS = {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass"}
NODECLASS_GROUP = "karpenter.k8s.aws"

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
CONSOLIDATION_POLICIES = ("WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced")
BUDGET_REASONS = ("Underutilized", "Empty", "Drifted")
AMI_FAMILIES = ("AL2", "AL2023", "Bottlerocket", "Custom", "Windows2019", "Windows2022", "Windows2025")
# alias family -> amiFamily, as the EC2NodeClass CEL rules pair them
ALIAS_FAMILIES = {"al2": "AL2", "al2023": "AL2023", "bottlerocket": "Bottlerocket",
                  "windows2019": "Windows2019", "windows2022": "Windows2022", "windows2025": "Windows2025"}
RESTRICTED_TAGS = ("eks:eks-cluster-name", "kubernetes.io/cluster/", "karpenter.sh/nodepool",
                   "karpenter.sh/nodeclaim", "karpenter.k8s.aws/ec2nodeclass")
IMDS_DEFAULTS = {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1, "httpTokens": "required"}
# EC2NodeClass spec.kubelet (v1): its fields, and the keys its CEL rules allow in the maps
KUBELET_FIELDS = ("clusterDNS", "maxPods", "podsPerCore", "systemReserved", "kubeReserved", "evictionHard", "evictionSoft",
                  "evictionSoftGracePeriod", "evictionMaxPodGracePeriod", "imageGCHighThresholdPercent",
                  "imageGCLowThresholdPercent", "cpuCFSQuota")
RESERVED_KEYS = ("cpu", "memory", "ephemeral-storage", "pid")
EVICTION_SIGNALS = ("memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree",
                    "pid.available")
# Karpenter v1.0's conversion webhook kept a v1beta1 NodePool's kubelet here (JSON); v1.1+ requires it gone
KUBELET_CONVERSION_ANNOTATION = "compatibility.karpenter.sh/v1beta1-kubelet-conversion"

_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")
_BUDGET_DURATION = re.compile(r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$")
_BUDGET_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")
_QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
_PERCENT = re.compile(r"^(\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)%$")
_CRON_MACRO = re.compile(r"^@(annually|yearly|monthly|weekly|daily|midnight|hourly)$")
_CRON_FIELD = re.compile(r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))

# snake_case option -> camelCase field where the plain rule (capitalise after "_") is not what Karpenter spells
_IRREGULAR = {"http_protocol_ipv6": "httpProtocolIPv6", "kms_key_id": "kmsKeyID", "snapshot_id": "snapshotID",
              "associate_public_ip_address": "associatePublicIPAddress"}
# option values copied verbatim (user keys such as label names and tags must not be camelised)
_VERBATIM = ("labels", "annotations", "tags", "limits", "kubelet")


class KarpenterError(ValueError):
    """Bad input; the message starts with the field path."""


# ---------------------------------------------------------------- options -> v1 objects

def _camel(name: str) -> str:
    if name in _IRREGULAR:
        return _IRREGULAR[name]
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def camelize(value):
    """Module options (snake_case, unset = None) -> Karpenter fields (camelCase, unset left out)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            out[_camel(key)] = copy.deepcopy(item) if key in _VERBATIM else camelize(item)
        return out
    if isinstance(value, list):
        return [camelize(v) for v in value]
    return value


def nodepool_from_options(opts: dict) -> dict:
    """The typed options of nodeless.eks.karpenter_nodepool -> a v1 NodePool."""
    o = camelize(opts)
    fields = ("nodeClassRef", "requirements", "taints", "startupTaints", "expireAfter", "terminationGracePeriod")
    template_spec = {k: o[k] for k in fields if k in o}
    ref = template_spec.get("nodeClassRef")
    if ref is not None:
        template_spec["nodeClassRef"] = {"group": ref.get("group") or NODECLASS_GROUP, "kind": ref.get("kind") or "EC2NodeClass",
                                         "name": ref.get("name")}
    template: dict = {"spec": template_spec}
    meta = {k: o[k] for k in ("labels", "annotations") if k in o}
    if meta:
        template = {"metadata": meta, "spec": template_spec}
    spec: dict = {"template": template}
    for key in ("disruption", "limits", "weight"):
        if key in o:
            spec[key] = o[key]
    return dict(NODEPOOL, metadata={"name": opts.get("name")}, spec=spec)


def ec2nodeclass_from_options(opts: dict) -> dict:
    """The typed options of nodeless.eks.karpenter_ec2nodeclass -> a v1 EC2NodeClass (IMDSv2, hop limit 1 by default)."""
    o = camelize(opts)
    spec = {k: v for k, v in o.items() if k not in ("name",)}
    spec["metadataOptions"] = dict(IMDS_DEFAULTS, **spec.get("metadataOptions", {}))
    return dict(EC2NODECLASS, metadata={"name": opts.get("name")}, spec=spec)


# ---------------------------------------------------------------- validation

def is_duration(value) -> bool:
    return isinstance(value, str) and bool(_DURATION.match(value))


def cron_error(schedule) -> str | None:
    """None when ``schedule`` is a cron expression Karpenter accepts (5 fields or an @macro)."""
    if not isinstance(schedule, str):
        return "must be a cron expression string"
    if _CRON_MACRO.match(schedule):
        return None
    fields = schedule.split()
    if len(fields) != 5:
        return f"{schedule!r} is not a cron expression (5 fields: minute hour day-of-month month day-of-week, or @daily ...)"
    for field, (low, high) in zip(fields, _CRON_RANGES):
        for part in field.split(","):
            if not _CRON_FIELD.match(part):
                return f"{schedule!r}: field {field!r} is not valid cron syntax"
            for number in re.findall(r"(?<![/0-9])[0-9]+", part.split("/")[0]):
                if not low <= int(number) <= high:
                    return f"{schedule!r}: {number} is outside {low}-{high} in field {field!r}"
    return None


def _requirement_errors(path: str, req) -> list[str]:
    if not isinstance(req, dict):
        return [f"{path}: must be a mapping with key, operator and values"]
    errors = []
    if not req.get("key"):
        errors.append(f"{path}.key: is required")
    op = req.get("operator")
    values = req.get("values") or []
    if op not in OPERATORS:
        errors.append(f"{path}.operator: {op!r} is not one of {', '.join(OPERATORS)}")
    elif op == "In" and not values:
        errors.append(f"{path}.values: operator In needs at least one value")
    elif op in ("Gt", "Lt", "Gte", "Lte"):
        if len(values) != 1 or not re.match(r"^[0-9]+$", str(values[0])):
            errors.append(f"{path}.values: operator {op} needs exactly one non-negative integer value, got {values!r}")
    elif op in ("Exists", "DoesNotExist") and values:
        errors.append(f"{path}.values: operator {op} takes no values")
    if not isinstance(values, list):
        errors.append(f"{path}.values: must be a list of strings")
    min_values = req.get("minValues")
    if min_values is not None and (not isinstance(min_values, int) or not 1 <= min_values <= 50 or min_values > len(values)):
        errors.append(f"{path}.minValues: must be 1-50 and at most the number of values ({len(values)})")
    return errors


def _taint_errors(path: str, taints) -> list[str]:
    errors = []
    for i, taint in enumerate(taints or []):
        if not isinstance(taint, dict) or not taint.get("key"):
            errors.append(f"{path}[{i}].key: is required")
        elif taint.get("effect") not in EFFECTS:
            errors.append(f"{path}[{i}].effect: {taint.get('effect')!r} is not one of {', '.join(EFFECTS)}")
    return errors


def _budget_errors(path: str, budget) -> list[str]:
    if not isinstance(budget, dict):
        return [f"{path}: must be a mapping"]
    errors = []
    nodes = str(budget.get("nodes", "10%"))
    if not _BUDGET_NODES.match(nodes):
        errors.append(f"{path}.nodes: {nodes!r} must be a count (5) or a percentage (10%)")
    has_schedule, has_duration = budget.get("schedule") is not None, budget.get("duration") is not None
    if has_schedule != has_duration:
        errors.append(f"{path}.{'duration' if has_schedule else 'schedule'}: schedule and duration must be set together")
    if has_schedule:
        problem = cron_error(budget["schedule"])
        if problem:
            errors.append(f"{path}.schedule: {problem}")
    if has_duration and not _BUDGET_DURATION.match(str(budget["duration"])):
        errors.append(f"{path}.duration: {budget['duration']!r} must be hours and/or minutes such as 8h or 1h30m")
    for reason in budget.get("reasons") or []:
        if reason not in BUDGET_REASONS:
            errors.append(f"{path}.reasons: {reason!r} is not one of {', '.join(BUDGET_REASONS)}")
    return errors


def validate_nodepool(obj: dict) -> list[str]:
    """Every problem with a v1 NodePool, each starting with its field path (empty list = valid)."""
    errors = []
    if not (obj.get("metadata") or {}).get("name"):
        errors.append("metadata.name: is required")
    spec = obj.get("spec") or {}
    tspec = (spec.get("template") or {}).get("spec") or {}
    base = "spec.template.spec"
    ref = tspec.get("nodeClassRef")
    if not isinstance(ref, dict) or not all(ref.get(k) for k in ("group", "kind", "name")):
        errors.append(f"{base}.nodeClassRef: group, kind and name are required (e.g. name: default)")
    reqs = tspec.get("requirements")
    if reqs is None:
        errors.append(f"{base}.requirements: is required (may be an empty list)")
    for i, req in enumerate(reqs or []):
        errors += _requirement_errors(f"{base}.requirements[{i}]", req)
    errors += _taint_errors(f"{base}.taints", tspec.get("taints"))
    errors += _taint_errors(f"{base}.startupTaints", tspec.get("startupTaints"))
    expire = tspec.get("expireAfter")
    if expire is not None and expire != "Never" and not is_duration(expire):
        errors.append(f"{base}.expireAfter: {expire!r} must be a duration such as 720h or Never")
    grace = tspec.get("terminationGracePeriod")
    if grace is not None and not is_duration(grace):
        errors.append(f"{base}.terminationGracePeriod: {grace!r} must be a duration such as 48h")
    weight = spec.get("weight")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100):
        errors.append(f"spec.weight: {weight!r} must be an integer from 1 to 100")
    for key, value in (spec.get("limits") or {}).items():
        if not _QUANTITY.match(str(value)):
            errors.append(f"spec.limits.{key}: {value!r} is not a resource quantity (1000, 4000Gi)")
    disruption = spec.get("disruption") or {}
    policy = disruption.get("consolidationPolicy")
    if policy is not None and policy not in CONSOLIDATION_POLICIES:
        errors.append(f"spec.disruption.consolidationPolicy: {policy!r} is not one of {', '.join(CONSOLIDATION_POLICIES)}")
    after = disruption.get("consolidateAfter")
    if after is not None and after != "Never" and not is_duration(after):
        errors.append(f"spec.disruption.consolidateAfter: {after!r} must be a duration such as 30s or Never")
    for i, budget in enumerate(disruption.get("budgets") or []):
        errors += _budget_errors(f"spec.disruption.budgets[{i}]", budget)
    return errors


def _selector_errors(path: str, terms, allowed: tuple, exclusive: tuple) -> list[str]:
    if not terms:
        return [f"{path}: at least one term is required"]
    errors = []
    for i, term in enumerate(terms):
        keys = [k for k in allowed if (term or {}).get(k)]
        if not keys:
            errors.append(f"{path}[{i}]: needs one of {', '.join(allowed)}")
        for key in exclusive:
            if key in keys and len(keys) > 1:
                errors.append(f"{path}[{i}].{key}: cannot be combined with {', '.join(k for k in keys if k != key)}")
        for tag_key, tag_value in ((term or {}).get("tags") or {}).items():
            if not tag_key or tag_value in (None, ""):
                errors.append(f"{path}[{i}].tags: empty tag keys or values are not supported")
    return errors


def _ami_errors(spec: dict) -> list[str]:
    terms = spec.get("amiSelectorTerms")
    path = "spec.amiSelectorTerms"
    if not terms:
        return [f"{path}: at least one term is required (e.g. alias: al2023@latest)"]
    errors = _selector_errors(path, terms, ("alias", "id", "name", "tags", "ssmParameter"), ("alias", "id"))
    family = spec.get("amiFamily")
    if family is not None and family not in AMI_FAMILIES:
        errors.append(f"spec.amiFamily: {family!r} is not one of {', '.join(AMI_FAMILIES)}")
    aliases = [(i, t["alias"]) for i, t in enumerate(terms) if (t or {}).get("alias")]
    if aliases and len(terms) > 1:
        errors.append(f"{path}: an alias term cannot be combined with other terms")
    for i, alias in aliases:
        match = re.match(r"^([a-z0-9]+)@(.+)$", alias)
        if not match or match.group(1) not in ALIAS_FAMILIES:
            errors.append(f"{path}[{i}].alias: {alias!r} must be family@version with family one of {', '.join(ALIAS_FAMILIES)}")
            continue
        alias_family = ALIAS_FAMILIES[match.group(1)]
        if alias_family.startswith("Windows") and match.group(2) != "latest":
            errors.append(f"{path}[{i}].alias: Windows families only support version latest")
        if family not in (None, "Custom", alias_family):
            errors.append(f"spec.amiFamily: {family!r} contradicts {path}[{i}].alias {alias!r} (use {alias_family}, Custom or leave it unset)")
    if not aliases and family is None:
        errors.append("spec.amiFamily: is required when amiSelectorTerms has no alias")
    return errors


def validate_ec2nodeclass(obj: dict) -> list[str]:
    """Every problem with a v1 EC2NodeClass, each starting with its field path (empty list = valid)."""
    errors = []
    if not (obj.get("metadata") or {}).get("name"):
        errors.append("metadata.name: is required")
    spec = obj.get("spec") or {}
    has_role, has_profile = bool(spec.get("role")), bool(spec.get("instanceProfile"))
    if has_role == has_profile:
        errors.append("spec.role: set exactly one of role and instanceProfile"
                      + (" (both are set)" if has_role else " (neither is set)"))
    errors += _ami_errors(spec)
    errors += _selector_errors("spec.subnetSelectorTerms", spec.get("subnetSelectorTerms"), ("tags", "id"), ("id",))
    errors += _selector_errors("spec.securityGroupSelectorTerms", spec.get("securityGroupSelectorTerms"),
                               ("tags", "id", "name"), ("id", "name"))
    imds = spec.get("metadataOptions") or {}
    for key, allowed in (("httpEndpoint", ("enabled", "disabled")), ("httpProtocolIPv6", ("enabled", "disabled")),
                         ("httpTokens", ("required", "optional"))):
        if key in imds and imds[key] not in allowed:
            errors.append(f"spec.metadataOptions.{key}: {imds[key]!r} is not one of {', '.join(allowed)}")
    hops = imds.get("httpPutResponseHopLimit")
    if hops is not None and (not isinstance(hops, int) or not 1 <= hops <= 64):
        errors.append(f"spec.metadataOptions.httpPutResponseHopLimit: {hops!r} must be 1-64")
    for key in spec.get("tags") or {}:
        if not key or any(key == r or (r.endswith("/") and key.startswith(r)) for r in RESTRICTED_TAGS):
            errors.append(f"spec.tags.{key}: this tag is set by Karpenter itself and cannot be given")
    errors += kubelet_errors("spec.kubelet", spec.get("kubelet"))
    devices = spec.get("blockDeviceMappings") or []
    if sum(1 for d in devices if (d or {}).get("rootVolume")) > 1:
        errors.append("spec.blockDeviceMappings: only one mapping may set rootVolume")
    for i, device in enumerate(devices):
        ebs = (device or {}).get("ebs") or {}
        if ebs and not (ebs.get("volumeSize") or ebs.get("snapshotID")):
            errors.append(f"spec.blockDeviceMappings[{i}].ebs: volumeSize or snapshotID is required")
    return errors


def _int_error(path: str, value, low: int | None = None, high: int | None = None) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" from {low} to {high}" if high is not None else (f" >= {low}" if low is not None else "")
        return [f"{path}: {value!r} must be an integer{bounds}"]
    return []


def _map_errors(path: str, value, keys: tuple, check) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: must be a mapping"]
    errors = []
    for key, item in value.items():
        if key not in keys:
            errors.append(f"{path}.{key}: is not one of {', '.join(keys)}")
        elif not isinstance(item, str):
            errors.append(f"{path}.{key}: {item!r} must be a string")
        else:
            errors += check(f"{path}.{key}", item)
    return errors


def _reserved_value(path: str, value: str) -> list[str]:
    if not _QUANTITY.match(value) or value.startswith("-"):
        return [f"{path}: {value!r} is not a non-negative resource quantity (100m, 1Gi)"]
    return []


def _threshold_value(path: str, value: str) -> list[str]:
    if not (_PERCENT.match(value) or _QUANTITY.match(value)):
        return [f"{path}: {value!r} is not a percentage (10%) or a quantity (100Mi)"]
    return []


def _grace_value(path: str, value: str) -> list[str]:
    return [] if is_duration(value) else [f"{path}: {value!r} must be a duration such as 1m30s"]


def kubelet_errors(path: str, kubelet) -> list[str]:
    """Every problem with an EC2NodeClass spec.kubelet, as the v1 CRD's schema and CEL rules see it."""
    if kubelet is None:
        return []
    if not isinstance(kubelet, dict):
        return [f"{path}: must be a mapping"]
    errors = [f"{path}.{key}: is not a v1 kubelet setting (one of {', '.join(KUBELET_FIELDS)})"
              for key in kubelet if key not in KUBELET_FIELDS]
    dns = kubelet.get("clusterDNS")
    if dns is not None and (not isinstance(dns, list) or not all(isinstance(a, str) for a in dns)):
        errors.append(f"{path}.clusterDNS: must be a list of IP addresses (strings)")
    for key in ("maxPods", "podsPerCore"):
        if key in kubelet:
            errors += _int_error(f"{path}.{key}", kubelet[key], 0)
    if "evictionMaxPodGracePeriod" in kubelet:
        errors += _int_error(f"{path}.evictionMaxPodGracePeriod", kubelet["evictionMaxPodGracePeriod"])
    for key in ("imageGCHighThresholdPercent", "imageGCLowThresholdPercent"):
        if key in kubelet:
            errors += _int_error(f"{path}.{key}", kubelet[key], 0, 100)
    high, low = kubelet.get("imageGCHighThresholdPercent"), kubelet.get("imageGCLowThresholdPercent")
    if isinstance(high, int) and isinstance(low, int) and not high > low:
        errors.append(f"{path}.imageGCHighThresholdPercent: {high} must be greater than imageGCLowThresholdPercent ({low})")
    if "cpuCFSQuota" in kubelet and not isinstance(kubelet["cpuCFSQuota"], bool):
        errors.append(f"{path}.cpuCFSQuota: {kubelet['cpuCFSQuota']!r} must be true or false")
    for key in ("systemReserved", "kubeReserved"):
        if key in kubelet:
            errors += _map_errors(f"{path}.{key}", kubelet[key], RESERVED_KEYS, _reserved_value)
    for key in ("evictionHard", "evictionSoft"):
        if key in kubelet:
            errors += _map_errors(f"{path}.{key}", kubelet[key], EVICTION_SIGNALS, _threshold_value)
    if "evictionSoftGracePeriod" in kubelet:
        errors += _map_errors(f"{path}.evictionSoftGracePeriod", kubelet["evictionSoftGracePeriod"], EVICTION_SIGNALS, _grace_value)
    soft, grace = kubelet.get("evictionSoft"), kubelet.get("evictionSoftGracePeriod")
    if isinstance(soft, dict) or isinstance(grace, dict):
        soft, grace = soft if isinstance(soft, dict) else {}, grace if isinstance(grace, dict) else {}
        errors += [f"{path}.evictionSoft.{k}: has no matching evictionSoftGracePeriod" for k in soft if k not in grace]
        errors += [f"{path}.evictionSoftGracePeriod.{k}: has no matching evictionSoft" for k in grace if k not in soft]
    return errors


# Karpenter writes a NodePool's / EC2NodeClass's name into a label on every NodeClaim and Node it makes.
NAME_LABELS = {"NodePool": "karpenter.sh/nodepool", "EC2NodeClass": "karpenter.k8s.aws/ec2nodeclass"}


def name_error(kind: str, name) -> str:
    """'' when NAME can name a KIND object: a Kubernetes object name (DNS-1123 subdomain) that also fits, at
    63 characters, the label value Karpenter writes it into; else why not."""
    if not is_dns1123_subdomain(name):
        return (f"{name!r} is not a Kubernetes object name (lower-case letters, digits, '-' and '.', starting and "
                "ending with a letter or digit)")
    if len(name) > 63:
        return (f"{name!r} has {len(name)} characters; Karpenter writes it into the label {NAME_LABELS[kind]}, "
                "whose values are at most 63")
    return ""


def validate(obj: dict) -> list[str]:
    if obj.get("kind") == "NodePool":
        return validate_nodepool(obj)
    if obj.get("kind") == "EC2NodeClass":
        return validate_ec2nodeclass(obj)
    return [f"kind: {obj.get('kind')!r} is not NodePool or EC2NodeClass"]


# ---------------------------------------------------------------- legacy -> v1

def seconds_to_duration(seconds) -> str:
    """120 -> '2m', 2592000 -> '720h', 90 -> '1m30s' (Go duration syntax, as v1 expects)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise KarpenterError(f"{seconds!r} is not a whole number of seconds")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


def _selector_terms(path: str, selector: dict, ids_prefix: str, warnings: list, name_key: bool = False) -> list[dict]:
    """v1alpha1 selector map -> v1 selector terms: aws-ids / aws::ids become id terms, the rest one tags term."""
    terms: list[dict] = []
    tags = {}
    for key, value in (selector or {}).items():
        if key in ("aws-ids", "aws::ids"):
            terms += [{"id": i.strip()} for i in str(value).split(",") if i.strip()]
        elif key == "aws::name" and name_key:
            terms.append({"name": str(value)})
        elif key.startswith("aws::"):
            warnings.append(f"{path}.{key}: has no v1 meaning and was dropped")
        else:
            tags[key] = str(value)
    bad = [t["id"] for t in terms if "id" in t and not t["id"].startswith(ids_prefix)]
    if bad:
        raise KarpenterError(f"{path}: {', '.join(bad)} is not an id starting with {ids_prefix}")
    return ([{"tags": tags}] if tags else []) + terms


def _ami_terms(spec: dict, warnings: list) -> tuple[list[dict], str | None]:
    family = spec.get("amiFamily") or "AL2"  # v1alpha1's default
    selector = spec.get("amiSelector")
    if selector:
        terms = []
        tags = {}
        owners = [o.strip() for o in str(selector.get("aws::owners", "")).split(",") if o.strip()]
        for key, value in selector.items():
            if key in ("aws-ids", "aws::ids"):
                terms += [{"id": i.strip()} for i in str(value).split(",") if i.strip()]
            elif key == "aws::name":
                terms += [dict({"name": str(value)}, **({"owner": o} if o else {})) for o in owners or [None]]
            elif key != "aws::owners":
                tags[key] = str(value)
        if tags:
            terms.append({"tags": tags})
        if family not in AMI_FAMILIES:
            raise KarpenterError(f"spec.amiFamily: {family!r} does not exist in v1; use one of {', '.join(AMI_FAMILIES)}")
        return terms, family
    alias = {v: k for k, v in ALIAS_FAMILIES.items()}.get(family)
    if alias is None:
        raise KarpenterError(f"spec.amiFamily: {family!r} has no v1 alias; give spec.amiSelector so that it converts to amiSelectorTerms")
    return [{"alias": f"{alias}@latest"}], None


def _from_awsnodetemplate(manifest: dict, node_role: str | None) -> tuple[dict, list]:
    spec = manifest.get("spec") or {}
    warnings: list[str] = []
    out: dict = {}
    if node_role:
        out["role"] = node_role
    elif spec.get("instanceProfile"):
        out["instanceProfile"] = spec["instanceProfile"]
    else:
        raise KarpenterError("spec.instanceProfile: not set (v0.x read it from global settings); v1 needs role or instanceProfile: pass node_role")
    terms, family = _ami_terms(spec, warnings)
    if family:
        out["amiFamily"] = family
    out["amiSelectorTerms"] = terms
    out["subnetSelectorTerms"] = _selector_terms("spec.subnetSelector", spec.get("subnetSelector"), "subnet-", warnings)
    out["securityGroupSelectorTerms"] = _selector_terms("spec.securityGroupSelector", spec.get("securityGroupSelector"), "sg-",
                                                        warnings, name_key=True)
    out["metadataOptions"] = dict(IMDS_DEFAULTS, **(spec.get("metadataOptions") or {}))
    for key in ("userData", "tags", "detailedMonitoring", "context"):
        if key in spec:
            out[key] = copy.deepcopy(spec[key])
    if "blockDeviceMappings" in spec:
        out["blockDeviceMappings"] = copy.deepcopy(spec["blockDeviceMappings"])
        for device in out["blockDeviceMappings"]:
            ebs = device.get("ebs") or {}
            if isinstance(ebs.get("volumeSize"), int):
                ebs["volumeSize"] = f"{ebs['volumeSize']}Gi" if ebs["volumeSize"] < 65536 else str(ebs["volumeSize"])
    if "launchTemplate" in spec:
        warnings.append("spec.launchTemplate: v1 has no launch template reference; express its settings as EC2NodeClass fields (dropped)")
    for key in sorted(set(spec) - {"instanceProfile", "amiFamily", "amiSelector", "subnetSelector", "securityGroupSelector",
                                   "metadataOptions", "userData", "tags", "detailedMonitoring", "context", "blockDeviceMappings",
                                   "launchTemplate", "apiVersion", "kind"}):
        warnings.append(f"spec.{key}: has no v1 meaning and was dropped")
    return dict(EC2NODECLASS, metadata={"name": manifest["metadata"]["name"]}, spec=out), warnings


def _from_provisioner(manifest: dict) -> tuple[dict, list, dict | None]:
    spec = manifest.get("spec") or {}
    warnings: list[str] = []
    tspec: dict = {}
    ref = spec.get("providerRef") or {}
    if not ref.get("name"):
        warnings.append("spec.providerRef: not set; nodeClassRef points at the EC2NodeClass named default")
    tspec["nodeClassRef"] = {"group": NODECLASS_GROUP, "kind": "EC2NodeClass", "name": ref.get("name") or "default"}
    requirements = []
    for i, req in enumerate(spec.get("requirements") or []):
        if req.get("key") == "karpenter.sh/provisioner-name":
            warnings.append(f"spec.requirements[{i}]: karpenter.sh/provisioner-name does not exist in v1 (dropped)")
            continue
        requirements.append({k: copy.deepcopy(req[k]) for k in ("key", "operator", "values") if k in req})
    tspec["requirements"] = requirements
    for key in ("taints", "startupTaints"):
        if spec.get(key):
            tspec[key] = [{k: t[k] for k in ("key", "value", "effect") if k in t} for t in spec[key]]
    # v1alpha5 never expired nodes unless asked; v1 defaults to 720h, so keep the old behaviour explicitly
    ttl = spec.get("ttlSecondsUntilExpired")
    tspec["expireAfter"] = seconds_to_duration(ttl) if ttl is not None else "Never"
    template: dict = {"spec": tspec}
    meta = {k: copy.deepcopy(spec[k]) for k in ("labels", "annotations") if spec.get(k)}
    if meta:
        template = {"metadata": meta, "spec": tspec}
    consolidate = (spec.get("consolidation") or {}).get("enabled")
    empty_ttl = spec.get("ttlSecondsAfterEmpty")
    if consolidate and empty_ttl is not None:
        raise KarpenterError("spec.ttlSecondsAfterEmpty: cannot be combined with spec.consolidation.enabled (v1alpha5 refused it too)")
    if consolidate:
        disruption = {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "0s"}
    elif empty_ttl is not None:
        disruption = {"consolidationPolicy": "WhenEmpty", "consolidateAfter": seconds_to_duration(empty_ttl)}
    else:  # v1alpha5 without either removed no node for being empty or underused
        disruption = {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "Never"}
    out: dict = {"template": template, "disruption": disruption}
    if (spec.get("limits") or {}).get("resources"):
        out["limits"] = {k: str(v) for k, v in spec["limits"]["resources"].items()}
    if spec.get("weight") is not None:
        out["weight"] = spec["weight"]
    kubelet = _legacy_kubelet("spec.kubeletConfiguration", spec.get("kubeletConfiguration"), warnings)
    if spec.get("provider"):
        warnings.append("spec.provider: inline AWS settings have no v1 meaning; write them as an EC2NodeClass (dropped)")
    known = {"providerRef", "requirements", "taints", "startupTaints", "ttlSecondsUntilExpired", "labels", "annotations",
             "consolidation", "ttlSecondsAfterEmpty", "limits", "weight", "kubeletConfiguration", "provider"}
    for key in sorted(set(spec) - known):
        warnings.append(f"spec.{key}: has no v1 meaning and was dropped")
    return dict(NODEPOOL, metadata={"name": manifest["metadata"]["name"]}, spec=out), warnings, kubelet


def _from_v1beta1_nodepool(manifest: dict) -> tuple[dict, list, dict | None]:
    spec = copy.deepcopy(manifest.get("spec") or {})
    warnings: list[str] = []
    tspec = spec.setdefault("template", {}).setdefault("spec", {})
    ref = tspec.get("nodeClassRef") or {}
    tspec["nodeClassRef"] = {"group": NODECLASS_GROUP, "kind": ref.get("kind") or "EC2NodeClass", "name": ref.get("name") or "default"}
    kubelet = _legacy_kubelet("spec.template.spec.kubelet", tspec.pop("kubelet", None), warnings)
    if kubelet is None:
        kubelet = _annotated_kubelet(manifest, warnings)
    disruption = spec.setdefault("disruption", {})
    expire = disruption.pop("expireAfter", None)
    tspec["expireAfter"] = expire or "720h"
    if disruption.get("consolidationPolicy") == "WhenUnderutilized":
        disruption["consolidationPolicy"] = "WhenEmptyOrUnderutilized"
        disruption.setdefault("consolidateAfter", "0s")
    disruption.setdefault("consolidateAfter", "0s")
    return dict(NODEPOOL, metadata={"name": manifest["metadata"]["name"]}, spec=spec), warnings, kubelet


def _from_v1beta1_nodeclass(manifest: dict) -> tuple[dict, list]:
    spec = copy.deepcopy(manifest.get("spec") or {})
    if not spec.get("amiSelectorTerms"):
        terms, family = _ami_terms({"amiFamily": spec.get("amiFamily")}, [])
        spec["amiSelectorTerms"] = terms
        if not family:
            spec.pop("amiFamily", None)
    return dict(EC2NODECLASS, metadata={"name": manifest["metadata"]["name"]}, spec=spec), []


def _from_v1_nodepool(manifest: dict) -> tuple[dict, list, dict | None]:
    warnings: list[str] = []
    return _strip(manifest), warnings, _annotated_kubelet(manifest, warnings)


_CONVERTERS = {
    ("karpenter.sh/v1alpha5", "Provisioner"): lambda m, role: _from_provisioner(m),
    ("karpenter.k8s.aws/v1alpha1", "AWSNodeTemplate"): lambda m, role: (*_from_awsnodetemplate(m, role), None),
    ("karpenter.sh/v1beta1", "NodePool"): lambda m, role: _from_v1beta1_nodepool(m),
    ("karpenter.k8s.aws/v1beta1", "EC2NodeClass"): lambda m, role: (*_from_v1beta1_nodeclass(m), None),
    ("karpenter.sh/v1", "NodePool"): lambda m, role: _from_v1_nodepool(m),
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): lambda m, role: (_strip(m), [], None),
}


def _strip(manifest: dict) -> dict:
    return {"apiVersion": manifest["apiVersion"], "kind": manifest["kind"], "metadata": {"name": manifest["metadata"]["name"]},
            "spec": copy.deepcopy(manifest.get("spec") or {})}


def _convert(manifest, node_role: str | None) -> tuple[dict, list[str], dict | None]:
    """(v1 object, warnings, the kubelet settings a NodePool's node class must carry or None)."""
    if not isinstance(manifest, dict):
        raise KarpenterError("legacy_definition: must be one Kubernetes manifest (a mapping with apiVersion, kind, metadata, spec)")
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    if key not in _CONVERTERS:
        known = ", ".join(f"{k} {v}" for v, k in _CONVERTERS)
        raise KarpenterError(f"legacy_definition: apiVersion {key[0]!r} kind {key[1]!r} is not a Karpenter manifest this converts ({known})")
    if not (manifest.get("metadata") or {}).get("name"):
        raise KarpenterError("legacy_definition.metadata.name: is required")
    return _CONVERTERS[key](manifest, node_role)


def convert(manifest, node_role: str | None = None) -> tuple[dict, list[str]]:
    """A Provisioner / AWSNodeTemplate / v1beta1 / v1 manifest -> (v1 object, warnings). Raises KarpenterError.

    Alone, a NodePool's kubelet settings have nowhere to go (v1 keeps them on the EC2NodeClass): they are
    dropped with a warning; ``convert_set`` carries them to the node class."""
    obj, warnings, kubelet = _convert(manifest, node_role)
    if kubelet is not None:
        source = _KUBELET_SOURCES[manifest["apiVersion"]](manifest)
        warnings = [w for w in warnings if not w.startswith(f"{source}.")]  # all of it is dropped, not only those fields
        warnings.append(f"{source}: moved to EC2NodeClass spec.kubelet in v1; "
                        "convert this manifest in a list with its node class to carry it there (dropped here)")
    return obj, warnings


def _kubelet_source(manifest: dict) -> str:
    if (((manifest.get("spec") or {}).get("template") or {}).get("spec") or {}).get("kubelet"):
        return "spec.template.spec.kubelet"
    return f"metadata.annotations.{KUBELET_CONVERSION_ANNOTATION}"


_KUBELET_SOURCES = {"karpenter.sh/v1alpha5": lambda m: "spec.kubeletConfiguration", "karpenter.sh/v1beta1": _kubelet_source,
                    "karpenter.sh/v1": _kubelet_source}


def _legacy_kubelet(path: str, kubelet, warnings: list) -> dict | None:
    """A v1alpha5 kubeletConfiguration / v1beta1 kubelet -> EC2NodeClass spec.kubelet (None when not set).
    Resource quantities become strings (v1's maps hold strings); fields v1 does not have are dropped with a warning."""
    if not kubelet:
        return None
    if not isinstance(kubelet, dict):
        raise KarpenterError(f"{path}: must be a mapping")
    out = {}
    for key, value in kubelet.items():
        if key not in KUBELET_FIELDS:
            warnings.append(f"{path}.{key}: has no v1 meaning and was dropped")
        elif isinstance(value, dict):
            out[key] = {k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else copy.deepcopy(v)
                        for k, v in value.items()}
        else:
            out[key] = copy.deepcopy(value)
    return out or None


def _annotated_kubelet(manifest: dict, warnings: list) -> dict | None:
    """The kubelet settings Karpenter v1.0's conversion kept in a NodePool annotation (JSON), or None."""
    text = ((manifest.get("metadata") or {}).get("annotations") or {}).get(KUBELET_CONVERSION_ANNOTATION)
    if text is None:
        return None
    path = f"metadata.annotations.{KUBELET_CONVERSION_ANNOTATION}"
    try:
        kubelet = json.loads(text) if isinstance(text, str) else text
    except ValueError as exc:
        raise KarpenterError(f"{path}: not valid JSON ({exc})") from exc
    return _legacy_kubelet(path, kubelet, warnings)


def _class_ref(pool: dict) -> str | None:
    ref = pool["spec"]["template"]["spec"].get("nodeClassRef") or {}
    if ref.get("group") == NODECLASS_GROUP and ref.get("kind") == "EC2NodeClass":
        return ref.get("name")
    return None


def split_name(name: str, pool: str) -> str:
    """<class>-<pool>, shortened with a hash of the whole when the label value Karpenter writes would exceed 63."""
    full = f"{name}-{pool}"
    if len(full) <= 63:
        return full
    return f"{full[:54].rstrip('-.')}-{hashlib.sha256(full.encode()).hexdigest()[:8]}"


def convert_set(manifests: list, node_role: str | None = None) -> list[tuple[int, dict, list[str]]]:
    """Convert manifests that belong together: [(input index, v1 object, warnings)], in input order.

    When the list holds node classes (AWSNodeTemplate / EC2NodeClass), every NodePool's class must be among them,
    and the kubelet settings v1 moved from the NodePool (v1alpha5 ``kubeletConfiguration``, v1beta1 ``kubelet``,
    Karpenter v1.0's ``compatibility.karpenter.sh/v1beta1-kubelet-conversion`` annotation) go onto that class's
    ``spec.kubelet``, over the class's own. NodePools that share a class and disagree are given a class each:
    those keeping the class's own settings keep its name, each other set of settings gets a copy named
    ``<class>-<its first NodePool by name>`` and its NodePools point at it. Without any node class in the list,
    each manifest converts alone (``convert``)."""
    converted = []
    for index, manifest in enumerate(manifests):
        try:
            converted.append((index, manifest, *_convert(manifest, node_role)))
        except KarpenterError as exc:
            raise KarpenterError(f"[{index}] {_label(manifest)}{exc}") from exc
    classes = {obj["metadata"]["name"]: index for index, _m, obj, _w, _k in converted if obj["kind"] == "EC2NodeClass"}
    if not classes:
        return [(index, *convert(manifest, node_role)) for index, manifest, *_rest in converted]
    members: dict[str, list] = {}
    for index, manifest, obj, warnings, kubelet in converted:
        if obj["kind"] != "NodePool":
            continue
        name = _class_ref(obj)
        if name is None:
            continue
        if name not in classes:
            field = "spec.providerRef.name" if manifest.get("kind") == "Provisioner" else "spec.template.spec.nodeClassRef.name"
            wanted = "AWSNodeTemplate" if manifest.get("kind") == "Provisioner" else "EC2NodeClass"
            raise KarpenterError(f"[{index}] {_label(manifest)}{field}: {wanted} {name!r} is not in the set (its node classes: "
                                 f"{', '.join(sorted(classes))}); add it to the list or convert this manifest alone")
        members.setdefault(name, []).append((obj, kubelet))
    extra: dict[str, list] = {}  # class name -> split copies, placed after it
    dropped = set()
    for name, pools in members.items():
        node_class = converted[classes[name]][2]
        own = node_class["spec"].get("kubelet")
        groups: dict[str, list] = {}
        for pool, kubelet in pools:
            effective = dict(own or {}, **kubelet) if kubelet else own
            groups.setdefault(json.dumps(effective, sort_keys=True), []).append((pool, effective))
        if len(groups) == 1:
            effective = next(iter(groups.values()))[0][1]
            if effective:
                node_class["spec"]["kubelet"] = effective
            continue
        ordered = sorted(groups.values(), key=lambda g: min(p["metadata"]["name"] for p, _e in g))
        if not any(g[0][1] == own for g in ordered):
            dropped.add(name)
        for group in ordered:
            effective = group[0][1]
            if effective == own:
                continue
            copy_name = split_name(name, min(p["metadata"]["name"] for p, _e in group))
            split = copy.deepcopy(node_class)
            split["metadata"]["name"] = copy_name
            split["spec"]["kubelet"] = effective
            extra.setdefault(name, []).append(split)
            for pool, _effective in group:
                pool["spec"]["template"]["spec"]["nodeClassRef"]["name"] = copy_name
    out = []
    for index, _manifest, obj, warnings, _kubelet in converted:
        if obj["kind"] != "EC2NodeClass" or obj["metadata"]["name"] not in dropped:
            out.append((index, obj, warnings))
        if obj["kind"] == "EC2NodeClass":
            out += [(index, split, list(warnings)) for split in extra.get(obj["metadata"]["name"], [])]
    names = [obj["metadata"]["name"] for _i, obj, _w in out if obj["kind"] == "EC2NodeClass"]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise KarpenterError(f"EC2NodeClass names must be unique in a converted set, repeated: {', '.join(clash)} "
                             "(a class split for NodePools with different kubelet settings takes <class>-<NodePool>)")
    return out


def _label(manifest) -> str:
    if isinstance(manifest, dict) and isinstance(manifest.get("metadata"), dict) and manifest["metadata"].get("name"):
        return f"{manifest.get('kind')}/{manifest['metadata']['name']}: "
    return ""


def target_kind(manifest) -> str | None:
    """NodePool or EC2NodeClass: what a manifest becomes in v1."""
    if not isinstance(manifest, dict):
        return None
    return {"Provisioner": "NodePool", "NodePool": "NodePool", "AWSNodeTemplate": "EC2NodeClass",
            "EC2NodeClass": "EC2NodeClass"}.get(manifest.get("kind"))
