# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What karpenter_nodepool and karpenter_ec2nodeclass share: options in, v1 objects out, one apply pass.

``desired_objects`` turns module parameters (one object or a batch list, typed options or a legacy
manifest) into validated v1 objects, raising KarpenterError before anything is sent. ``run`` then
reads each kind once, applies what differs and builds ``changes`` and ``diff``.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nodeless.eks.plugins.module_utils import k8s
from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_legacy
from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_objects
from ansible_collections.nodeless.eks.plugins.module_utils import yaml_text
from ansible_collections.nodeless.eks.plugins.module_utils.changes import change

COMMON_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "strict": {"type": "bool", "default": False},
    "field_manager": {"type": "str", "default": "nodeless.eks"},
    "force_conflicts": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 120},
}
# options that still make sense next to legacy_definition (name renames, role replaces instanceProfile)
_WITH_LEGACY = ("name", "legacy_definition", "role")


def _parse_manifest(value):
    """One manifest (a mapping) or a set (a list; YAML text with several documents, or one holding a list)."""
    if isinstance(value, str):
        try:
            documents = [d for d in yaml_text.load_all(value) if d is not None]
        except yaml_text.YamlTextError as exc:
            raise karpenter_objects.KarpenterError(f"legacy_definition: not valid YAML: {exc}") from exc
        return documents[0] if len(documents) == 1 else documents
    return value


def _legacy(where: str, opts: dict, kind: str, strict: bool) -> list[tuple[dict, list[str]]]:
    """legacy_definition -> [(v1 object of KIND, warnings)]: one manifest, or those of a set that become a KIND."""
    extra = sorted(k for k, v in opts.items() if v is not None and k not in _WITH_LEGACY)
    if extra:
        raise karpenter_objects.KarpenterError(f"{where}legacy_definition: cannot be combined with {', '.join(extra)}")
    manifest = _parse_manifest(opts["legacy_definition"])
    if isinstance(manifest, list):
        if opts.get("name"):
            raise karpenter_objects.KarpenterError(f"{where}name: cannot rename the objects of a set (legacy_definition is a list)")
        # the NodePool module keeps no class of the set; a class without instanceProfile needs some role to convert
        role = opts.get("role") or ("unused-by-nodepools" if kind == "NodePool" else None)
        try:
            converted = karpenter_legacy.convert_set(manifest, node_role=role)
        except karpenter_objects.KarpenterError as exc:
            raise karpenter_objects.KarpenterError(f"{where}legacy_definition{'' if str(exc).startswith('[') else ': '}{exc}") from exc
        out = [(obj, [f"{where}legacy_definition[{index}] {kind}/{obj['metadata']['name']}: {w}" for w in warnings])
               for index, obj, warnings in converted if obj["kind"] == kind]
        if not out:
            raise karpenter_objects.KarpenterError(f"{where}legacy_definition: the set holds no manifest that becomes a {kind}")
    else:
        if karpenter_legacy.target_kind(manifest) not in (None, kind):
            raise karpenter_objects.KarpenterError(f"{where}legacy_definition: a {manifest.get('kind')} becomes a {karpenter_legacy.target_kind(manifest)}, "
                                                   f"not a {kind}; use the other module")
        try:
            obj, warnings = karpenter_legacy.convert(manifest, node_role=opts.get("role"))
        except karpenter_objects.KarpenterError as exc:
            raise karpenter_objects.KarpenterError(f"{where}{exc}") from exc
        if opts.get("name"):
            obj["metadata"]["name"] = opts["name"]
        out = [(obj, [f"{where}{kind}/{obj['metadata']['name']}: {w}" for w in warnings])]
    notes = [w for _obj, warnings in out for w in warnings]
    if strict and notes:
        raise karpenter_objects.KarpenterError(f"{where}legacy_definition: strict is set and {'; '.join(notes)}")
    return out


def _one(prefix: str, opts: dict, kind: str, builder, strict: bool, check: bool = True) -> tuple[list[dict], list[str]]:
    where = f"{prefix}." if prefix else ""
    if opts.get("legacy_definition") is not None:
        converted = _legacy(where, opts, kind, strict)
    else:
        if not opts.get("name"):
            raise karpenter_objects.KarpenterError(f"{where}name: is required (or give legacy_definition)")
        converted = [(builder({k: v for k, v in opts.items() if k != "legacy_definition"}), [])]
    objects, notes = [], []
    for obj, warnings in converted:
        problem = karpenter_objects.name_error(kind, obj["metadata"].get("name"))
        if problem:
            raise karpenter_objects.KarpenterError(f"{where}name: {problem}")
        errors = karpenter_objects.validate(obj) if check else []
        if errors:
            name = obj["metadata"].get("name")
            raise karpenter_objects.KarpenterError(f"{where}{kind} {name!r} is not valid: " + "; ".join(errors))
        objects.append(obj)
        notes += warnings
    return objects, notes


def desired_objects(params: dict, options_spec: dict, batch_key: str, kind: str, builder) -> tuple[list[dict], list[str]]:
    """Module parameters -> ([v1 objects], [warnings]); raises KarpenterError naming the field."""
    strict = bool(params.get("strict"))
    check = params.get("state", "present") == "present"  # a deletion needs only the name
    objects, warnings = [], []
    if params.get(batch_key):
        validator = ArgumentSpecValidator(options_spec)
        for i, element in enumerate(params[batch_key]):
            result = validator.validate(element)
            if result.error_messages:
                raise karpenter_objects.KarpenterError(f"{batch_key}[{i}]: " + "; ".join(result.error_messages))
            opts = {k: result.validated_parameters.get(k) for k in options_spec}
            found, notes = _one(f"{batch_key}[{i}]", opts, kind, builder, strict, check)
            objects += found
            warnings += notes
    else:
        objects, warnings = _one("", {k: params.get(k) for k in options_spec}, kind, builder, strict, check)
    names = [o["metadata"]["name"] for o in objects]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise karpenter_objects.KarpenterError(f"{batch_key}: {kind} names must be unique, repeated: {', '.join(duplicates)}")
    return objects, warnings


def missing_node_classes(nodepools: list[dict], classes: dict) -> list[str]:
    """Warnings for NodePools whose nodeClassRef names an EC2NodeClass that does not exist."""
    out = []
    for pool in nodepools:
        ref = pool["spec"]["template"]["spec"]["nodeClassRef"]
        if ref["group"] == karpenter_objects.NODECLASS_GROUP and ref["kind"] == "EC2NodeClass" and ref["name"] not in classes:
            out.append(f"NodePool/{pool['metadata']['name']}: spec.template.spec.nodeClassRef.name: EC2NodeClass {ref['name']!r} "
                       "does not exist (yet); Karpenter will not launch nodes for this NodePool until it does")
    return out


def run(client, objects: list[dict], params: dict, dry_run: bool) -> dict:
    """Apply or delete ``objects`` (all of one kind); returns changed, changes, diff, objects."""
    api_version, kind = objects[0]["apiVersion"], objects[0]["kind"]
    live = k8s.list_objects(client, api_version, kind)
    changes, diffs, results = [], [], []
    if params["state"] == "absent":
        for obj in objects:
            name = obj["metadata"]["name"]
            if name in live:
                k8s.delete(client, api_version, kind, name, None, dry_run, params["wait_timeout"])
                changes.append(change("k8s", kind, name, "remove"))
            diffs.append({"before": k8s.strip_volatile(live.get(name)) or {}, "after": {}})
    else:
        for outcome in k8s.ensure_present(client, objects, params["field_manager"], dry_run, live, params["force_conflicts"]):
            if outcome["action"]:
                changes.append(change("k8s", kind, outcome["name"], outcome["action"]))
            diffs.append({"before": outcome["before"], "after": outcome["after"]})
            results.append(outcome["object"])
    return {"changed": bool(changes), "changes": changes, "diff": diffs[0] if len(diffs) == 1 else diffs, "objects": results}
