import hashlib
import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import iam

ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
PROVIDER = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"


# --- rendering -----------------------------------------------------------------------------------

def test_render_fills_keys_values_and_expands_whole_list_placeholders():
    template = {"Resource": "${arns}", "Condition": {"StringEquals": {"aws:ResourceTag/k/${cluster_name}": "${cluster_name}-x"}}}
    out = iam.render_document(template, {"cluster_name": "prod", "arns": ["a", "b"]})
    assert out == {"Resource": ["a", "b"], "Condition": {"StringEquals": {"aws:ResourceTag/k/prod": "prod-x"}}}


def test_render_names_the_missing_parameter_as_the_caller_spells_it():
    with pytest.raises(ValueError, match="^hosted_zone_ids: required"):
        iam.render_document({"Resource": "${hosted_zone_arns}"}, {})
    with pytest.raises(ValueError, match="^region: required"):
        iam.render_document("arn:aws:eks:${region}", {"region": ""})


def test_policy_values_default_from_cluster_facts_and_accept_overrides():
    values = iam.policy_values({"name": "prod", "partition": "aws-cn", "account_id": "1", "region": "cn-north-1"},
                               {"region": "cn-northwest-1", "hosted_zone_ids": ["/hostedzone/ZB", "ZA", "ZB"], "partition": None})
    assert values["region"] == "cn-northwest-1"
    assert values["partition"] == "aws-cn"
    assert values["node_role_name"] == "KarpenterNodeRole-prod"
    assert values["interruption_queue_name"] == "prod"
    assert values["hosted_zone_arns"] == ["arn:aws-cn:route53:::hostedzone/ZA", "arn:aws-cn:route53:::hostedzone/ZB"]


def test_hosted_zone_ids_are_validated_with_their_index():
    with pytest.raises(ValueError, match=r"hosted_zone_ids\[1\]: 'example.com'"):
        iam.hosted_zone_arns("aws", ["Z1", "example.com"])


# --- canonical compare, size, split --------------------------------------------------------------

def test_documents_differ_ignores_order_spelling_and_single_values():
    a = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["b:Y", "a:X"], "Resource": "*", "Condition": {"StringEquals": {"k": "v"}}}]}
    b = json.dumps({"Statement": [
        {"Resource": "*", "Condition": {"StringEquals": {"k": ["v"]}}, "Action": ["a:X", "b:Y"], "Effect": "Allow"},
        {"Resource": "*", "Action": ["s3:GetObject"], "Effect": "Allow"}], "Version": "2012-10-17"}, indent=4)
    assert not iam.documents_differ(a, b)


def test_documents_differ_as_amazon_aws_compare_policies_does_on_a_repeated_action():
    # amazon.aws counts a repeated action; IAM would store what we send, so the next run is quiet again.
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["a:X"], "Resource": "*"}]}
    assert iam.documents_differ(a, dict(a, Statement=[dict(a["Statement"][0], Action=["a:X", "a:X"])]))


def test_canonical_sees_real_changes():
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    b = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    c = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]}
    assert iam.documents_differ(a, b)
    assert iam.documents_differ(a, c)


def test_document_size_counts_compact_json():
    doc = {"Version": "2012-10-17", "Statement": []}
    assert iam.document_size(json.dumps(doc, indent=8)) == len('{"Version":"2012-10-17","Statement":[]}')


def test_split_keeps_every_statement_in_order_and_each_part_under_the_limit():
    statements = [{"Sid": f"S{i}", "Effect": "Allow", "Action": f"ec2:Action{i:03d}", "Resource": "*"} for i in range(200)]
    doc = {"Version": "2012-10-17", "Statement": statements}
    parts = iam.split_document(doc, limit=1000)
    assert len(parts) > 1
    assert all(iam.document_size(p) <= 1000 for p in parts)
    assert [s for p in parts for s in p["Statement"]] == statements
    assert iam.split_document({"Version": "2012-10-17", "Statement": statements[:2]}, 1000) == [
        {"Version": "2012-10-17", "Statement": statements[:2]}]


def test_split_refuses_a_statement_that_cannot_fit():
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "Big", "Effect": "Allow", "Action": ["x:" + "A" * 200], "Resource": "*"}]}
    with pytest.raises(ValueError, match="'Big' alone is"):
        iam.split_document(doc, limit=100)


def test_grants_expand_action_by_resource_and_ignore_sids():
    a = {"Statement": [{"Sid": "X", "Effect": "Allow", "Action": ["ec2:A", "ec2:B"], "Resource": ["r1", "r2"]}]}
    b = {"Statement": [{"Effect": "Allow", "Action": "ec2:a", "Resource": ["r1", "r2"]},
                       {"Effect": "Allow", "Action": "EC2:B", "Resource": ["r2", "r1"]}]}
    assert iam.grants(a) == iam.grants(b)
    assert len(iam.grants(a)) == 4


# --- trust and names -----------------------------------------------------------------------------

def test_trust_policy_is_exact_for_one_service_account():
    trust = iam.trust_policy(PROVIDER, ISSUER, "kube-system", "cluster-autoscaler")
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Federated": PROVIDER}
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Condition"] == {"StringEquals": {
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com"}}
    assert "*" not in json.dumps(trust)


def test_provider_arn_strips_the_scheme():
    assert iam.provider_arn("aws", "111122223333", ISSUER + "/") == PROVIDER
    assert iam.provider_arn("aws", "1", "https://127.0.0.1:6443") == "arn:aws:iam::1:oidc-provider/127.0.0.1:6443"


def test_default_role_names_fit_64_characters_and_stay_unique():
    assert iam.default_role_name("prod", "kube-system", "cluster-autoscaler") == "prod-kube-system-cluster-autoscaler"
    long_a = iam.default_role_name("production-eu-west-1", "kube-system", "aws-load-balancer-controller-aa")
    long_b = iam.default_role_name("production-eu-west-1", "kube-system", "aws-load-balancer-controller-bb")
    assert len(long_a) == len(long_b) == 64
    assert long_a != long_b
    assert long_a == iam.default_role_name("production-eu-west-1", "kube-system", "aws-load-balancer-controller-aa")
    assert iam.role_name_error(long_a) is None


@pytest.mark.parametrize("namespace, sa, fields", [
    ("kube-system", "cluster-autoscaler", []),
    ("kube-system", "a.b", []),
    ("Kube", "ok", ["namespace"]),
    ("a" * 64, "ok", ["namespace"]),
    ("ns", "bad_name", ["service_account"]),
    ("", "", ["namespace", "service_account"]),
])
def test_name_errors(namespace, sa, fields):
    assert [f for f, _unused in iam.name_errors(namespace, sa)] == fields


def test_role_name_and_path_errors():
    assert "65 characters" in iam.role_name_error("r" * 65)
    assert "may only contain" in iam.role_name_error("bad name")
    assert iam.path_error("/") is None and iam.path_error("/irsa/") is None
    assert iam.path_error("irsa") is not None


@pytest.mark.parametrize("arn, ok", [
    ("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy", True),
    ("arn:aws:iam::123456789012:policy/team/my-policy", True),
    ("arn:aws-cn:iam::123456789012:policy/x", True),
    ("arn:aws:iam::12345:policy/x", False),
    ("arn:aws:iam::123456789012:role/x", False),
    ("AmazonEKS_CNI_Policy", False),
])
def test_is_policy_arn(arn, ok):
    assert iam.is_policy_arn(arn) is ok


# --- OIDC provider -------------------------------------------------------------------------------

def test_thumbprint_is_sha1_of_the_top_certificate():
    chain = [b"leaf", b"intermediate", b"root"]
    assert iam.top_certificate_sha1(chain) == hashlib.sha1(b"root").hexdigest()
    with pytest.raises(ValueError):
        iam.top_certificate_sha1([])


def test_split_host_port():
    assert iam.split_host_port("https://127.0.0.1:6443") == ("127.0.0.1", 6443)
    assert iam.split_host_port(ISSUER) == ("oidc.eks.eu-west-1.amazonaws.com", 443)


def test_provider_update_without_thumbprints_invents_no_drift():
    current = {"client_ids": ["sts.amazonaws.com"], "thumbprints": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"], "tags": {"a": "1"}}
    plan = iam.provider_update(current, {"client_ids": ["sts.amazonaws.com"], "thumbprints": None, "tags": None})
    assert iam.update_is_empty(plan)


def test_provider_update_lists_each_change():
    current = {"client_ids": ["sts.amazonaws.com", "old"], "thumbprints": ["AA"], "tags": {"keep": "1", "drop": "x", "mod": "1"}}
    desired = {"client_ids": ["sts.amazonaws.com", "new"], "thumbprints": ["bb"], "tags": {"keep": "1", "mod": "2"}}
    plan = iam.provider_update(current, desired, purge_tags=True)
    assert plan == {"add_client_ids": ["new"], "remove_client_ids": ["old"], "thumbprints": ["bb"],
                    "set_tags": {"mod": "2"}, "remove_tags": ["drop"]}
    assert iam.provider_update(current, desired, purge_tags=False)["remove_tags"] == []
    same_case = iam.provider_update({"thumbprints": ["AA"]}, {"thumbprints": ["aa"]})
    assert same_case["thumbprints"] is None


def test_provider_tags_follow_amazon_aws_compare_aws_tags():
    # AWS-reserved aws:* tags are never purged; a number given for a tag is the text AWS holds.
    current = {"tags": {"aws:cloudformation:stack-name": "s", "team": "1", "old": "x"}}
    plan = iam.provider_update(current, {"tags": {"team": 1}}, purge_tags=True)
    assert (plan["set_tags"], plan["remove_tags"]) == ({}, ["old"])
