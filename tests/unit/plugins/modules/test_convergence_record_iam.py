"""convergence_record's IAM read (issue #23): one paginated GetAccountAuthorizationDetails for roles and policies,
against botocore's Stubber; what each digest covers is in tests/unit/plugins/module_utils/test_convergence.py."""
from __future__ import annotations

import copy
import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.modules.convergence_record import iam_entries

TRUST = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}}]}'
ROLE = {"RoleName": "lab-sa", "RoleId": "AROA1AAAAAAAAAAAAAAA", "Arn": "arn:aws:iam::123456789012:role/lab-sa", "Path": "/",
        "AssumeRolePolicyDocument": TRUST, "AttachedManagedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::123456789012:policy/p"}]}
OTHER = dict(ROLE, RoleName="someone-elses", RoleId="AROA2AAAAAAAAAAAAAAA", Arn="arn:aws:iam::123456789012:role/someone-elses")
POLICY = {"PolicyName": "p", "PolicyId": "ANPA1AAAAAAAAAAAAAAA", "Arn": "arn:aws:iam::123456789012:policy/p", "Path": "/", "DefaultVersionId": "v1",
          "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": TRUST}]}


@pytest.fixture
def iam():
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1)), stub
        stub.assert_no_pending_responses()


def test_roles_and_policies_come_from_one_paginated_read_filtered_to_what_is_asked(iam):
    client, stub = iam
    # botocore decodes the policy documents of the answer in place (the digests see JSON objects): fresh copies each time
    stub.add_response("get_account_authorization_details", copy.deepcopy({"RoleDetailList": [OTHER], "IsTruncated": True, "Marker": "m1"}),
                      {"Filter": ["Role", "LocalManagedPolicy"]})
    stub.add_response("get_account_authorization_details", copy.deepcopy({"RoleDetailList": [ROLE], "Policies": [POLICY], "IsTruncated": False}),
                      {"Filter": ["Role", "LocalManagedPolicy"], "Marker": "m1"})
    entries = iam_entries(client, {"iam_role": ["lab-sa", "missing"], "iam_policy": [POLICY["Arn"]]})
    assert [(e["type"], e["id"]) for e in entries] == [("iam_role", "lab-sa"), ("iam_policy", POLICY["Arn"])]
    assert C.missing_ids([{"type": "iam_role", "ids": ["lab-sa", "missing"]}], entries) == ["aws[0].ids: iam_role not found: missing"]


def test_only_roles_asked_reads_only_roles(iam):
    client, stub = iam
    stub.add_response("get_account_authorization_details", copy.deepcopy({"RoleDetailList": [ROLE], "IsTruncated": False}), {"Filter": ["Role"]})
    decoded = dict(ROLE, AssumeRolePolicyDocument=json.loads(TRUST))
    assert iam_entries(client, {"iam_role": ["lab-sa"]}) == [C.aws_entry("iam_role", "lab-sa", C.iam_role(decoded))]
