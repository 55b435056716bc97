#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_policy_arns_info
short_description: Tell which IAM managed policy ARNs exist
version_added: 0.1.0
description:
  - Calls C(iam get-policy) once per distinct ARN and reports which exist, so a role can refuse a
    missing policy before it creates anything (amazon.aws.iam_role would create the role first and
    fail when attaching).
  - Read-only; safe in check mode.
author:
  - nodeless.eks contributors (@nodeless)
options:
  arns:
    description: Policy ARNs to look up.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Check that the policies exist
  nodeless.eks.iam_policy_arns_info:
    arns:
      - arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy
  register: found

- name: Refuse missing ones
  ansible.builtin.assert:
    that: found.missing | length == 0
"""

RETURN = r"""
existing:
  description: ARNs that exist.
  type: list
  elements: str
  returned: always
missing:
  description: ARNs that do not exist.
  type: list
  elements: str
  returned: always
changes:
  description: Always empty; this module writes nothing.
  type: list
  elements: dict
  returned: always
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.names import is_policy_arn
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


def exists(client, arn: str) -> bool:
    try:
        client.get_policy(PolicyArn=arn, aws_retry=True)
        return True
    except is_boto3_error_code("NoSuchEntity"):
        return False


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(argument_spec=dict(arns=dict(type="list", elements="str", required=True)), supports_check_mode=True)
    check_region(module)
    bad = [f"arns[{i}]: {arn!r} is not an IAM policy ARN" for i, arn in enumerate(module.params["arns"]) if not is_policy_arn(arn)]
    if bad:
        module.fail_json(msg="; ".join(bad))
    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff(catch_extra_error_codes=[]))
    found = {}
    try:
        for arn in sorted(set(module.params["arns"])):
            found[arn] = exists(client, arn)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg="could not read the policies")
    module.exit_json(changed=False, changes=[], existing=[a for a, ok in found.items() if ok], missing=[a for a, ok in found.items() if not ok])


if __name__ == "__main__":
    main()
