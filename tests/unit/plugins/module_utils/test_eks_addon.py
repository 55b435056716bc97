"""EKS managed add-ons: pure planning, and the I/O path against botocore's Stubber."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.nodeless.eks.plugins.module_utils import eks_addon as ea

SCHEMA = json.dumps({
    "$ref": "#/definitions/VpcCni", "$schema": "http://json-schema.org/draft-06/schema#",
    "definitions": {
        "VpcCni": {"additionalProperties": False, "type": "object", "properties": {
            "env": {"$ref": "#/definitions/Env"}, "tolerations": {"type": "array", "items": {"type": "object"}}}},
        "Env": {"additionalProperties": False, "type": "object", "properties": {
            "WARM_PREFIX_TARGET": {"format": "integer", "type": "string"},
            "ENABLE_PREFIX_DELEGATION": {"format": "boolean", "type": "string"}}}}})


def _info(version, minors, default_for=()):
    return {"addonVersion": version, "compatibilities": [
        {"clusterVersion": m, "platformVersions": ["*"], "defaultVersion": m in default_for} for m in minors]}


ROLE = "arn:aws:iam::123456789012:role/cni"
INFOS = [_info("v1.21.1-eksbuild.1", ["1.34", "1.35"]), _info("v1.20.4-eksbuild.1", ["1.34", "1.35"], ["1.35"]),
         _info("v1.20.10-eksbuild.1", ["1.35"])]


def _want(**over):
    return ea.validate([dict({"name": "vpc-cni"}, **over)], "overwrite")[0]


@pytest.mark.parametrize("asked,current,expected", [
    ("latest", None, "v1.21.1-eksbuild.1"),
    ("default", None, "v1.20.4-eksbuild.1"),
    (None, None, "v1.20.4-eksbuild.1"),
    (None, {"version": "v1.20.10-eksbuild.1"}, "v1.20.10-eksbuild.1"),  # omitted: the current one stays
    ("default", {"version": "v1.21.1-eksbuild.1"}, "v1.21.1-eksbuild.1"),  # default never downgrades
    ("v1.20.10-eksbuild.1", None, "v1.20.10-eksbuild.1"),
])
def test_resolve_version_for_the_clusters_minor(asked, current, expected):
    assert ea.resolve_version(_want(version=asked), "1.35", INFOS, current) == expected


def test_versions_sort_as_releases_not_text():
    versions, default = ea.compatible(INFOS, "1.35")
    assert versions == ["v1.21.1-eksbuild.1", "v1.20.10-eksbuild.1", "v1.20.4-eksbuild.1"] and default == "v1.20.4-eksbuild.1"


def test_an_incompatible_version_lists_the_compatible_ones():
    with pytest.raises(ea.AddonError) as err:
        ea.resolve_version(_want(version="v1.18.6-eksbuild.1"), "1.35", INFOS, None)
    assert str(err.value) == ("addons[0].version: v1.18.6-eksbuild.1 of vpc-cni is not compatible with Kubernetes 1.35; "
                              "compatible versions: v1.21.1-eksbuild.1, v1.20.10-eksbuild.1, v1.20.4-eksbuild.1 (default v1.20.4-eksbuild.1)")


@pytest.mark.parametrize("addons,field", [
    ([{"name": "VPC_CNI"}], "addons[0].name"),
    ([{"name": "coredns"}, {"name": "coredns"}], "addons[1].name"),
    ([{"name": "coredns", "service_account_role_arn": "role/x"}], "addons[0].service_account_role_arn"),
    ([{"name": "coredns", "configuration_values": "env: [unclosed"}], "addons[0].configuration_values"),
    ([{"name": "coredns", "configuration_values": "[1, 2]"}], "addons[0].configuration_values"),
    ([{"name": "coredns", "configuration_values": 3}], "addons[0].configuration_values"),
    ([{"name": "coredns", "version": " "}], "addons[0].version"),
    ([{"name": "vpc-cni", "pod_identity_associations": [{"service_account": "aws-node", "role_arn": "x"}]}],
     "addons[0].pod_identity_associations[0].role_arn"),
    ([{"name": "vpc-cni", "pod_identity_associations": [{"service_account": "aws-node", "role_arn": ROLE},
                                                        {"service_account": "aws-node", "role_arn": ROLE}]}],
     "addons[0].pod_identity_associations[1].service_account"),
    ([], "addons"),
])
def test_validate_names_the_bad_field(addons, field):
    with pytest.raises(ea.AddonError) as err:
        ea.validate(addons, "overwrite")
    assert str(err.value).startswith(field + ":"), str(err.value)


def test_values_as_yaml_or_json_text_are_the_same_data():
    as_yaml = _want(configuration_values="env:\n  WARM_PREFIX_TARGET: '1'\n")
    as_json = _want(configuration_values='{"env": {"WARM_PREFIX_TARGET": "1"}}')
    assert as_yaml["values"] == as_json["values"] == {"env": {"WARM_PREFIX_TARGET": "1"}}


def test_schema_errors_name_the_json_path_and_check_eks_string_formats():
    values = {"env": {"WARM_PREFIX_TARGET": 2, "ENABLE_PREFIX_DELEGATION": "yes"}, "nope": 1}
    errors = ea.schema_errors(SCHEMA, values, "addons[0].configuration_values")
    assert errors == [
        "addons[0].configuration_values: Additional properties are not allowed ('nope' was unexpected)",
        "addons[0].configuration_values.env.ENABLE_PREFIX_DELEGATION: 'yes' is not a 'boolean'",
        "addons[0].configuration_values.env.WARM_PREFIX_TARGET: 2 is not of type 'string'",
    ]
    assert ea.schema_errors(SCHEMA, {"env": {"WARM_PREFIX_TARGET": "2"}, "tolerations": [{}]}, "x") == []
    assert ea.schema_errors(SCHEMA, {"tolerations": ["a"]}, "x") == ["x.tolerations[0]: 'a' is not of type 'object'"]


def _addon(version="v1.20.4-eksbuild.1", values=None, status="ACTIVE", role=None):
    addon = {"addonName": "vpc-cni", "clusterName": "prod", "status": status, "addonVersion": version,
             "addonArn": "arn:aws:eks:us-west-2:123456789012:addon/prod/vpc-cni/x", "health": {"issues": []}}
    if values is not None:
        addon["configurationValues"] = values
    if role:
        addon["serviceAccountRoleArn"] = role
    return addon


def test_plan_compares_values_as_data_not_text():
    current = ea.canonical(_addon(values='{\n  "env": {"WARM_PREFIX_TARGET": "1", "ENABLE_PREFIX_DELEGATION": "true"}}'))
    same = _want(version="v1.20.4-eksbuild.1",
                 configuration_values={"env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}})
    assert ea.plan(same, "v1.20.4-eksbuild.1", current) == (None, [])
    yaml_current = ea.canonical(_addon(values="env:\n  ENABLE_PREFIX_DELEGATION: 'true'\n  WARM_PREFIX_TARGET: '1'\n"))
    assert ea.plan(same, "v1.20.4-eksbuild.1", yaml_current) == (None, [])
    other = _want(configuration_values={"env": {"WARM_PREFIX_TARGET": "2"}})
    assert ea.plan(other, "v1.21.1-eksbuild.1", current) == (
        "update", ["version v1.20.4-eksbuild.1 -> v1.21.1-eksbuild.1", "configuration_values"])
    assert ea.plan(_want(), "v1.20.4-eksbuild.1", current) == (None, [])  # values not given: not managed
    assert ea.plan(_want(configuration_values={}), "v1.20.4-eksbuild.1", ea.canonical(_addon())) == (None, [])
    assert ea.plan(_want(), "v1.20.4-eksbuild.1", None) == ("create", [])
    assert ea.plan(_want(state="absent"), None, current) == ("delete", [])
    assert ea.plan(_want(state="absent"), None, None) == (None, [])
    assert ea.plan(_want(), "v1.20.4-eksbuild.1", ea.canonical(_addon(status="CREATE_FAILED")))[0] == "update"


def test_request_sends_only_what_differs_and_values_as_sorted_compact_json():
    want = _want(configuration_values={"env": {"WARM_PREFIX_TARGET": "1", "ENABLE_PREFIX_DELEGATION": "true"}},
                 service_account_role_arn="arn:aws:iam::123456789012:role/cni", resolve_conflicts="preserve")
    create = ea.request("prod", want, "v1", "create", [])
    assert create == {"clusterName": "prod", "addonName": "vpc-cni", "resolveConflicts": "NONE", "addonVersion": "v1",
                      "configurationValues": '{"env":{"ENABLE_PREFIX_DELEGATION":"true","WARM_PREFIX_TARGET":"1"}}',
                      "serviceAccountRoleArn": "arn:aws:iam::123456789012:role/cni"}
    assert ea.request("prod", want, "v1", "update", ["configuration_values"]) == {
        "clusterName": "prod", "addonName": "vpc-cni", "resolveConflicts": "PRESERVE",
        "configurationValues": '{"env":{"ENABLE_PREFIX_DELEGATION":"true","WARM_PREFIX_TARGET":"1"}}'}
    cleared = _want(configuration_values={}, service_account_role_arn="")
    assert ea.request("prod", cleared, "v1", "update", ["configuration_values"]) == {
        "clusterName": "prod", "addonName": "vpc-cni", "resolveConflicts": "OVERWRITE", "configurationValues": ""}


def test_an_empty_role_is_refused_only_when_the_addon_has_one():
    cleared = _want(service_account_role_arn="")
    (error,) = ea.role_removal_errors(cleared, ["service_account_role_arn"])
    assert error.startswith(f"{cleared['field']}.service_account_role_arn: EKS cannot remove the IAM role")
    assert "preserve=true" in error
    assert ea.role_removal_errors(cleared, ["configuration_values"]) == []
    assert ea.role_removal_errors(_want(service_account_role_arn="arn:aws:iam::123456789012:role/cni"),
                                  ["service_account_role_arn"]) == []


def test_reads_resolve_and_create_then_wait_for_active(eks):
    client, stub = eks
    stub.add_response("describe_cluster", {"cluster": {"name": "prod", "version": "1.35"}}, {"name": "prod"})
    stub.add_response("describe_addon_versions", {"addons": [{"addonName": "vpc-cni", "addonVersions": INFOS}]},
                      {"addonName": "vpc-cni", "kubernetesVersion": "1.35"})
    stub.add_client_error("describe_addon", "ResourceNotFoundException", "No addon: vpc-cni found in cluster: prod", 404,
                          expected_params={"clusterName": "prod", "addonName": "vpc-cni"})
    stub.add_response("describe_addon_configuration", {"addonName": "vpc-cni", "addonVersion": "v1.21.1-eksbuild.1",
                                                       "configurationSchema": SCHEMA},
                      {"addonName": "vpc-cni", "addonVersion": "v1.21.1-eksbuild.1"})
    want = _want(version="latest", configuration_values={"env": {"WARM_PREFIX_TARGET": "1"}})
    assert ea.describe_cluster(client, "prod")["version"] == "1.35"
    infos = ea.addon_versions(client, "vpc-cni", "1.35")
    current = ea.canonical(ea.describe(client, "prod", "vpc-cni"))
    version = ea.resolve_version(want, "1.35", infos, current)
    assert ea.schema_errors(ea.configuration(client, "vpc-cni", version)["configurationSchema"], want["values"], "v") == []
    verb, differs = ea.plan(want, version, current)
    assert (verb, current) == ("create", None)

    stub.add_response("create_addon", {"addon": _addon("v1.21.1-eksbuild.1", status="CREATING")},
                      {"clusterName": "prod", "addonName": "vpc-cni", "addonVersion": "v1.21.1-eksbuild.1",
                       "resolveConflicts": "OVERWRITE", "configurationValues": '{"env":{"WARM_PREFIX_TARGET":"1"}}'})
    ea.write(client, "prod", want, version, verb, differs)
    for status in ("CREATING", "ACTIVE", "ACTIVE"):  # two waiter polls, then the read-back
        stub.add_response("describe_addon", {"addon": _addon("v1.21.1-eksbuild.1", '{"env":{"WARM_PREFIX_TARGET":"1"}}', status)},
                          {"clusterName": "prod", "addonName": "vpc-cni"})
    got = ea.canonical(ea.wait(client, "prod", "vpc-cni", False, timeout=5, delay=0))
    assert got["status"] == "ACTIVE" and got["configuration_values"] == {"env": {"WARM_PREFIX_TARGET": "1"}}


def test_degraded_fails_the_wait_with_the_health_issue(eks):
    client, stub = eks
    degraded = dict(_addon(status="DEGRADED"), addonName="coredns", health={"issues": [
        {"code": "InsufficientNumberOfReplicas", "message": "The add-on is unhealthy because it doesn't have the desired number of replicas."}]})
    stub.add_response("describe_addon", {"addon": degraded}, {"clusterName": "prod", "addonName": "coredns"})
    with pytest.raises(ea.AddonError) as err:
        ea.wait(client, "prod", "coredns", False, timeout=5, delay=1)
    assert str(err.value) == ("EKS add-on coredns of cluster prod is DEGRADED, not ACTIVE: InsufficientNumberOfReplicas: "
                              "The add-on is unhealthy because it doesn't have the desired number of replicas. (the request was made; "
                              "once the cause is fixed, for example capacity its pods can schedule on, a re-run reports it)")


def test_the_timeout_says_what_it_waited_for(eks):
    client, stub = eks
    stub.add_response("describe_addon", {"addon": _addon(status="UPDATING")}, {"clusterName": "prod", "addonName": "vpc-cni"})
    with pytest.raises(ea.AddonError) as err:
        ea.wait(client, "prod", "vpc-cni", False, timeout=1, delay=1)
    assert str(err.value) == "wait_timeout: waited 1s for EKS add-on vpc-cni of cluster prod to be ACTIVE; it is still UPDATING"


def test_delete_preserving_then_wait_until_gone(eks):
    client, stub = eks
    stub.add_response("delete_addon", {"addon": _addon(status="DELETING")},
                      {"clusterName": "prod", "addonName": "vpc-cni", "preserve": True})
    stub.add_client_error("describe_addon", "ResourceNotFoundException", "gone", 404,
                          expected_params={"clusterName": "prod", "addonName": "vpc-cni"})
    ea.write(client, "prod", _want(state="absent"), None, "delete", [])
    assert ea.wait(client, "prod", "vpc-cni", True, timeout=5, delay=1) is None


def test_unknown_names_are_listed_from_the_catalogue(eks):
    client, stub = eks
    stub.add_response("describe_addon_versions", {"addons": [{"addonName": "coredns"}, {"addonName": "vpc-cni"}], "nextToken": "t"},
                      {"kubernetesVersion": "1.35"})
    stub.add_response("describe_addon_versions", {"addons": [{"addonName": "kube-proxy"}]}, {"kubernetesVersion": "1.35", "nextToken": "t"})
    assert ea.catalogue_names(client, "1.35") == ["coredns", "kube-proxy", "vpc-cni"]


def test_change_entries_and_diff_view():
    assert ea.entry("prod", "vpc-cni", "update", ["configuration_values"]) == {
        "resource": "aws:eks-addon/prod/vpc-cni", "action": "change", "detail": "configuration_values"}
    assert ea.entry("prod", "coredns", "create", []) == {"resource": "aws:eks-addon/prod/coredns", "action": "add"}
    predicted = ea.after(_want(configuration_values={"a": 1}), "v1", None, "create")
    assert ea.diff_view(predicted) == {"version": "v1", "configuration_values": {"a": 1}, "service_account_role_arn": None}


def test_pod_identity_associations_are_checked_against_the_addon_then_compared_as_pairs(eks):
    client, stub = eks
    want = _want(pod_identity_associations=[{"service_account": "aws-node", "role_arn": ROLE}])
    conf = {"podIdentityConfiguration": [{"serviceAccount": "aws-node", "recommendedManagedPolicies": []}]}
    assert ea.pod_identity_errors(conf, want["pods"], "addons[0].pod_identity_associations") == []
    wrong = _want(pod_identity_associations=[{"service_account": "coredns", "role_arn": ROLE}])["pods"]
    assert ea.pod_identity_errors({}, wrong, "p") == [
        "p[0].service_account: coredns is not a service account of this add-on for EKS Pod Identity; "
        "it names none (use service_account_role_arn or nothing)"]
    arn = "arn:aws:eks:us-west-2:123456789012:podidentityassociation/prod/a-0123456789abcdef0"
    stub.add_response("describe_pod_identity_association", {"association": {"serviceAccount": "aws-node", "roleArn": ROLE}},
                      {"clusterName": "prod", "associationId": "a-0123456789abcdef0"})
    current = ea.canonical(dict(_addon(), podIdentityAssociations=[arn]))
    assert current["pod_identity_associations"] is None  # unknown until read
    current["pod_identity_associations"] = ea.associations(client, "prod", [arn])
    assert ea.plan(want, "v1.20.4-eksbuild.1", current) == (None, [])
    assert ea.plan(_want(pod_identity_associations=[]), "v1.20.4-eksbuild.1", current) == ("update", ["pod_identity_associations"])
    assert ea.request("prod", _want(pod_identity_associations=[]), "v1", "update", ["pod_identity_associations"])[
        "podIdentityAssociations"] == []
    assert ea.request("prod", want, "v1", "create", [])["podIdentityAssociations"] == [{"serviceAccount": "aws-node", "roleArn": ROLE}]
    assert ea.diff_view(ea.after(want, "v1", None, "create"))["pod_identity_associations"] == want["pods"]


CLUSTER = {"name": "prod", "arn": "arn:aws:eks:us-west-2:123456789012:cluster/prod",
           "identity": {"oidc": {"issuer": "https://oidc.eks.us-west-2.amazonaws.com/id/ABC"}}}
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"


def _trust(condition=None, provider=PROVIDER):
    statement = {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize("document,problem", [
    (_trust({"StringEquals": {"oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:kube-system:aws-node"}}), None),
    (_trust({"StringLike": {"oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:kube-system:*"}}), None),
    (_trust(), None),  # no sub condition: any service account of the cluster (loose, but it works)
    (_trust({"StringEquals": {"oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:default:app"}}),
     "f: IAM role R trusts system:serviceaccount:default:app of the cluster's OIDC provider, not the add-on's service account "
     "(system:serviceaccount:kube-system:aws-node)"),
    (_trust(provider="arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/OTHER"),
     f"f: IAM role R does not trust the cluster's OIDC provider {PROVIDER} (no Allow of sts:AssumeRoleWithWebIdentity for it); "
     "the add-on's pods would get no AWS credentials"),
    ({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
     f"f: IAM role R does not trust the cluster's OIDC provider {PROVIDER} (no Allow of sts:AssumeRoleWithWebIdentity for it); "
     "the add-on's pods would get no AWS credentials"),
    (None, "f: IAM role R does not exist"),
])
def test_trust_of_a_role_for_the_addons_service_account(document, problem):
    assert ea.trust_problems(document, "R", CLUSTER, ["aws-node"], "f") == ([problem] if problem else [])


def test_a_cluster_without_issuer_cannot_use_irsa():
    assert ea.trust_problems(_trust(), "R", {"name": "prod", "identity": {}}, [], "f") == [
        "f: cluster prod has no OIDC issuer, so IRSA cannot work; associate an OIDC provider first, or use pod_identity_associations"]


def test_role_trust_reads_get_role():
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        wrapped = RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1))
        stub.add_response("get_role", {"Role": {"Path": "/", "RoleName": "cni", "RoleId": "AROAEXAMPLEEXAMPLE1", "Arn": ROLE,
                                                "CreateDate": "2026-01-01T00:00:00Z", "AssumeRolePolicyDocument": "%7B%7D"}},
                          {"RoleName": "cni"})
        stub.add_client_error("get_role", "NoSuchEntity", "no", 404, expected_params={"RoleName": "cni"})
        assert ea.role_trust(wrapped, ROLE) == {}  # botocore decodes the URL-encoded document
        assert ea.role_trust(wrapped, ROLE) is None
    assert ea.trust_problems("%7B%7D", "R", CLUSTER, [], "f")[0].startswith("f: IAM role R does not trust")
