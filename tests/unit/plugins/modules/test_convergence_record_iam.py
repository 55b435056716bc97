"""convergence_record's AWS reads (issue #23), against botocore's Stubber: one paginated GetAccountAuthorizationDetails
for roles and policies, one GetOpenIDConnectProvider per provider, Fargate profiles listed per cluster then described;
and a Kubernetes list kept to named objects. What each digest covers: tests/unit/plugins/module_utils/test_convergence.py."""
from __future__ import annotations

import copy
import json

import boto3
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.module_utils.convergence_reads import fargate_profile_entries, iam_entries, oidc_provider_entries, read_k8s

TRUST = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}}]}'
ROLE = {"RoleName": "lab-sa", "RoleId": "AROA1AAAAAAAAAAAAAAA", "Arn": "arn:aws:iam::123456789012:role/lab-sa", "Path": "/",
        "AssumeRolePolicyDocument": TRUST, "AttachedManagedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::123456789012:policy/p"}]}
OTHER = dict(ROLE, RoleName="someone-elses", RoleId="AROA2AAAAAAAAAAAAAAA", Arn="arn:aws:iam::123456789012:role/someone-elses")
POLICY = {"PolicyName": "p", "PolicyId": "ANPA1AAAAAAAAAAAAAAA", "Arn": "arn:aws:iam::123456789012:policy/p", "Path": "/", "DefaultVersionId": "v1",
          "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": TRUST}]}


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


def test_oidc_providers_are_read_one_call_each_and_a_missing_one_is_left_out(iam):
    client, stub = iam
    arn = "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/A"
    provider = {"Url": "oidc.example/id/A", "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": ["b" * 40, "a" * 40]}
    stub.add_response("get_open_id_connect_provider", provider, {"OpenIDConnectProviderArn": arn})
    stub.add_client_error("get_open_id_connect_provider", "NoSuchEntity", "gone", 404, expected_params={"OpenIDConnectProviderArn": arn + "B"})
    assert oidc_provider_entries(client, [arn + "B", arn]) == [C.aws_entry("iam_oidc_provider", arn, {
        "url": "oidc.example/id/A", "client_ids": ["sts.amazonaws.com"], "thumbprints": ["a" * 40, "b" * 40], "tags": {}})]


class _List:
    """A dynamic client's resources.get(...).get(...) answering one list."""
    def __init__(self, items):
        self.items, self.calls = items, []

    def get(self, **kwargs):
        if "api_version" in kwargs:
            return self
        self.calls.append(kwargs)
        return self

    def to_dict(self):
        return {"items": self.items}

    @property
    def resources(self):
        return self


def test_a_list_kept_to_names_is_still_one_list():
    accounts = [{"metadata": {"name": n, "namespace": "ns", "uid": n, "resourceVersion": "1"}} for n in ("a", "default", "b")]
    client = _List(accounts)
    entries, errors = read_k8s(client, [{"api_version": "v1", "kind": "ServiceAccount", "namespace": "ns", "names": ["a", "b", "gone"],
                                         "track": "resourceVersion"}])
    assert not errors and [e["name"] for e in entries] == ["a", "b"] and client.calls == [{"namespace": "ns", "label_selector": None}]


class _Unserved:
    """A dynamic client whose API server serves no such kind (kubernetes.dynamic's discoverer raises on get)."""

    @property
    def resources(self):
        return self

    def get(self, **kwargs):
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        raise ResourceNotFoundError(f"No matches found for {kwargs}")


def test_a_kind_the_api_server_does_not_serve_has_no_objects_and_is_no_read_error():
    entries, errors = read_k8s(_Unserved(), [{"api_version": "security.istio.io/v1", "kind": "PeerAuthentication",
                                              "label_selector": "app.kubernetes.io/managed-by=nodeless.eks.istio",
                                              "track": "resourceVersion"}])
    assert entries == [] and errors == []


def test_fargate_profiles_are_listed_per_cluster_and_only_listed_ones_described():
    client = boto3.client("eks", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    profile = {"fargateProfileName": "dns", "fargateProfileArn": "arn:aws:eks:us-west-2:123456789012:fargateprofile/lab/dns/1",
               "clusterName": "lab", "podExecutionRoleArn": "arn:aws:iam::123456789012:role/x", "subnets": ["subnet-2", "subnet-1"],
               "selectors": [{"namespace": "kube-system"}], "status": "ACTIVE", "tags": {"team": "platform"}}
    with Stubber(client) as stub:
        stub.add_response("list_fargate_profiles", {"fargateProfileNames": ["dns", "other"], "nextToken": "t"}, {"clusterName": "lab"})
        stub.add_response("list_fargate_profiles", {"fargateProfileNames": ["apps"]}, {"clusterName": "lab", "nextToken": "t"})
        stub.add_response("describe_fargate_profile", {"fargateProfile": profile}, {"clusterName": "lab", "fargateProfileName": "dns"})
        entries = fargate_profile_entries(RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1)), ["lab/dns", "lab/gone"])
        stub.assert_no_pending_responses()
    assert entries == [C.aws_entry("eks_fargate_profile", "lab/dns", {
        "arn": profile["fargateProfileArn"], "role": profile["podExecutionRoleArn"], "subnets": ["subnet-1", "subnet-2"],
        "selectors": [{"namespace": "kube-system"}], "tags": {"team": "platform"}, "status": "ACTIVE"})]
