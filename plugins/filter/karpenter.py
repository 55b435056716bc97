# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

# Documentation: karpenter_v1.yml (ansible-doc -t filter nodeless.eks.karpenter_v1)

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display


def _documents(value):
    from ansible_collections.nodeless.eks.plugins.module_utils import yaml_text
    if isinstance(value, str):
        try:
            documents = [d for d in yaml_text.load_all(value) if d]
        except yaml_text.YamlTextError as exc:
            raise AnsibleFilterError(f"karpenter_v1: not valid YAML: {exc}") from exc
        if len(documents) == 1 and isinstance(documents[0], list):  # one document holding a list of manifests
            return list(documents[0]), True
        return documents, True
    if isinstance(value, dict):
        return [value], False
    if isinstance(value, list):
        return list(value), True
    raise AnsibleFilterError(f"karpenter_v1: expected a manifest, a list of manifests or YAML text, not {type(value).__name__}")


def karpenter_v1(value, node_role=None, strict=False):
    from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_legacy
    from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_objects
    documents, many = _documents(value)
    try:
        if many:
            results = karpenter_legacy.convert_set(documents, node_role=node_role)
        else:
            results = [(0, *karpenter_legacy.convert(documents[0], node_role=node_role))]
    except karpenter_objects.KarpenterError as exc:
        raise AnsibleFilterError(f"karpenter_v1: {exc}") from exc
    converted = []
    for index, obj, warnings in results:
        where = f"[{index}] " if many else ""
        errors = karpenter_objects.validate(obj)
        if errors or (strict and warnings):
            raise AnsibleFilterError(f"karpenter_v1: {where}{obj['kind']}/{obj['metadata']['name']}: " + "; ".join(errors + warnings))
        for warning in warnings:
            Display().warning(f"karpenter_v1: {where}{obj['kind']}/{obj['metadata']['name']}: {warning}")
        converted.append(obj)
    return converted if many else converted[0]


class FilterModule:
    def filters(self):
        return {"karpenter_v1": karpenter_v1}
