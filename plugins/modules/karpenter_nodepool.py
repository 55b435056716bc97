#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: karpenter_nodepool
short_description: Manage Karpenter v1 NodePools, from typed options or a legacy Provisioner
version_added: 0.1.0
description:
  - Builds a C(karpenter.sh/v1) C(NodePool) from typed options, or converts a v1alpha5 C(Provisioner) (or v1beta1 C(NodePool))
    given as O(legacy_definition), validates it like the v1 CRD does, and applies it with server-side apply.
  - Several NodePools can be managed in one call with O(nodepools); the kind is read once and only the objects that differ are sent.
  - A C(nodeClassRef) to an EC2NodeClass that does not exist is a warning (Karpenter allows it), or a failure with O(strict=true).
author:
  - nodeless.eks contributors (@nodeless)
options:
  name:
    description: Name of the NodePool. Required unless O(legacy_definition) or O(nodepools) is given.
    type: str
  labels:
    description: Labels every node of this pool gets (C(spec.template.metadata.labels)).
    type: dict
  annotations:
    description: Annotations every node of this pool gets (C(spec.template.metadata.annotations)).
    type: dict
  node_class_ref:
    description: The node class nodes are launched with (C(spec.template.spec.nodeClassRef)).
    type: dict
    suboptions:
      group:
        description: API group of the node class; defaults to C(karpenter.k8s.aws).
        type: str
      kind:
        description: Kind of the node class; defaults to C(EC2NodeClass).
        type: str
      name:
        description: Name of the node class.
        type: str
        required: true
  requirements:
    description:
      - Node selector requirements (C(spec.template.spec.requirements)).
      - O(requirements[].operator) is one of C(In), C(NotIn), C(Exists), C(DoesNotExist), C(Gt), C(Lt), C(Gte), C(Lte);
        C(Gt)/C(Lt)/C(Gte)/C(Lte) take exactly one integer value.
    type: list
    elements: dict
    suboptions:
      key:
        description: Label key, for example C(karpenter.sh/capacity-type).
        type: str
        required: true
      operator:
        description: Operator (see above).
        type: str
        required: true
      values:
        description: Values for C(In), C(NotIn), C(Gt), C(Lt), C(Gte), C(Lte).
        type: list
        elements: str
      min_values:
        description: Minimum number of distinct values Karpenter must be able to choose from (1-50).
        type: int
  taints:
    description: Taints every node of this pool gets.
    type: list
    elements: dict
    suboptions:
      key:
        description: Taint key.
        type: str
        required: true
      value:
        description: Taint value.
        type: str
      effect:
        description: C(NoSchedule), C(PreferNoSchedule) or C(NoExecute).
        type: str
        required: true
  startup_taints:
    description: Taints present only until a DaemonSet or controller removes them at startup.
    type: list
    elements: dict
    suboptions:
      key:
        description: Taint key.
        type: str
        required: true
      value:
        description: Taint value.
        type: str
      effect:
        description: C(NoSchedule), C(PreferNoSchedule) or C(NoExecute).
        type: str
        required: true
  expire_after:
    description: Node lifetime before replacement, a duration such as C(720h), or C(Never).
    type: str
  termination_grace_period:
    description: Longest time a node may spend draining, a duration such as C(48h).
    type: str
  limits:
    description: "Resource limits of the whole pool, for example C({cpu: 1000, memory: 1000Gi})."
    type: dict
  weight:
    description: Priority among NodePools, 1 to 100 (higher first).
    type: int
  disruption:
    description: When Karpenter may remove or replace nodes.
    type: dict
    suboptions:
      consolidation_policy:
        description: C(WhenEmpty), C(WhenEmptyOrUnderutilized) or C(Balanced).
        type: str
      consolidate_after:
        description: How long a node must be consolidatable first, a duration such as C(30s), or C(Never).
        type: str
      budgets:
        description: Disruption budgets; a budget with O(disruption.budgets[].schedule) needs O(disruption.budgets[].duration).
        type: list
        elements: dict
        suboptions:
          nodes:
            description: Nodes that may be disrupted at once, a count (C(5)) or a percentage (C(10%)).
            type: str
          schedule:
            description: Cron expression (UTC) at which the budget starts, such as C(0 9 * * mon-fri) or C(@daily).
            type: str
          duration:
            description: How long the budget applies after each schedule, such as C(8h) or C(1h30m).
            type: str
          reasons:
            description: Disruption reasons the budget covers, from C(Underutilized), C(Empty), C(Drifted).
            type: list
            elements: str
  legacy_definition:
    description:
      - A C(karpenter.sh/v1alpha5) C(Provisioner) (or C(karpenter.sh/v1beta1) C(NodePool)) manifest, as a mapping or YAML text.
        It is converted to v1 with a warning for every field without a v1 meaning; see the C(nodeless.eks.karpenter_v1) filter.
      - Only O(name) (to rename) may be combined with it.
      - A list of manifests (or YAML text with several documents) is converted as a set, as the filter does, and its NodePools
        are managed; give the same set to M(nodeless.eks.karpenter_ec2nodeclass) first, which manages its node classes. Each
        Provisioner's C(kubeletConfiguration) (a v1beta1 C(kubelet), the C(compatibility.karpenter.sh/v1beta1-kubelet-conversion)
        annotation) then lands on the C(spec.kubelet) of the EC2NodeClass it references, which must be in the set; NodePools
        sharing a class with different kubelet settings point at a class of their own, C(<class>-<first NodePool by name>).
        O(name) cannot be combined with a set.
    type: raw
  nodepools:
    description:
      - Several NodePools in one call; each element takes the same keys as this module's NodePool options above (O(name),
        O(requirements), O(disruption), O(legacy_definition), ...).
    type: list
    elements: dict
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - nodeless.eks.karpenter
"""

EXAMPLES = r"""
- name: A spot and on-demand pool for general workloads
  nodeless.eks.karpenter_nodepool:
    name: general
    node_class_ref:
      name: default
    requirements:
      - key: karpenter.sh/capacity-type
        operator: In
        values: [spot, on-demand]
      - key: karpenter.k8s.aws/instance-generation
        operator: Gt
        values: ["4"]
    expire_after: 720h
    limits:
      cpu: 1000
    disruption:
      consolidation_policy: WhenEmptyOrUnderutilized
      consolidate_after: 1m
      budgets:
        - nodes: 10%
        - nodes: "0"
          schedule: "0 9 * * mon-fri"
          duration: 8h
          reasons: [Underutilized]

- name: A tainted pool for GPU jobs, preferred over others
  nodeless.eks.karpenter_nodepool:
    name: gpu
    node_class_ref:
      name: default
    labels:
      workload: gpu
    requirements:
      - key: karpenter.k8s.aws/instance-family
        operator: In
        values: [g5, g6]
    taints:
      - key: nvidia.com/gpu
        value: "true"
        effect: NoSchedule
    weight: 50

- name: Convert and apply a Provisioner from an old tutorial
  nodeless.eks.karpenter_nodepool:
    legacy_definition:
      apiVersion: karpenter.sh/v1alpha5
      kind: Provisioner
      metadata:
        name: legacy
      spec:
        requirements:
          - key: karpenter.sh/capacity-type
            operator: In
            values: [spot]
        consolidation:
          enabled: true
        ttlSecondsUntilExpired: 2592000
        limits:
          resources:
            cpu: 1000
        providerRef:
          name: default

- name: >-
    Convert a set: legacy-batch and legacy-web share the template legacy-set but not their kubelet settings, so legacy-batch
    points at EC2NodeClass legacy-set-legacy-batch (the karpenter_ec2nodeclass example with the same set makes it)
  nodeless.eks.karpenter_nodepool:
    legacy_definition:
      - apiVersion: karpenter.sh/v1alpha5
        kind: Provisioner
        metadata:
          name: legacy-batch
        spec:
          providerRef:
            name: legacy-set
          kubeletConfiguration:
            maxPods: 50
            systemReserved:
              cpu: 100m
              memory: 256Mi
      - apiVersion: karpenter.sh/v1alpha5
        kind: Provisioner
        metadata:
          name: legacy-web
        spec:
          providerRef:
            name: legacy-set
      - apiVersion: karpenter.k8s.aws/v1alpha1
        kind: AWSNodeTemplate
        metadata:
          name: legacy-set
        spec:
          amiFamily: AL2023
          subnetSelector:
            karpenter.sh/discovery: my-cluster
          securityGroupSelector:
            karpenter.sh/discovery: my-cluster

- name: Several pools in one call
  nodeless.eks.karpenter_nodepool:
    nodepools:
      - name: team-a
        node_class_ref: {name: default}
        requirements: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]
      - name: team-b
        node_class_ref: {name: default}
        requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]

- name: Remove a pool and wait for Karpenter to drain its nodes
  nodeless.eks.karpenter_nodepool:
    name: gpu
    state: absent
    wait_timeout: 600
"""

RETURN = r"""
changes:
  description: One entry per NodePool added, changed or removed (predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{resource: "k8s:NodePool/general", action: add}]
objects:
  description: The NodePools as the API server returned them (dry-run result in check mode), without status and managedFields.
  returned: when O(state=present)
  type: list
  elements: dict
diff:
  description: Before and after of the fields this module manages (a list with O(nodepools)).
  returned: always
  type: raw
definitions:
  description: The v1 NodePools sent, after any legacy conversion.
  returned: always
  type: list
  elements: dict
"""

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_apply
from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_objects
from ansible_collections.nodeless.eks.plugins.module_utils.k8s import K8sError
from ansible_collections.nodeless.eks.plugins.module_utils.k8s import list_objects

_TAINT = {"type": "list", "elements": "dict", "options": {
    "key": {"type": "str", "required": True, "no_log": False}, "value": {"type": "str"}, "effect": {"type": "str", "required": True}}}
NODEPOOL_OPTIONS = {
    "name": {"type": "str"},
    "labels": {"type": "dict"},
    "annotations": {"type": "dict"},
    "node_class_ref": {"type": "dict", "options": {"group": {"type": "str"}, "kind": {"type": "str"}, "name": {"type": "str", "required": True}}},
    "requirements": {"type": "list", "elements": "dict", "options": {
        "key": {"type": "str", "required": True, "no_log": False}, "operator": {"type": "str", "required": True},
        "values": {"type": "list", "elements": "str"}, "min_values": {"type": "int"}}},
    "taints": copy.deepcopy(_TAINT),
    "startup_taints": copy.deepcopy(_TAINT),
    "expire_after": {"type": "str"},
    "termination_grace_period": {"type": "str"},
    "limits": {"type": "dict"},
    "weight": {"type": "int"},
    "disruption": {"type": "dict", "options": {
        "consolidation_policy": {"type": "str"}, "consolidate_after": {"type": "str"},
        "budgets": {"type": "list", "elements": "dict", "options": {
            "nodes": {"type": "str"}, "schedule": {"type": "str"}, "duration": {"type": "str"},
            "reasons": {"type": "list", "elements": "str"}}}}},
    "legacy_definition": {"type": "raw"},
}


def main():
    argument_spec = copy.deepcopy(AUTH_ARG_SPEC)
    argument_spec.update(copy.deepcopy(NODEPOOL_OPTIONS))
    argument_spec.update(karpenter_apply.COMMON_SPEC)
    argument_spec["nodepools"] = {"type": "list", "elements": "dict"}
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("nodepools", "name"), ("nodepools", "legacy_definition")],
                              required_one_of=[("name", "legacy_definition", "nodepools")])
    try:
        objects, warnings = karpenter_apply.desired_objects(module.params, NODEPOOL_OPTIONS, "nodepools", "NodePool",
                                                            karpenter_objects.nodepool_from_options)
        client = get_api_client(module).client
        if module.params["state"] == "present":
            classes = list_objects(client, karpenter_objects.EC2NODECLASS["apiVersion"], "EC2NodeClass")
            missing = karpenter_apply.missing_node_classes(objects, classes)
            if missing and module.params["strict"]:
                raise karpenter_objects.KarpenterError("strict: " + "; ".join(missing))
            warnings += missing
        result = karpenter_apply.run(client, objects, module.params, module.check_mode)
    except (karpenter_objects.KarpenterError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_from_exception(exc)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(definitions=objects, **result)


if __name__ == "__main__":
    main()
