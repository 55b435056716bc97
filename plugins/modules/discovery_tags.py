#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: discovery_tags
short_description: Tag subnets and security groups so load balancers and Karpenter find them, in batches
version_added: 0.1.0
description:
  - Classifies each subnet as public or private from its route table (the explicitly associated one,
    else the VPC's main one) - public when it has a default route to an internet gateway.
  - Tags public subnets C(kubernetes.io/role/elb=1) and private ones C(kubernetes.io/role/internal-elb=1)
    (read by the AWS Load Balancer Controller), every subnet C(kubernetes.io/cluster/<cluster>=shared|owned),
    and private subnets and the given security groups C(karpenter.sh/discovery=<cluster>) (read by
    Karpenter's EC2NodeClass selectors).
  - Reads subnets, route tables and security groups once each, then sends one C(CreateTags) per
    distinct set of missing tags across all resources (and one C(DeleteTags) per set of stale keys).
    Every input is checked before the first write.
  - In check mode nothing is written; C(changes) and the diff list what would change per resource.
author:
  - nodeless.eks contributors (@nodeless)
options:
  cluster_name:
    description: EKS cluster the tags point at.
    type: str
    required: true
  subnet_ids:
    description: Subnets to classify and tag. Every one must exist; all missing ones are reported together.
    type: list
    elements: str
    default: []
  security_group_ids:
    description:
      - Security groups to tag C(karpenter.sh/discovery=<cluster>) (with O(karpenter=true)), typically the
        cluster security group. Every one must exist.
    type: list
    elements: str
    default: []
  cluster_tag_value:
    description: Value of C(kubernetes.io/cluster/<cluster>) on subnets; V(owned) when the subnets belong to this cluster alone.
    type: str
    choices: [shared, owned]
    default: shared
  load_balancer_roles:
    description: Write the C(kubernetes.io/role/elb) / C(kubernetes.io/role/internal-elb) subnet tags.
    type: bool
    default: true
  karpenter:
    description: Write C(karpenter.sh/discovery=<cluster>) on private subnets and on O(security_group_ids).
    type: bool
    default: true
  purge:
    description:
      - Remove a load-balancer role tag of the wrong kind (C(internal-elb) on a public subnet,
        C(elb) on a private one), left by an earlier classification. No other tag is removed.
    type: bool
    default: true
  state:
    description:
      - V(present) sets the tags. V(absent) removes this cluster's tags (its C(kubernetes.io/cluster/<cluster>)
        tag and C(karpenter.sh/discovery=<cluster>)), and the role tags of subnets no other cluster is tagged on.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Tag the cluster's subnets and security group for load balancers and Karpenter
  nodeless.eks.discovery_tags:
    cluster_name: prod-eu
    subnet_ids: "{{ nodeless_eks_cluster.subnet_ids }}"
    security_group_ids: ["{{ nodeless_eks_cluster.cluster_security_group_id }}"]

- name: Subnets of this cluster alone, no Karpenter
  nodeless.eks.discovery_tags:
    cluster_name: prod-eu
    subnet_ids: [subnet-0a1b, subnet-2c3d]
    cluster_tag_value: owned
    karpenter: false

- name: Remove this cluster's discovery tags
  nodeless.eks.discovery_tags:
    cluster_name: prod-eu
    subnet_ids: "{{ nodeless_eks_cluster.subnet_ids }}"
    security_group_ids: ["{{ nodeless_eks_cluster.cluster_security_group_id }}"]
    state: absent
"""

RETURN = r"""
changes:
  description: One entry per subnet or security group whose tags were (or would be) changed; C(detail)
    lists C(+key=value) added, C(~key=old->new) changed and C(-key) removed tags.
  returned: always
  type: list
  elements: dict
  sample: [{"resource": "aws:subnet/subnet-0a1b", "action": "change", "detail": "+kubernetes.io/role/elb=1"}]
subnets:
  description: How each subnet was classified.
  returned: always
  type: dict
  sample: {"subnet-0a1b": "public", "subnet-2c3d": "private"}
tags:
  description: Tags of each subnet and security group after the run (predicted in check mode).
  returned: always
  type: dict
  sample: {"subnet-0a1b": {"kubernetes.io/role/elb": "1"}}
requests:
  description: Number of write requests sent (or that would be sent in check mode).
  returned: always
  type: int
  sample: 2
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import tags as T
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region

ARGUMENT_SPEC = dict(
    cluster_name=dict(type="str", required=True),
    subnet_ids=dict(type="list", elements="str", default=[]),
    security_group_ids=dict(type="list", elements="str", default=[]),
    cluster_tag_value=dict(type="str", choices=["shared", "owned"], default="shared"),
    load_balancer_roles=dict(type="bool", default=True),
    karpenter=dict(type="bool", default=True),
    purge=dict(type="bool", default=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)
FILTER_VALUES = 200  # EC2 accepts up to 200 values per filter


@AWSRetry.jittered_backoff()
def _all(client, operation: str, key: str, name: str, values: list) -> list:
    """One paginated describe per 200 values of filter ``name``."""
    found = []
    for i in range(0, len(values), FILTER_VALUES):
        pages = client.get_paginator(operation).paginate(Filters=[{"Name": name, "Values": values[i:i + FILTER_VALUES]}])
        found += pages.build_full_result()[key]
    return found


def desired_state(params: dict, subnets: list, kinds: dict, groups: list) -> tuple[dict, dict]:
    """({resource_id: plan}, {resource_id: current tags})."""
    cluster, present = params["cluster_name"], params["state"] == "present"
    plans, current = {}, {}
    for subnet in subnets:
        rid, tags = subnet["SubnetId"], T.ec2_current(subnet)
        current[rid] = tags
        if present:
            stale = T.subnet_stale_keys(kinds[rid], tags) if params["purge"] and params["load_balancer_roles"] else []
            wanted = T.subnet_tags(kinds[rid], cluster, params["cluster_tag_value"], params["load_balancer_roles"], params["karpenter"])
            plans[rid] = T.plan(tags, wanted, stale)
        else:
            plans[rid] = T.plan(tags, {}, T.subnet_absent_keys(tags, cluster))
    for group in groups:
        rid, tags = group["GroupId"], T.ec2_current(group)
        current[rid] = tags
        wanted = {T.KARPENTER_DISCOVERY: cluster} if present and params["karpenter"] else {}
        plans[rid] = T.plan(tags, wanted, [] if present or tags.get(T.KARPENTER_DISCOVERY) != cluster else [T.KARPENTER_DISCOVERY])
    return plans, current


def ensure(module, client) -> dict:
    params = module.params
    subnet_ids, group_ids = sorted(set(params["subnet_ids"])), sorted(set(params["security_group_ids"]))
    if not subnet_ids and not group_ids:
        module.fail_json(msg="subnet_ids: give at least one subnet (or security_group_ids); nothing to tag")
    subnets = _all(client, "describe_subnets", "Subnets", "subnet-id", subnet_ids) if subnet_ids else []
    groups = _all(client, "describe_security_groups", "SecurityGroups", "group-id", group_ids) if group_ids else []
    errors = []
    absent = T.missing(subnet_ids, [s["SubnetId"] for s in subnets])
    if absent:
        errors.append(f"subnet_ids: subnets not found: {', '.join(absent)}")
    absent = T.missing(group_ids, [g["GroupId"] for g in groups])
    if absent:
        errors.append(f"security_group_ids: security groups not found: {', '.join(absent)}")
    vpcs = sorted({s["VpcId"] for s in subnets})
    tables = _all(client, "describe_route_tables", "RouteTables", "vpc-id", vpcs) if vpcs else []
    kinds = T.classify_subnets(subnets, tables)
    plans, current = desired_state(params, subnets, kinds, groups)
    errors += T.tag_errors({k: v for p in plans.values() for k, v in p["set"].items()}, "cluster_name")
    errors += T.count_errors(current, plans, "tags")
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors)
    todo = T.pending(plans)
    creates, deletes = T.ec2_requests(todo)
    if not module.check_mode:
        for request in deletes:
            client.delete_tags(aws_retry=True, **request)
        for request in creates:
            client.create_tags(aws_retry=True, **request)
    changes = []
    diff = {"before": {}, "after": {}}
    for kind, ids in (("subnet", subnet_ids), ("security-group", group_ids)):
        part = {rid: p for rid, p in todo.items() if rid in ids}
        kind_changes, kind_diff = T.report(kind, part, current)
        changes += kind_changes
        diff["before"].update(kind_diff["before"])
        diff["after"].update(kind_diff["after"])
    return dict(changed=bool(todo), changes=changes, diff=diff, subnets=kinds,
                tags={rid: T.after_tags(current[rid], p) for rid, p in sorted(plans.items())},
                requests=len(creates) + len(deletes))


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    check_region(module)
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(module, client)
    except Exception as e:  # pylint: disable=broad-except
        module.fail_json_aws(e, msg="could not tag the subnets and security groups")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
