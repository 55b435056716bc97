#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: karpenter_ec2nodeclass
short_description: Manage Karpenter v1 EC2NodeClasses, from typed options or a legacy AWSNodeTemplate
version_added: 0.1.0
description:
  - Builds a C(karpenter.k8s.aws/v1) C(EC2NodeClass) from typed options, or converts a v1alpha1 C(AWSNodeTemplate) (or v1beta1
    C(EC2NodeClass)) given as O(legacy_definition), validates it like the v1 CRD does, and applies it with server-side apply.
  - Instance metadata defaults to IMDSv2 required with a hop limit of 1, so pods cannot reach the node's credentials.
  - Several classes can be managed in one call with O(ec2nodeclasses).
author:
  - nodeless.eks contributors (@nodeless)
options:
  name:
    description: Name of the EC2NodeClass. Required unless O(legacy_definition) or O(ec2nodeclasses) is given.
    type: str
  role:
    description:
      - IAM role name of the nodes; Karpenter creates and manages the instance profile. Exactly one of O(role) and O(instance_profile).
      - With O(legacy_definition), replaces the manifest's C(instanceProfile).
    type: str
  instance_profile:
    description: Existing instance profile name of the nodes (Karpenter does not manage it).
    type: str
  ami_family:
    description:
      - C(AL2), C(AL2023), C(Bottlerocket), C(Custom), C(Windows2019), C(Windows2022) or C(Windows2025).
      - Required when O(ami_selector_terms) has no alias; when set with an alias it must be the alias's family or C(Custom).
    type: str
  ami_selector_terms:
    description: Which AMIs nodes use; an alias term stands alone.
    type: list
    elements: dict
    suboptions:
      alias:
        description: C(family@version), for example C(al2023@latest) or C(bottlerocket@v1.20.0).
        type: str
      id:
        description: AMI id.
        type: str
      name:
        description: AMI name (wildcards allowed).
        type: str
      owner:
        description: AMI owner account or alias, with O(ami_selector_terms[].name).
        type: str
      ssm_parameter:
        description: SSM parameter holding the AMI id.
        type: str
      tags:
        description: AMI tags to match.
        type: dict
  subnet_selector_terms:
    description: "Subnets nodes may use, for example C([{tags: {karpenter.sh/discovery: my-cluster}}])."
    type: list
    elements: dict
    suboptions:
      id:
        description: Subnet id.
        type: str
      tags:
        description: Subnet tags to match.
        type: dict
  security_group_selector_terms:
    description: Security groups nodes get.
    type: list
    elements: dict
    suboptions:
      id:
        description: Security group id.
        type: str
      name:
        description: Security group name.
        type: str
      tags:
        description: Security group tags to match.
        type: dict
  metadata_options:
    description: Instance metadata service settings; unset keys keep the safe defaults (IMDSv2 required, hop limit 1).
    type: dict
    suboptions:
      http_endpoint:
        description: C(enabled) or C(disabled).
        type: str
      http_protocol_ipv6:
        description: C(enabled) or C(disabled).
        type: str
      http_put_response_hop_limit:
        description: Hop limit, 1-64.
        type: int
      http_tokens:
        description: C(required) (IMDSv2) or C(optional).
        type: str
  block_device_mappings:
    description: EBS volumes of the nodes.
    type: list
    elements: dict
    suboptions:
      device_name:
        description: Device name such as C(/dev/xvda).
        type: str
      root_volume:
        description: This mapping is the root volume (at most one).
        type: bool
      ebs:
        description: The EBS volume.
        type: dict
        suboptions:
          volume_size:
            description: Size such as C(100Gi).
            type: str
          volume_type:
            description: C(gp3), C(gp2), C(io1), C(io2), C(st1), C(sc1) or C(standard).
            type: str
          iops:
            description: Provisioned IOPS.
            type: int
          throughput:
            description: Throughput in MiB/s (gp3).
            type: int
          encrypted:
            description: Encrypt the volume.
            type: bool
          kms_key_id:
            description: KMS key for encryption.
            type: str
          snapshot_id:
            description: Snapshot to create the volume from.
            type: str
          delete_on_termination:
            description: Delete the volume with the instance.
            type: bool
  kubelet:
    description: Kubelet settings, with Karpenter's camelCase keys (C(maxPods), C(systemReserved), C(evictionHard), ...).
    type: dict
  tags:
    description: Tags on every instance, volume and launch template Karpenter creates.
    type: dict
  user_data:
    description: User data merged with the one Karpenter generates for the AMI family.
    type: str
  associate_public_ip_address:
    description: Give nodes a public IP address.
    type: bool
  detailed_monitoring:
    description: Enable detailed CloudWatch monitoring.
    type: bool
  instance_store_policy:
    description: C(RAID0) to combine instance store volumes.
    type: str
  legacy_definition:
    description:
      - A C(karpenter.k8s.aws/v1alpha1) C(AWSNodeTemplate) (or v1beta1 C(EC2NodeClass)) manifest, as a mapping or YAML text, converted
        to v1 with a warning for every field without a v1 meaning. Only O(name) and O(role) may be combined with it.
      - A list of manifests (or YAML text with several documents) is converted as a set, as the C(nodeless.eks.karpenter_v1)
        filter does, and its node classes are managed (O(role) for each; O(name) cannot be combined with a set). The
        C(kubeletConfiguration) of the Provisioners in the set (a v1beta1 C(NodePool)'s C(kubelet), the
        C(compatibility.karpenter.sh/v1beta1-kubelet-conversion) annotation) goes onto the C(spec.kubelet) of the class
        each references; a class whose NodePools disagree is split into C(<class>-<first NodePool by name>) copies.
        Give the same set to M(nodeless.eks.karpenter_nodepool) afterwards.
    type: raw
  ec2nodeclasses:
    description: Several EC2NodeClasses in one call; each element takes the same keys as this module's class options above.
    type: list
    elements: dict
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - nodeless.eks.karpenter
"""

EXAMPLES = r"""
- name: The default node class, discovering subnets and security groups by tag
  nodeless.eks.karpenter_ec2nodeclass:
    name: default
    role: KarpenterNodeRole-my-cluster
    ami_selector_terms:
      - alias: al2023@latest
    subnet_selector_terms:
      - tags:
          karpenter.sh/discovery: my-cluster
    security_group_selector_terms:
      - tags:
          karpenter.sh/discovery: my-cluster
    block_device_mappings:
      - device_name: /dev/xvda
        root_volume: true
        ebs:
          volume_size: 100Gi
          volume_type: gp3
          encrypted: true
    kubelet:
      maxPods: 110
    tags:
      team: platform

- name: Convert and apply an AWSNodeTemplate from an old tutorial, with a Karpenter-managed instance profile
  nodeless.eks.karpenter_ec2nodeclass:
    role: KarpenterNodeRole-my-cluster
    legacy_definition:
      apiVersion: karpenter.k8s.aws/v1alpha1
      kind: AWSNodeTemplate
      metadata:
        name: legacy
      spec:
        subnetSelector:
          karpenter.sh/discovery: my-cluster
        securityGroupSelector:
          karpenter.sh/discovery: my-cluster

- name: >-
    Convert a set: the Provisioners' kubelet settings go on the class they reference (legacy-set for legacy-web, a
    copy legacy-set-legacy-batch with maxPods 50 for legacy-batch); give karpenter_nodepool the same set
  nodeless.eks.karpenter_ec2nodeclass:
    role: KarpenterNodeRole-my-cluster
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

- name: Remove a node class once no NodePool uses it
  nodeless.eks.karpenter_ec2nodeclass:
    name: legacy
    state: absent
"""

RETURN = r"""
changes:
  description: One entry per EC2NodeClass added, changed or removed (predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{resource: "k8s:EC2NodeClass/default", action: add}]
objects:
  description: The EC2NodeClasses as the API server returned them (dry-run result in check mode), without status and managedFields.
  returned: when O(state=present)
  type: list
  elements: dict
diff:
  description: Before and after of the fields this module manages (a list with O(ec2nodeclasses)).
  returned: always
  type: raw
definitions:
  description: The v1 EC2NodeClasses sent, after any legacy conversion.
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

_STR = {"type": "str"}
EC2NODECLASS_OPTIONS = {
    "name": _STR,
    "role": _STR,
    "instance_profile": _STR,
    "ami_family": _STR,
    "ami_selector_terms": {"type": "list", "elements": "dict", "options": {
        "alias": _STR, "id": _STR, "name": _STR, "owner": _STR, "ssm_parameter": _STR, "tags": {"type": "dict"}}},
    "subnet_selector_terms": {"type": "list", "elements": "dict", "options": {"id": _STR, "tags": {"type": "dict"}}},
    "security_group_selector_terms": {"type": "list", "elements": "dict", "options": {"id": _STR, "name": _STR, "tags": {"type": "dict"}}},
    "metadata_options": {"type": "dict", "options": {
        "http_endpoint": _STR, "http_protocol_ipv6": _STR, "http_put_response_hop_limit": {"type": "int"}, "http_tokens": {"type": "str", "no_log": False}}},
    "block_device_mappings": {"type": "list", "elements": "dict", "options": {
        "device_name": _STR, "root_volume": {"type": "bool"},
        "ebs": {"type": "dict", "options": {
            "volume_size": _STR, "volume_type": _STR, "iops": {"type": "int"}, "throughput": {"type": "int"},
            "encrypted": {"type": "bool"}, "kms_key_id": _STR, "snapshot_id": _STR, "delete_on_termination": {"type": "bool"}}}}},
    "kubelet": {"type": "dict"},
    "tags": {"type": "dict"},
    "user_data": _STR,
    "associate_public_ip_address": {"type": "bool"},
    "detailed_monitoring": {"type": "bool"},
    "instance_store_policy": _STR,
    "legacy_definition": {"type": "raw"},
}


def main():
    argument_spec = copy.deepcopy(AUTH_ARG_SPEC)
    argument_spec.update(copy.deepcopy(EC2NODECLASS_OPTIONS))
    argument_spec.update(karpenter_apply.COMMON_SPEC)
    argument_spec["ec2nodeclasses"] = {"type": "list", "elements": "dict"}
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("ec2nodeclasses", "name"), ("ec2nodeclasses", "legacy_definition")],
                              required_one_of=[("name", "legacy_definition", "ec2nodeclasses")])
    try:
        objects, warnings = karpenter_apply.desired_objects(module.params, EC2NODECLASS_OPTIONS, "ec2nodeclasses", "EC2NodeClass",
                                                            karpenter_objects.ec2nodeclass_from_options)
        result = karpenter_apply.run(get_api_client(module).client, objects, module.params, module.check_mode)
    except (karpenter_objects.KarpenterError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_from_exception(exc)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(definitions=objects, **result)


if __name__ == "__main__":
    main()
