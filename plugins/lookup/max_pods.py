# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: max_pods
short_description: Max pods per node for EC2 instance types under the Amazon VPC CNI
version_added: 0.1.0
author:
  - nodeless.eks contributors (@nodeless)
description:
  - Reads the instance types' network limits with one C(ec2 describe-instance-types) call and computes how
    many pods the Amazon VPC CNI can give an address to, as amazon-eks-ami's C(max-pods-calculator.sh) does.
  - Without prefix delegation, each ENI gives (IPv4 addresses per ENI - 1) pod addresses; with prefix
    delegation on Nitro instances, each of those slots holds a /28 prefix of 16 addresses. Two host-network
    pods are added. The result is then capped at 110 (30 vCPUs or fewer) or 250 (more than 30 vCPUs).
  - Returns one integer per term, in order. An instance type that does not exist in the region fails the lookup.
  - A lookup runs on the controller, outside the play's C(environment). Where hosts reach AWS with different
    credentials or endpoints (one cluster per host, each with its own account), use the module
    M(nodeless.eks.max_pods_info), which runs with each host's environment, as the C(vpc_cni) role does.
options:
  _terms:
    description: EC2 instance types, for example C(m5.large).
    required: true
    type: list
    elements: str
  prefix_delegation:
    description: Compute for C(ENABLE_PREFIX_DELEGATION=true). Ignored for non-Nitro instance types.
    type: bool
    default: false
  custom_networking:
    description: Compute for CNI custom networking (C(AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true)); the primary ENI carries no pods.
    type: bool
    default: false
  max_eni:
    description: Use at most this many ENIs (the CNI's C(MAX_ENI) setting).
    type: int
  vcpu_ceiling:
    description:
      - Cap the result at 110 pods (30 vCPUs or fewer) or 250 pods (more), as EKS recommends.
      - Set to C(false) for the raw value that amazon-eks-ami's C(eni-max-pods.txt) lists.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
"""

EXAMPLES = r"""
- name: Max pods for an m5.large, with and without prefix delegation
  ansible.builtin.debug:
    msg:
      - "{{ lookup('nodeless.eks.max_pods', 'm5.large') }}"                            # 29
      - "{{ lookup('nodeless.eks.max_pods', 'm5.large', prefix_delegation=true) }}"    # 110

- name: One value per node group instance type, in one API call
  ansible.builtin.set_fact:
    max_pods_by_type: "{{ dict(types | zip(query('nodeless.eks.max_pods', *types, region='eu-west-1'))) }}"
  vars:
    types: [m5.large, c5.18xlarge, t3.micro]
"""

RETURN = r"""
_raw:
  description: Max pods for each instance type, in the order given.
  type: list
  elements: int
"""

try:
    import botocore
except ImportError:
    pass  # Handled by AWSLookupBase

from ansible.errors import AnsibleLookupError

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase

from ansible_collections.nodeless.eks.plugins.module_utils.max_pods import InstanceTypesNotFound
from ansible_collections.nodeless.eks.plugins.module_utils.max_pods import describe
from ansible_collections.nodeless.eks.plugins.module_utils.max_pods import max_pods


class LookupModule(AWSLookupBase):
    def run(self, terms, variables=None, **kwargs):
        super().run(terms, variables, **kwargs)
        names = [str(t) for t in terms]
        if not names:
            raise AnsibleLookupError("max_pods: give at least one instance type")
        client = self.client("ec2", AWSRetry.jittered_backoff())
        try:
            by_name = describe(client, names)
        except InstanceTypesNotFound as e:
            raise AnsibleLookupError(f"max_pods: instance type not found in region {self.region}: {e}") from None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws("max_pods: describe-instance-types failed", e)
        options = {k: self.get_option(k) for k in ("prefix_delegation", "custom_networking", "max_eni", "vcpu_ceiling")}
        try:
            return [max_pods(by_name[name], **options) for name in names]
        except ValueError as e:
            raise AnsibleLookupError(f"max_pods: {e}") from None
