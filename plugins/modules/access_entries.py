#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: access_entries
short_description: Manage the EKS access entries and access policy associations of one owner
version_added: 0.1.0
description:
  - Reads the cluster's access entries once, computes the difference for the listed O(entries)
    locally, then creates, updates or deletes entries and associates or disassociates access
    policies. Access policies EKS does not offer (C(ListAccessPolicies)) fail before any write, listing the valid names.
  - Entries this module creates are tagged C(nodeless.eks/owner=<owner>). Entries with that tag
    that are no longer listed are deleted; entries made by EKS, by hand or by another owner are
    never touched, and listing one of them is an error.
  - The cluster's authentication mode must include C(API) (C(API) or C(API_AND_CONFIG_MAP)). With
    O(authentication_mode), the module first moves the cluster's mode forward to it (and waits for the update),
    or refuses, before any write, a mode behind the cluster's (EKS moves it only forward).
author:
  - nodeless.eks contributors (@nodeless)
options:
  owner:
    description: Owner tag value of the entries this task manages.
    type: str
    default: nodeless.eks
  partition:
    description: AWS partition used to expand short access policy names.
    type: str
    default: aws
  authentication_mode:
    description:
      - The cluster's authentication mode. EKS moves it only forward (C(CONFIG_MAP) -> C(API_AND_CONFIG_MAP) ->
        C(API)); a mode behind the cluster's fails before any write, saying why. Once C(API), the C(aws-auth)
        ConfigMap is no longer read.
      - When the cluster is in C(CONFIG_MAP), it has no access entries; check mode plans every listed entry as new.
      - Left out, the mode is neither read nor changed.
    type: str
    choices: [CONFIG_MAP, API_AND_CONFIG_MAP, API]
  entries:
    description:
      - Every access entry this owner wants. Each item has C(principal_arn), optional
        C(kubernetes_groups), C(username), C(type) (STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX)
        and C(access_policies), a list of C(policy_arn) (an ARN or a name such as
        C(AmazonEKSViewPolicy)) with C(access_scope) (C(type) cluster or namespace, C(namespaces)).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - nodeless.eks.eks_cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Give the platform team admin and the auditors read-only access
  nodeless.eks.access_entries:
    cluster_name: prod-eu
    owner: access
    entries:
      - principal_arn: arn:aws:iam::123456789012:role/platform-admin
        access_policies:
          - policy_arn: AmazonEKSClusterAdminPolicy
      - principal_arn: arn:aws:iam::123456789012:role/auditor
        access_policies:
          - policy_arn: AmazonEKSViewPolicy
            access_scope: {type: namespace, namespaces: [payments]}

- name: Turn access entries on (aws-auth keeps working) and map the CI role
  nodeless.eks.access_entries:
    cluster_name: prod-eu
    authentication_mode: API_AND_CONFIG_MAP
    entries:
      - principal_arn: arn:aws:iam::123456789012:role/ci
        kubernetes_groups: [deployers]
"""

RETURN = r"""
changes:
  description: One entry per access entry or policy association added, changed or removed, and the authentication mode changed.
  type: list
  elements: dict
  returned: always
  sample: [{resource: "aws:access-entry/arn:aws:iam::123456789012:role/auditor", action: add}]
diff:
  description: This owner's access entries before and after, keyed by principal ARN (and C(authentication_mode) when set).
  type: dict
  returned: always
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.nodeless.eks.plugins.module_utils import access_entries as ae
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region

_VERBS = {"create": ("access-entry", "add"), "update": ("access-entry", "change"), "delete": ("access-entry", "remove"),
          "associate": ("access-policy", "add"), "disassociate": ("access-policy", "remove")}


def _change(verb, arn, detail):
    kind, action = _VERBS[verb]
    if kind == "access-policy":
        policy = detail[0] if isinstance(detail, tuple) else detail
        return change("aws", kind, f"{arn}/{policy.rsplit('/', 1)[-1]}", action)
    return change("aws", kind, arn, action)


def _mine(current, owner):
    return {arn: e for arn, e in current.items() if e.get("owner") == owner}


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(cluster_name=dict(type="str", required=True), owner=dict(type="str", default="nodeless.eks"),
                           partition=dict(type="str", default="aws"),
                           authentication_mode=dict(type="str", choices=list(ae.MODES)),
                           entries=dict(type="list", elements="dict", default=[])),
        supports_check_mode=True,
    )
    check_region(module)
    params = module.params
    try:
        desired = ae.validate(params["entries"], params["partition"])
    except ae.AccessEntryError as exc:
        module.fail_json(msg=str(exc))
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    cluster = params["cluster_name"]
    mode = step = None
    try:
        if any(d["access_policies"] for d in desired):  # a policy EKS does not offer fails before anything is written
            problems = ae.unknown_policies(params["entries"], ae.available_policies(client), params["partition"])
            if problems:
                raise ae.AccessEntryError("; ".join(problems))
        if params["authentication_mode"]:
            mode = ae.cluster_mode(client, cluster)
            step = ae.mode_step(mode, params["authentication_mode"])
            if step and not module.check_mode:
                ae.set_mode(client, cluster, step)
        if mode == "CONFIG_MAP" and (module.check_mode or not step):  # a CONFIG_MAP cluster has no access entries
            if not step and desired:
                raise ae.AccessEntryError("authentication_mode: CONFIG_MAP clusters have no access entries; "
                                          "set API_AND_CONFIG_MAP or API to manage entries")
            current = {}
        else:
            current = ae.read(client, cluster)
        actions = ae.plan(desired, current, params["owner"])
        if actions and not module.check_mode:
            ae.apply(client, cluster, params["owner"], actions)
    except ae.AccessEntryError as exc:
        module.fail_json(msg=str(exc))
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster!r} was not found in region {module.region}")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg=f"cluster_name: access entries of EKS cluster {cluster!r} "
                                      "(its authentication mode must include API)")
    after = {d["principal_arn"]: dict(d, owner=params["owner"]) for d in desired}
    before = _mine(current, params["owner"])
    changes = [change("aws", "eks-authentication-mode", cluster, "change", detail=f"{mode} -> {step}")] if step else []
    if mode:
        before["authentication_mode"], after["authentication_mode"] = mode, step or mode
    module.exit_json(changed=bool(actions or step), changes=changes + [_change(*a) for a in actions],
                     diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
