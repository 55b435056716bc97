# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Karpenter v1 objects: the NodePool / EC2NodeClass kinds and their constants, objects built from module options,
and validation.

Pure functions (no I/O). Validation mirrors the v1 CRDs' schema and CEL rules so that bad input is
refused before anything reaches the API server, with the field path in the message. Converting legacy
manifests (v1alpha5, v1beta1) into these objects is ``karpenter_legacy``; the modules' apply pass is
``karpenter_apply``.
"""

from __future__ import annotations

import copy
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
