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
  - With O(kubernetes_versions), also the versions EKS lists for each add-on per Kubernetes minor (one
    C(DescribeAddonVersions) per add-on), for example the cluster's minor and the next one to judge upgrade readiness.
  - Read only; runs the same in check mode.
author:
  - nodeless.eks contributors (@nodeless)
options:
  names:
    description: Describe only these add-ons (no C(ListAddons) call). When omitted, every add-on of the cluster.
    type: list
    elements: str
  kubernetes_versions:
    description:
      - Kubernetes minors, such as C(1.35) and C(1.36), for which each returned add-on gets the versions EKS lists as
        compatible (RV(addons[].compatible_versions)).
      - When omitted, no version is listed (no C(DescribeAddonVersions) call).
    type: list
    elements: str
extends_documentation_fragment:
  - nodeless.eks.eks_cluster
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

- name: Every add-on with the versions EKS lists for 1.35 and 1.36
  nodeless.eks.eks_addon_info:
    cluster_name: prod-eu
    kubernetes_versions: ["1.35", "1.36"]
  register: upgrade
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
  contains:
    compatible_versions:
      description:
        - With O(kubernetes_versions) only. Per minor asked for, the versions EKS lists as compatible, newest first, and
          the default one for that minor (null when EKS names none).
      type: dict
      returned: when O(kubernetes_versions) is given
      sample: {"1.35": {versions: [v1.21.1-eksbuild.1, v1.20.4-eksbuild.1], default: v1.20.4-eksbuild.1},
               "1.36": {versions: [v1.21.1-eksbuild.1], default: v1.21.1-eksbuild.1}}
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
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


@AWSRetry.jittered_backoff()
def _list_addons(client, cluster: str) -> list[str]:
    """Every add-on name of the cluster, over ListAddons' pages."""
    return client.get_paginator("list_addons").paginate(clusterName=cluster).build_full_result().get("addons", [])


def read(client, cluster: str, names: list[str] | None, minors: list[str] | None) -> list[dict]:
    """The add-ons (every one of the cluster's when NAMES is None), each with its compatible versions per minor of MINORS."""
    if names is None:
        names = _list_addons(client, cluster)
    addons = [item for item in (ea.canonical(ea.describe(client, cluster, name)) for name in names) if item]
    for addon in addons if minors else []:
        addon["compatible_versions"] = ea.compatible_by_minor(ea.addon_versions(client, addon["name"], None), minors)
    return addons


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(cluster_name=dict(type="str", required=True), names=dict(type="list", elements="str"),
                           kubernetes_versions=dict(type="list", elements="str")),
        supports_check_mode=True,
    )
    check_region(module)
    errors = ea.minors_errors(module.params["kubernetes_versions"], "kubernetes_versions")
    if errors:
        module.fail_json(msg="; ".join(errors))
    cluster = module.params["cluster_name"]
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    try:
        addons = read(client, cluster, module.params["names"], module.params["kubernetes_versions"])
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster!r} was not found in region {module.region}")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg=f"EKS add-ons of cluster {cluster!r}")
    module.exit_json(changed=False, addons=addons, names=[a["name"] for a in addons])


if __name__ == "__main__":
    main()
