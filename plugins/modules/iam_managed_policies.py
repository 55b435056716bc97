#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_managed_policies
short_description: Create or update several customer managed IAM policies in one task, each read by its ARN
version_added: 0.1.0
description:
  - Makes each listed customer managed IAM policy exist with the given document and tags.
  - Each policy is read by its ARN (C(GetPolicy), then C(GetPolicyVersion) of its default version), two read
    calls per policy, where C(amazon.aws.iam_managed_policy) lists every policy of the account (AWS managed
    ones included, over a thousand) to find one by name.
  - A document is compared as IAM treats it (key order, whitespace, a single value or a one-element list, and
    statement order do not matter). A real difference makes a new default version; when IAM's five versions are
    used up, the oldest non-default version is deleted first.
  - A second run with the same input makes no write call. Check mode makes no write call and returns the same
    C(changed) and C(changes) as the real run; diff mode shows each policy's document and tags before and after.
  - Input is validated before any call; messages name the field, for example C(policies[1].document).
author:
  - nodeless.eks contributors (@nodeless)
options:
  policies:
    description: The policies. Names are unique in an account, whatever their path.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the policy (1 to 128 of letters, digits and C(+=,.@_-)).
        type: str
        required: true
      path:
        description: IAM path of the policy; part of its ARN. A policy of the same name under another path is refused.
        type: str
        default: /
      document:
        description: The policy document, as a dict or as JSON text. At most 6,144 characters without whitespace.
        type: raw
        required: true
      description:
        description:
          - Description given when the policy is created (IAM cannot change it later; a difference is warned about).
          - Defaults to O(description).
        type: str
  description:
    description: Description of policies that give none of their own.
    type: str
  tags:
    description: Tags of every listed policy. When omitted, tags are left as they are.
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags) (tags starting with C(aws:) are kept). No effect when O(tags) is omitted.
    type: bool
    default: false
  account_id:
    description:
      - The 12-digit account the policies belong to, for their ARNs. When omitted, the account and partition of the
        caller's identity are used (one more client and one C(GetCallerIdentity) call).
    type: str
  partition:
    description: The partition of the ARNs when O(account_id) is given.
    type: str
    default: aws
notes:
  - Without O(account_id), the account and partition of the ARNs come from the caller's identity.
  - Removing policies is not supported; use C(amazon.aws.iam_managed_policy) with C(state=absent).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Two policies of a controller, tagged with their cluster
  nodeless.eks.iam_managed_policies:
    description: IRSA policy for prod-eu (nodeless.eks)
    policies:
      - name: prod-eu-kube-system-cluster-autoscaler
        document: "{{ lookup('nodeless.eks.iam_policy', 'cluster_autoscaler', cluster=nodeless_eks_cluster) }}"
      - name: prod-eu-external-dns
        path: /platform/
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: route53:ChangeResourceRecordSets
              Resource: arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ
    tags:
      nodeless.eks/cluster: prod-eu
  register: policies
"""

RETURN = r"""
policies:
  description: Each policy as it is after the run (in check mode, as it would be), in the order given.
  type: list
  elements: dict
  returned: always
  contains:
    name:
      description: Name of the policy.
      type: str
      sample: prod-eu-external-dns
    path:
      description: Path of the policy.
      type: str
      sample: /platform/
    arn:
      description: ARN of the policy (also in check mode, built from the caller's account).
      type: str
      sample: arn:aws:iam::123456789012:policy/platform/prod-eu-external-dns
    description:
      description: Description of the policy.
      type: str
    document:
      description: The default version's document (the one given).
      type: dict
    tags:
      description: Tags of the policy.
      type: dict
changes:
  description: One entry per policy added or changed (see module_utils/changes.py), the same in check mode.
  type: list
  elements: dict
  returned: always
  sample: [{"resource": "aws:iam-policy/platform/prod-eu-external-dns", "action": "change", "detail": "document (new default version)"}]
diff:
  description: Documents and tags of the policies, keyed by path and name, before and after.
  type: dict
  returned: always
  contains:
    before:
      description: Policies that existed before the run (absent ones are missing).
      type: dict
    after:
      description: Every listed policy after the run.
      type: dict
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.nodeless.eks.plugins.module_utils import iam_managed_policies as P
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


class IAMErrorHandler(AWSErrorHandler):
    """Botocore errors become AnsibleAWSError (one error path); a missing policy reads as None."""

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("NoSuchEntity")


@IAMErrorHandler.list_error_handler("read the policy")
def get_policy(client, arn):
    return client.get_policy(PolicyArn=arn, aws_retry=True)["Policy"]


@IAMErrorHandler.common_error_handler("read the policy's default version")
def get_document(client, arn, version_id):
    return client.get_policy_version(PolicyArn=arn, VersionId=version_id, aws_retry=True)["PolicyVersion"]["Document"]


@IAMErrorHandler.list_error_handler("list the policy's tags", default_value=[])
def list_tags(client, arn):
    return client.list_policy_tags(PolicyArn=arn, aws_retry=True).get("Tags") or []


def read_policy(client, arn):
    """The policy's description, default document and tags, or None when it does not exist."""
    policy = get_policy(client, arn)
    if policy is None:
        return None
    # GetPolicy returns the tags on AWS; ListPolicyTags only when an implementation leaves them out.
    tags = policy["Tags"] if "Tags" in policy else list_tags(client, arn)
    return {"arn": arn, "description": policy.get("Description"), "document": get_document(client, arn, policy["DefaultVersionId"]),
            "tags": boto3_tag_list_to_ansible_dict(tags or [])}


@IAMErrorHandler.common_error_handler("create the policy")
def create_policy(client, want, tags):
    kwargs = {"PolicyName": want["name"], "Path": want["path"], "PolicyDocument": json.dumps(want["document"]), "aws_retry": True}
    if want["description"]:
        kwargs["Description"] = want["description"]
    if tags:
        kwargs["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    try:
        return client.create_policy(**kwargs)["Policy"]["Arn"]
    except is_boto3_error_code("EntityAlreadyExists"):
        # Not found by its ARN yet taken: the name is used under another path (names are unique per account).
        raise P.InputError(f"policies[{want['index']}].path: a policy named {want['name']} exists under another path than {want['path']}") from None


@IAMErrorHandler.common_error_handler("read the caller's account (for the policies' ARNs)")
def caller_account(module):
    identity = module.client("sts", retry_decorator=AWSRetry.jittered_backoff()).get_caller_identity(aws_retry=True)
    return identity["Arn"].split(":")[1], identity["Account"]


@IAMErrorHandler.common_error_handler("make a new default version of the policy")
def new_default_version(client, arn, document):
    versions = client.list_policy_versions(PolicyArn=arn, aws_retry=True)["Versions"]
    oldest = P.version_to_delete(versions)
    if oldest:
        client.delete_policy_version(PolicyArn=arn, VersionId=oldest, aws_retry=True)
    client.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True, aws_retry=True)


@IAMErrorHandler.common_error_handler("tag the policy")
def update_tags(client, arn, set_tags, unset_tags):
    if unset_tags:
        client.untag_policy(PolicyArn=arn, TagKeys=unset_tags, aws_retry=True)
    if set_tags:
        client.tag_policy(PolicyArn=arn, Tags=ansible_dict_to_boto3_tag_list(set_tags), aws_retry=True)


def ensure_present(module, client, want, arn):
    """Returns (changes, before or None, after) for one policy."""
    current = read_policy(client, arn)
    steps = P.plan(current, want, module.params["tags"], module.params["purge_tags"])
    warning = P.description_warning(current, want)
    if warning:
        module.warn(warning)
    if not module.check_mode:
        if steps["create"]:
            create_policy(client, want, steps["set_tags"])
        else:
            if steps["new_version"]:
                new_default_version(client, arn, want["document"])
            if steps["set_tags"] or steps["unset_tags"]:
                update_tags(client, arn, steps["set_tags"], steps["unset_tags"])
    return P.changes(want, steps), current, P.after(current, want, steps, arn)


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(
            policies=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True), path=dict(type="str", default="/"),
                document=dict(type="raw", required=True), description=dict(type="str"))),
            description=dict(type="str"),
            tags=dict(type="dict"),
            purge_tags=dict(type="bool", default=False),
            account_id=dict(type="str"),
            partition=dict(type="str", default="aws"),
        ),
        supports_check_mode=True,
    )
    check_region(module)
    try:
        wanted = P.desired_policies(module.params["policies"], module.params["description"])
        stated = P.account_of(module.params["account_id"], module.params["partition"])
    except P.InputError as exc:
        module.fail_json(msg=str(exc))
    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff())
    entries, before, after = [], {}, {}
    try:
        partition, account = stated or (caller_account(module) if wanted else ("aws", ""))
        for want in wanted:
            arn = P.policy_arn(partition, account, want["path"], want["name"])
            found, old, new = ensure_present(module, client, want, arn)
            entries.extend(found)
            if old:
                before[want["key"]] = {"document": old["document"], "tags": old["tags"]}
            after[want["key"]] = {"document": new["document"], "tags": new["tags"], "arn": arn}
            want["result"] = new
    except P.InputError as exc:
        module.fail_json(msg=str(exc))
    except AnsibleAWSError as exc:
        module.fail_json_aws_error(exc)
    module.exit_json(changed=bool(entries), changes=entries, policies=[w["result"] for w in wanted],
                     diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
