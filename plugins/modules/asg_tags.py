#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asg_tags
short_description: Tag Auto Scaling groups for cluster-autoscaler discovery and scale-from-zero, in batches
version_added: 0.1.0
description:
  - Tags Auto Scaling groups with C(k8s.io/cluster-autoscaler/enabled=true) and
    C(k8s.io/cluster-autoscaler/<cluster>=owned), the tags cluster-autoscaler's
    C(--node-group-auto-discovery) looks for.
  - Targets are the ASGs of the cluster's managed node groups (O(nodegroups)), ASGs named in
    O(names), and ASGs matching the tags in O(filters).
  - For node-group ASGs it also writes node-template tags
    (C(k8s.io/cluster-autoscaler/node-template/label/<key>), C(.../taint/<key>),
    C(.../resources/cpu), C(.../resources/memory)) from the group's labels, taints and instance
    types, so cluster-autoscaler can scale a group up from zero nodes.
  - Reads every target in one paginated C(DescribeAutoScalingGroups), computes the difference
    locally and sends the fewest C(CreateOrUpdateTags) / C(DeleteTags) requests, each covering
    many ASGs. Every input is checked before the first write.
  - In check mode nothing is written; C(changes) and the diff list what would change per ASG.
author:
  - nodeless.eks contributors (@nodeless)
options:
  cluster_name:
    description:
      - EKS cluster the ASGs scale nodes for. Names the C(k8s.io/cluster-autoscaler/<cluster>) tag and,
        with O(nodegroups=true), the cluster whose managed node groups are tagged.
    type: str
    required: true
  nodegroups:
    description:
      - Tag the ASGs of every managed node group of O(cluster_name) (C(eks list-nodegroups) and
        C(describe-nodegroup)).
      - Fails when the cluster has no node groups and neither O(names) nor O(filters) is given.
    type: bool
    default: true
  node_templates:
    description:
      - Write scale-from-zero node-template tags on node-group ASGs, derived from each group's labels
        (plus C(eks.amazonaws.com/nodegroup) and C(eks.amazonaws.com/capacityType)), taints and the
        smallest vCPU count and memory of its instance types (C(ec2 describe-instance-types)).
    type: bool
    default: true
  names:
    description: Further ASGs to tag, by name. Every name must exist; all missing ones are reported together.
    type: list
    elements: str
    default: []
  filters:
    description:
      - Further ASGs to tag, selected by their tags. Keys are tag keys; values a tag value or a list of
        accepted values. An ASG must match every key.
    type: dict
    default: {}
  tags:
    description:
      - Extra tags to set on every target ASG, next to the cluster-autoscaler ones. They are never
        purged, only removed with O(state=absent).
    type: dict
    default: {}
  propagate_at_launch:
    description:
      - Copy the tags this module writes to instances the ASG launches. cluster-autoscaler reads
        them on the ASG only, so the default keeps instances' tags unchanged.
      - A tag whose only difference is this flag is rewritten.
    type: bool
    default: false
  purge:
    description:
      - Delete cluster-autoscaler tags this module manages (C(.../enabled), C(.../<cluster>),
        C(.../node-template/...)) that are present on a target but no longer wanted, such as a removed
        label's node-template tag. Other tags, including another cluster's, are never touched.
    type: bool
    default: true
  state:
    description:
      - V(present) sets the tags; V(absent) removes every tag this module manages (and O(tags)) from the targets.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Let cluster-autoscaler discover every managed node group, including scale-from-zero ones
  nodeless.eks.asg_tags:
    cluster_name: prod-eu
    region: eu-west-1

- name: Also tag two self-managed groups and every ASG of team ml
  nodeless.eks.asg_tags:
    cluster_name: prod-eu
    names: [prod-eu-gpu-a, prod-eu-gpu-b]
    filters:
      team: ml

- name: Tag only named ASGs (the cluster needs no node groups)
  nodeless.eks.asg_tags:
    cluster_name: prod-eu
    nodegroups: false
    names: [prod-eu-batch]

- name: Remove the cluster-autoscaler tags again
  nodeless.eks.asg_tags:
    cluster_name: prod-eu
    state: absent
"""

RETURN = r"""
changes:
  description: One entry per ASG whose tags were (or, in check mode, would be) changed; C(detail) lists
    C(+key=value) added, C(~key=old->new) changed and C(-key) removed tags.
  returned: always
  type: list
  elements: dict
  sample: [{"resource": "aws:asg/eks-workers-1a2b", "action": "change", "detail": "+k8s.io/cluster-autoscaler/enabled=true"}]
targets:
  description: Names of every ASG the module looked at, sorted.
  returned: always
  type: list
  elements: str
  sample: [eks-system-1a2b, eks-workers-3c4d]
tags:
  description: Tags of each target ASG after the run (predicted in check mode).
  returned: always
  type: dict
  sample: {"eks-workers-3c4d": {"k8s.io/cluster-autoscaler/enabled": "true"}}
requests:
  description: Number of write requests sent (or that would be sent in check mode).
  returned: always
  type: int
  sample: 2
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import tags as T
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.eks import describe_nodegroups
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region

ARGUMENT_SPEC = dict(
    cluster_name=dict(type="str", required=True),
    nodegroups=dict(type="bool", default=True),
    node_templates=dict(type="bool", default=True),
    names=dict(type="list", elements="str", default=[]),
    filters=dict(type="dict", default={}),
    tags=dict(type="dict", default={}),
    propagate_at_launch=dict(type="bool", default=False),
    purge=dict(type="bool", default=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def nodegroup_templates(module, cluster: str) -> tuple[dict, list]:
    """{asg_name: node-template tags} for the cluster's managed node groups, and input errors."""
    eks = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    eks.describe_cluster(name=cluster, aws_retry=True)  # a clear "not found" before listing its node groups
    groups = describe_nodegroups(eks, cluster)
    if not groups and not module.params["names"] and not module.params["filters"]:
        return {}, [f"nodegroups: cluster {cluster!r} has no managed node groups, and neither names nor filters were given"]
    resources = {}
    types = sorted({t for g in groups for t in g["instance_types"]})
    if types and module.params["node_templates"]:
        ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
        resources = T.instance_resources(_all(ec2.get_paginator("describe_instance_types"), "InstanceTypes", InstanceTypes=types))
    templates, errors = {}, []
    for group in groups:
        tags, group_errors = T.node_template_tags(group, resources) if module.params["node_templates"] else ({}, [])
        errors += group_errors
        for asg in group["asg_names"]:
            templates[asg] = tags
    return templates, errors


@AWSRetry.jittered_backoff()
def _all(paginator, key: str, **kwargs) -> list:
    return paginator.paginate(**kwargs).build_full_result()[key]


def read_groups(client, names: list, filters: dict) -> dict:
    """{name: describe entry}: names in chunks of 100 (one full page each), filters paginated."""
    paginator = client.get_paginator("describe_auto_scaling_groups")
    found = {}
    for i in range(0, len(names), 100):
        groups = _all(paginator, "AutoScalingGroups", AutoScalingGroupNames=names[i:i + 100], PaginationConfig={"PageSize": 100})
        found.update((g["AutoScalingGroupName"], g) for g in groups)
    if filters:
        aws_filters = [{"Name": f"tag:{k}", "Values": [str(x) for x in v] if isinstance(v, list) else [str(v)]}
                       for k, v in sorted(filters.items())]
        groups = _all(paginator, "AutoScalingGroups", Filters=aws_filters, PaginationConfig={"PageSize": 100})
        found.update((g["AutoScalingGroupName"], g) for g in groups)
    return found


def ensure(module, client) -> dict:
    params = module.params
    cluster, present = params["cluster_name"], params["state"] == "present"
    extra = {k: str(v) for k, v in params["tags"].items()}
    templates, errors = nodegroup_templates(module, cluster) if params["nodegroups"] else ({}, [])
    names = sorted(set(params["names"]) | set(templates))
    groups = read_groups(client, names, params["filters"])
    absent = T.missing(names, groups)
    if absent:
        errors.insert(0, f"names: Auto Scaling groups not found: {', '.join(absent)}")
    errors += T.tag_errors(extra, "tags")
    current = {name: T.asg_current(group) for name, group in groups.items()}
    wanted = dict(T.autoscaler_tags(cluster), **extra)

    def managed(key):
        return T.is_autoscaler_key(key, cluster) or (not present and key in extra)

    plans = {}
    for name in sorted(groups):
        desired = dict(wanted, **templates.get(name, {})) if present else {}
        errors += T.tag_errors(templates.get(name, {}), f"node-template tags of {name}")
        plans[name] = T.asg_plan(current[name], desired, params["propagate_at_launch"], managed, params["purge"] or not present)
    values = {name: {k: v["value"] for k, v in tags.items()} for name, tags in current.items()}
    errors += T.count_errors(values, plans, "tags")
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors)
    todo = T.pending(plans)
    creates, deletes = T.asg_requests(todo, params["propagate_at_launch"])
    if not module.check_mode:
        for batch in deletes:
            client.delete_tags(Tags=batch, aws_retry=True)
        for batch in creates:
            client.create_or_update_tags(Tags=batch, aws_retry=True)
    changes, diff = T.report("asg", todo, values)
    return dict(changed=bool(todo), changes=changes, diff=diff, targets=sorted(groups),
                tags={name: T.after_tags(values[name], plans[name]) for name in sorted(groups)},
                requests=len(creates) + len(deletes))


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    check_region(module)
    client = module.client("autoscaling", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(module, client)
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {module.params['cluster_name']!r} was not found in region {module.region}")
    except Exception as e:  # pylint: disable=broad-except
        module.fail_json_aws(e, msg="could not tag the Auto Scaling groups")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
