"""IAM policy documents (module_utils/iam_policy_documents.py): rendering, IAM's comparison, size and splitting."""
import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import iam_policy_documents as documents


def test_render_fills_keys_values_and_expands_whole_list_placeholders():
    template = {"Resource": "${arns}", "Condition": {"StringEquals": {"aws:ResourceTag/k/${cluster_name}": "${cluster_name}-x"}}}
    out = documents.render_document(template, {"cluster_name": "prod", "arns": ["a", "b"]})
    assert out == {"Resource": ["a", "b"], "Condition": {"StringEquals": {"aws:ResourceTag/k/prod": "prod-x"}}}


def test_render_names_the_missing_parameter_as_the_caller_spells_it():
    with pytest.raises(ValueError, match="^hosted_zone_ids: required"):
        documents.render_document({"Resource": "${hosted_zone_arns}"}, {})
    with pytest.raises(ValueError, match="^region: required"):
        documents.render_document("arn:aws:eks:${region}", {"region": ""})


def test_policy_values_default_from_cluster_facts_and_accept_overrides():
    values = documents.policy_values({"name": "prod", "partition": "aws-cn", "account_id": "1", "region": "cn-north-1"},
                                     {"region": "cn-northwest-1", "hosted_zone_ids": ["/hostedzone/ZB", "ZA", "ZB"], "partition": None})
    assert values["region"] == "cn-northwest-1"
    assert values["partition"] == "aws-cn"
    assert values["node_role_name"] == "KarpenterNodeRole-prod"
    assert values["interruption_queue_name"] == "prod"
    assert values["hosted_zone_arns"] == ["arn:aws-cn:route53:::hostedzone/ZA", "arn:aws-cn:route53:::hostedzone/ZB"]


def test_hosted_zone_ids_are_validated_with_their_index():
    with pytest.raises(ValueError, match=r"hosted_zone_ids\[1\]: 'example.com'"):
        documents.hosted_zone_arns("aws", ["Z1", "example.com"])


def test_documents_differ_ignores_order_spelling_and_single_values():
    a = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["b:Y", "a:X"], "Resource": "*", "Condition": {"StringEquals": {"k": "v"}}}]}
    b = json.dumps({"Statement": [
        {"Resource": "*", "Condition": {"StringEquals": {"k": ["v"]}}, "Action": ["a:X", "b:Y"], "Effect": "Allow"},
        {"Resource": "*", "Action": ["s3:GetObject"], "Effect": "Allow"}], "Version": "2012-10-17"}, indent=4)
    assert not documents.documents_differ(a, b)


def test_documents_differ_as_amazon_aws_compare_policies_does_on_a_repeated_action():
    # amazon.aws counts a repeated action; IAM would store what we send, so the next run is quiet again.
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["a:X"], "Resource": "*"}]}
    assert documents.documents_differ(a, dict(a, Statement=[dict(a["Statement"][0], Action=["a:X", "a:X"])]))


def test_canonical_sees_real_changes():
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    b = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    c = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]}
    assert documents.documents_differ(a, b)
    assert documents.documents_differ(a, c)


def test_document_size_counts_compact_json():
    doc = {"Version": "2012-10-17", "Statement": []}
    assert documents.document_size(json.dumps(doc, indent=8)) == len('{"Version":"2012-10-17","Statement":[]}')


def test_split_keeps_every_statement_in_order_and_each_part_under_the_limit():
    statements = [{"Sid": f"S{i}", "Effect": "Allow", "Action": f"ec2:Action{i:03d}", "Resource": "*"} for i in range(200)]
    doc = {"Version": "2012-10-17", "Statement": statements}
    parts = documents.split_document(doc, limit=1000)
    assert len(parts) > 1
    assert all(documents.document_size(p) <= 1000 for p in parts)
    assert [s for p in parts for s in p["Statement"]] == statements
    assert documents.split_document({"Version": "2012-10-17", "Statement": statements[:2]}, 1000) == [
        {"Version": "2012-10-17", "Statement": statements[:2]}]


def test_split_refuses_a_statement_that_cannot_fit():
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "Big", "Effect": "Allow", "Action": ["x:" + "A" * 200], "Resource": "*"}]}
    with pytest.raises(ValueError, match="'Big' alone is"):
        documents.split_document(doc, limit=100)


def test_grants_expand_action_by_resource_and_ignore_sids():
    a = {"Statement": [{"Sid": "X", "Effect": "Allow", "Action": ["ec2:A", "ec2:B"], "Resource": ["r1", "r2"]}]}
    b = {"Statement": [{"Effect": "Allow", "Action": "ec2:a", "Resource": ["r1", "r2"]},
                       {"Effect": "Allow", "Action": "EC2:B", "Resource": ["r2", "r1"]}]}
    assert documents.grants(a) == documents.grants(b)
    assert len(documents.grants(a)) == 4
