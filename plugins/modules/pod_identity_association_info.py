#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pod_identity_association_info
short_description: Read the EKS Pod Identity associations of a cluster
version_added: 0.2.0
description:
  - Returns every Pod Identity association of the cluster (one paginated C(ListPodIdentityAssociations), then one
    C(DescribePodIdentityAssociation) each, since the list holds no role), including those an EKS add-on owns.
  - Read only; the same in check mode.
author:
  - nodeless.eks contributors (@nodeless)
extends_documentation_fragment:
  - nodeless.eks.eks_cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Which service accounts have a Pod Identity association?
  nodeless.eks.pod_identity_association_info:
    cluster_name: prod-eu
  register: pods

- name: Say which
  ansible.builtin.debug:
    msg: "{{ pods.associations | map(attribute='service_account') | list }}"
"""

RETURN = r"""
associations:
  description: The cluster's associations, as M(nodeless.eks.pod_identity_association) returns them, sorted by namespace and name.
  type: list
  elements: dict
  returned: always
  sample:
    - namespace: payments
      service_account: api
      role_arn: arn:aws:iam::123456789012:role/payments-api
      disable_session_tags: false
      association_id: a-1b2c3d4e5f6g7h8i9
      association_arn: arn:aws:eks:eu-west-1:123456789012:podidentityassociation/prod-eu/a-1b2c3d4e5f6g7h8i9
      owner_arn: null
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity as pi
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(argument_spec=dict(cluster_name=dict(type="str", required=True)), supports_check_mode=True)
    check_region(module)
    cluster = module.params["cluster_name"]
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = pi.read_all(client, cluster)
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster!r} was not found in region {module.region}")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg=f"Pod Identity associations of EKS cluster {cluster!r}")
    module.exit_json(changed=False, associations=[pi.view(found[key]) for key in sorted(found)])


if __name__ == "__main__":
    main()
