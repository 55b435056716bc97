#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_addon_info
short_description: Read which EKS managed add-ons a cluster runs, with their versions and configuration values
version_added: 0.1.0
description:
  - Lists the cluster's EKS managed add-ons (C(ListAddons)) and describes each (C(DescribeAddon)), or describes only the
    named ones. An add-on not installed as an EKS managed add-on (for example a self-managed VPC CNI) is not returned.
  - Read only; runs the same in check mode.
author:
  - nodeless.eks contributors (@nodeless)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  names:
    description: Describe only these add-ons (no C(ListAddons) call). When omitted, every add-on of the cluster.
    type: list
    elements: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Is vpc-cni an EKS managed add-on here?
  nodeless.eks.eks_addon_info:
    cluster_name: prod-eu
    names: [vpc-cni]
  register: cni

- name: Say so
  ansible.builtin.debug:
    msg: "{{ 'managed' if cni.addons else 'self-managed' }}"
"""

RETURN = r"""
addons:
  description: The cluster's EKS managed add-ons (of those asked for), as nodeless.eks.eks_addon returns them.
  type: list
  elements: dict
  returned: always
  sample:
    - name: vpc-cni
      version: v1.21.1-eksbuild.1
      status: ACTIVE
      configuration_values: {env: {WARM_PREFIX_TARGET: "1"}}
      service_account_role_arn: null
      pod_identity_associations: []
      arn: arn:aws:eks:eu-west-1:123456789012:addon/prod-eu/vpc-cni/0ac9b1a4-1b2c-3d4e-5f60-718293a4b5c6
      health: []
names:
  description: The names of the add-ons returned.
  type: list
  elements: str
  returned: always
  sample: [coredns, vpc-cni]
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import eks_addon as ea
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(cluster_name=dict(type="str", required=True), names=dict(type="list", elements="str")),
        supports_check_mode=True,
    )
    check_region(module)
    cluster = module.params["cluster_name"]
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    try:
        names = module.params["names"]
        if names is None:
            names = client.list_addons(clusterName=cluster, aws_retry=True).get("addons", [])
        addons = [item for item in (ea.canonical(ea.describe(client, cluster, name)) for name in names) if item]
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster!r} was not found in region {module.region}")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg=f"EKS add-ons of cluster {cluster!r}")
    module.exit_json(changed=False, addons=addons, names=[a["name"] for a in addons])


if __name__ == "__main__":
    main()
