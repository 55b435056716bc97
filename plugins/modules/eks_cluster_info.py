#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_cluster_info
short_description: Read the facts of one EKS cluster that every nodeless.eks role needs
version_added: 0.1.0
description:
  - Calls C(eks describe-cluster) once and returns the endpoint, CA data, OIDC issuer, Kubernetes
    minor version, VPC, subnets, security groups, account, partition and region in one flat dictionary.
  - Optionally lists the cluster's managed node groups with their ASG names, labels and taints.
  - Read-only; safe in check mode.
author:
  - nodeless.eks contributors (@nodeless)
options:
  name:
    description: Name of the EKS cluster.
    type: str
    required: true
  nodegroups:
    description: Also describe every managed node group (one call per group).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the cluster's facts once
  nodeless.eks.eks_cluster_info:
    name: prod-eu
    region: eu-west-1
  register: facts

- name: Use the OIDC issuer
  ansible.builtin.debug:
    msg: "{{ facts.cluster.oidc_issuer }}"
"""

RETURN = r"""
cluster:
  description: The cluster's facts.
  returned: always
  type: dict
  contains:
    name: {description: Cluster name., type: str, returned: always, sample: lab}
    arn: {description: Cluster ARN., type: str, returned: always, sample: "arn:aws:eks:us-west-2:123456789012:cluster/lab"}
    account_id: {description: Account that owns the cluster., type: str, returned: always, sample: "123456789012"}
    partition: {description: AWS partition., type: str, returned: always, sample: aws}
    region: {description: Region of the cluster., type: str, returned: always, sample: us-west-2}
    status: {description: Cluster status., type: str, returned: always, sample: ACTIVE}
    version: {description: Kubernetes minor version., type: str, returned: always, sample: "1.35"}
    platform_version: {description: EKS platform version., type: str, returned: always, sample: eks.4}
    endpoint: {description: API server URL., type: str, returned: always, sample: "https://ABC.gr7.us-west-2.eks.amazonaws.com"}
    certificate_authority_data: {description: Base64 PEM of the cluster CA., type: str, returned: always}
    oidc_issuer:
      description: OIDC issuer URL, or null when the cluster has none.
      type: str
      returned: always
      sample: "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
    oidc_provider:
      description: The issuer without C(https://), as IAM names it.
      type: str
      returned: always
    vpc_id: {description: Cluster VPC., type: str, returned: always}
    subnet_ids: {description: Cluster subnets., type: list, elements: str, returned: always}
    security_group_ids: {description: Additional security groups., type: list, elements: str, returned: always}
    cluster_security_group_id: {description: EKS-created cluster security group., type: str, returned: always}
    service_ipv4_cidr: {description: Service CIDR., type: str, returned: always}
    role_arn: {description: Cluster IAM role., type: str, returned: always}
    tags: {description: Cluster tags., type: dict, returned: always}
    auto_mode:
      description:
        - Whether EKS Auto Mode is on (C(computeConfig.enabled)); EKS then runs Karpenter, the load balancer controller
          and the EBS CSI driver itself.
      type: bool
      returned: always
    nodegroups:
      description: Managed node groups, when O(nodegroups=true).
      type: list
      elements: dict
      returned: when requested
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.eks import cluster_facts
from ansible_collections.nodeless.eks.plugins.module_utils.eks import describe_nodegroups
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(name=dict(type="str", required=True), nodegroups=dict(type="bool", default=False)),
        supports_check_mode=True,
    )
    check_region(module)
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    name = module.params["name"]
    try:
        cluster = client.describe_cluster(name=name, aws_retry=True)["cluster"]
        facts = cluster_facts(cluster)
        if module.params["nodegroups"]:
            facts["nodegroups"] = describe_nodegroups(client, name)
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"name: EKS cluster {name!r} was not found in region {module.region}")
    except Exception as e:  # pylint: disable=broad-except
        module.fail_json_aws(e, msg=f"name: could not describe EKS cluster {name!r}")
    module.exit_json(changed=False, cluster=facts)


if __name__ == "__main__":
    main()
