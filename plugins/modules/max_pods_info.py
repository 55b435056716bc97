#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: max_pods_info
short_description: Max pods per node for EC2 instance types under the Amazon VPC CNI
version_added: 0.1.0
description:
  - Reads the instance types' network limits with one C(ec2 describe-instance-types) call and computes how many
    pods the Amazon VPC CNI can give an address to, as amazon-eks-ami's C(max-pods-calculator.sh) does (the
    arithmetic of the lookup P(nodeless.eks.max_pods#lookup), which it shares).
  - A module, unlike the lookup, runs with the host's C(environment), so in a play over several clusters each
    host's instance types are read with that host's AWS credentials and endpoint.
  - Read-only; safe in check mode.
author:
  - nodeless.eks contributors (@nodeless)
options:
  instance_types:
    description:
      - EC2 instance types, for example C(m5.large); at most 100 distinct ones (one API request).
      - A type that does not exist in the region fails the module, naming it.
    type: list
    elements: str
    required: true
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
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Max pods of the node groups' instance types with prefix delegation
  nodeless.eks.max_pods_info:
    instance_types: [m5.large, c5.18xlarge]
    prefix_delegation: true
    region: eu-west-1
  register: pods

- name: Show them
  ansible.builtin.debug:
    msg: "{{ pods.max_pods }}"  # {'c5.18xlarge': 250, 'm5.large': 110}
"""

RETURN = r"""
max_pods:
  description: Max pods per node for each instance type asked for.
  type: dict
  returned: always
  sample: {"m5.large": 29, "t3.micro": 4}
changes:
  description: Always empty; this module writes nothing.
  type: list
  elements: dict
  returned: always
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.max_pods import InstanceTypesNotFound
from ansible_collections.nodeless.eks.plugins.module_utils.max_pods import describe
from ansible_collections.nodeless.eks.plugins.module_utils.max_pods import max_pods
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region

OPTIONS = ("prefix_delegation", "custom_networking", "max_eni", "vcpu_ceiling")


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(
            instance_types=dict(type="list", elements="str", required=True),
            prefix_delegation=dict(type="bool", default=False),
            custom_networking=dict(type="bool", default=False),
            max_eni=dict(type="int"),
            vcpu_ceiling=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    check_region(module)
    names = module.params["instance_types"]
    if not names:
        module.fail_json(msg="instance_types: give at least one instance type")
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        capacities = describe(client, names)
        result = {name: max_pods(capacities[name], **{k: module.params[k] for k in OPTIONS}) for name in names}
    except InstanceTypesNotFound as e:
        module.fail_json(msg=f"instance_types: no max pods for an instance type that does not exist in region {module.region}: {e}")
    except ValueError as e:
        module.fail_json(msg=f"max_eni / custom_networking: {e}")
    except Exception as e:  # pylint: disable=broad-except
        module.fail_json_aws(e, msg="instance_types: could not describe the instance types")
    module.exit_json(changed=False, changes=[], max_pods=result)


if __name__ == "__main__":
    main()
