"""Our policy documents grant what upstream grants: (effect, action, resource, condition) sets compared.

Sids, statement layout, "x" vs ["x"] and the partition placeholder do not count. A difference fails
the test unless the policy file's header lists it; both are zero today. Skips where ../shared is absent.
"""
from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.lookup import iam_policy
from ansible_collections.nodeless.eks.plugins.module_utils import iam_policy_documents as documents

pytestmark = pytest.mark.upstream

VALUES = {"cluster_name": "lab", "partition": "aws", "region": "us-west-2", "account_id": "123456789012"}
CFN_VALUES = {"${AWS::Partition}": "aws", "${AWS::Region}": "us-west-2", "${AWS::AccountId}": "123456789012",
              "${ClusterName}": "lab", "${KarpenterNodeRole.Arn}": "arn:aws:iam::123456789012:role/KarpenterNodeRole-lab",
              "${KarpenterInterruptionQueue.Arn}": "arn:aws:sqs:us-west-2:123456789012:lab"}


def ours(name: str) -> dict:
    return documents.render_document(iam_policy.load(name)["document"], documents.policy_values(None, VALUES))


def _cfn_loader():
    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        pass

    def _tag(loader, _suffix, node):
        return loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)
    Loader.add_multi_constructor("!", _tag)
    return Loader


def upstream_karpenter(upstream) -> dict:
    template = yaml.load((upstream / "karpenter" / "v1.14.1" / "cloudformation.yaml").read_text(), Loader=_cfn_loader())  # nosec
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        text = resource["Properties"]["PolicyDocument"]
        for placeholder, value in CFN_VALUES.items():
            text = text.replace(placeholder, value)
        assert "${" not in text, f"unhandled CloudFormation substitution in {text[:200]}"
        statements += json.loads(text)["Statement"]
    return {"Version": "2012-10-17", "Statement": statements}


def _report(mine: set, theirs: set) -> str:
    return "\n".join([f"only ours:     {g}" for g in sorted(mine - theirs)] + [f"only upstream: {g}" for g in sorted(theirs - mine)])


def test_load_balancer_controller_matches_upstream_v3_5_0(upstream):
    theirs = documents.grants(json.loads((upstream / "aws-load-balancer-controller" / "v3.5.0" / "iam_policy.json").read_text()))
    mine = documents.grants(ours("aws_load_balancer_controller"))
    assert len(theirs) > 50
    assert mine == theirs, _report(mine, theirs)


def test_karpenter_controller_matches_upstream_v1_14_1(upstream):
    theirs = documents.grants(upstream_karpenter(upstream))
    mine = documents.grants(ours("karpenter_controller"))
    assert len(theirs) > 50
    assert mine == theirs, _report(mine, theirs)
