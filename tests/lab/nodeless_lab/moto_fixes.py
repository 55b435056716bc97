"""Gaps in moto the lab closes, each where real AWS behaves differently.

- EKS TagResource / UntagResource / ListTagsForResource: moto serves clusters only; AWS also tags
  node groups and Fargate profiles by ARN (community.aws.eks_fargate_profile reads their tags).
- SQS SetQueueAttributes: moto drops the queue policy when a call leaves ``Policy`` out; AWS keeps it
  (nodeless.eks.sqs_queue sends only the attributes that differ).
- IAM CreatePolicy: moto accepts a customer managed policy name already used under another path; AWS
  refuses it (names are unique in an account, whatever the path, and case-insensitive).
"""
from __future__ import annotations


def _tagged(backend, arn: str):
    for cluster in backend.clusters.values():
        if cluster.arn == arn:
            return cluster
        for child in (*cluster.nodegroups.values(), *cluster.fargate_profiles.values()):
            if arn in (getattr(child, "arn", None), getattr(child, "fargate_profile_arn", None)):
                return child
    return None


def _keep_sqs_policy() -> None:
    from moto.sqs.models import Queue

    original = Queue._set_attributes

    def _set_attributes(self, attributes, now=None):
        if "Policy" not in attributes and getattr(self, "policy", None):
            attributes = dict(attributes, Policy=self.policy)
        return original(self, attributes, now)

    Queue._set_attributes = _set_attributes


def _unique_policy_names() -> None:
    from moto.iam.exceptions import EntityAlreadyExists
    from moto.iam.models import IAMBackend

    original = IAMBackend.create_policy

    def create_policy(self, description, path, policy_document, policy_name, tags):
        for policy in self.managed_policies.values():
            if f":{self.account_id}:" in policy.arn and policy.name.lower() == policy_name.lower():
                raise EntityAlreadyExists(f"A policy called {policy_name} already exists. Duplicate names are not allowed.")
        return original(self, description, path, policy_document, policy_name, tags)

    IAMBackend.create_policy = create_policy


def apply() -> None:
    from moto.eks.models import EKSBackend

    _keep_sqs_policy()
    _unique_policy_names()

    originals = {name: getattr(EKSBackend, name) for name in ("tag_resource", "untag_resource", "list_tags_for_resource")}

    def tag_resource(self, resource_arn, tags):
        found = _tagged(self, resource_arn)
        return found.tags.update(tags) if found is not None else originals["tag_resource"](self, resource_arn, tags)

    def untag_resource(self, resource_arn, tag_keys):
        found = _tagged(self, resource_arn)
        if found is None:
            return originals["untag_resource"](self, resource_arn, tag_keys)
        for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
            found.tags.pop(key, None)
        return None

    def list_tags_for_resource(self, resource_arn):
        found = _tagged(self, resource_arn)
        return found.tags if found is not None else originals["list_tags_for_resource"](self, resource_arn)

    EKSBackend.tag_resource = tag_resource
    EKSBackend.untag_resource = untag_resource
    EKSBackend.list_tags_for_resource = list_tags_for_resource
