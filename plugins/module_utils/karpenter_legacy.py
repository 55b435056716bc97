# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Karpenter legacy manifests -> v1 objects: v1alpha5 ``Provisioner``, v1alpha1 ``AWSNodeTemplate`` and the v1beta1
NodePool / EC2NodeClass, one at a time (``convert``) or as a set whose references are followed (``convert_set``).

Pure functions (no I/O). Each conversion returns a v1 object (see ``karpenter_objects``, which validates it) plus one
warning per field that has no v1 meaning; a field that cannot be converted raises KarpenterError naming it.
"""

from __future__ import annotations

import copy
import hashlib
import json

from ansible_collections.nodeless.eks.plugins.module_utils.karpenter_objects import (
    ALIAS_FAMILIES, AMI_FAMILIES, EC2NODECLASS, IMDS_DEFAULTS, KUBELET_CONVERSION_ANNOTATION, KUBELET_FIELDS, NODECLASS_GROUP,
    NODEPOOL, KarpenterError,
)


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
