"""eks_addon's prepare (every read and check, before any write) and converge, against botocore's Stubber."""
from __future__ import annotations

import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import eks_addon as ea
from ansible_collections.nodeless.eks.plugins.modules.eks_addon import converge, prepare

SCHEMA = json.dumps({"type": "object", "additionalProperties": False, "properties": {"replicaCount": {"type": "integer"}}})


def _versions(name, *versions, default=None):
    return {"addons": [{"addonName": name, "addonVersions": [
        {"addonVersion": v, "compatibilities": [{"clusterVersion": "1.35", "platformVersions": ["*"], "defaultVersion": v == default}]}
        for v in versions]}]}


class FakeModule:
    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.params = {"wait": True, "wait_timeout": 5}


def _reads(stub, name, versions, current=None, schema=None, default=None):
    if current:
        stub.add_response("describe_addon", {"addon": current}, {"clusterName": "prod", "addonName": name})
    else:
        stub.add_client_error("describe_addon", "ResourceNotFoundException", "none", 404,
                              expected_params={"clusterName": "prod", "addonName": name})
    stub.add_response("describe_addon_versions", _versions(name, *versions, default=default),
                      {"addonName": name, "kubernetesVersion": "1.35"})
    if schema is not None:
        stub.add_response("describe_addon_configuration", {"configurationSchema": schema},
                          {"addonName": name, "addonVersion": (default or versions[0])})


def test_every_addons_problem_is_reported_before_any_write(eks):
    client, stub = eks
    stub.add_response("describe_cluster", {"cluster": {"version": "1.35"}}, {"name": "prod"})
    _reads(stub, "coredns", ["v1.12.1-eksbuild.2"], schema=SCHEMA, default="v1.12.1-eksbuild.2")
    stub.add_client_error("describe_addon", "ResourceNotFoundException", "none", 404,
                          expected_params={"clusterName": "prod", "addonName": "vpc-cnii"})
    stub.add_response("describe_addon_versions", {"addons": []}, {"addonName": "vpc-cnii", "kubernetesVersion": "1.35"})
    stub.add_response("describe_addon_versions", {"addons": [{"addonName": "coredns"}, {"addonName": "vpc-cni"}]},
                      {"kubernetesVersion": "1.35"})
    wanted = ea.validate([{"name": "coredns", "configuration_values": {"replicaCount": "3"}}, {"name": "vpc-cnii"}], "overwrite")
    with pytest.raises(ea.AddonError) as err:
        prepare(client, "prod", wanted)
    assert str(err.value) == ("addons[0].configuration_values.replicaCount: '3' is not of type 'integer'; "
                              "addons[1].name: EKS has no add-on 'vpc-cnii' for Kubernetes 1.35; valid names: coredns, vpc-cni")


def test_check_mode_plans_from_reads_only_and_predicts_the_addon(eks):
    client, stub = eks
    current = {"addonName": "coredns", "clusterName": "prod", "status": "ACTIVE", "addonVersion": "v1.12.1-eksbuild.2",
               "configurationValues": "replicaCount: 2\n"}
    stub.add_response("describe_cluster", {"cluster": {"version": "1.35"}}, {"name": "prod"})
    _reads(stub, "coredns", ["v1.12.4-eksbuild.1", "v1.12.1-eksbuild.2"], current=current, schema=SCHEMA,
           default="v1.12.1-eksbuild.2")
    wanted = ea.validate([{"name": "coredns", "version": "default", "configuration_values": '{"replicaCount": 3}'}], "overwrite")
    steps = prepare(client, "prod", wanted)
    assert [(s[1], s[3], s[4]) for s in steps] == [("v1.12.1-eksbuild.2", "update", ["configuration_values"])]
    results = converge(FakeModule(check_mode=True), client, "prod", steps)  # no stubbed write: none may happen
    assert ea.diff_view(results["coredns"]) == {"version": "v1.12.1-eksbuild.2", "configuration_values": {"replicaCount": 3},
                                                "service_account_role_arn": None}


def test_apply_updates_only_what_differs_then_waits(eks):
    client, stub = eks
    current = {"addonName": "coredns", "clusterName": "prod", "status": "ACTIVE", "addonVersion": "v1.12.1-eksbuild.2"}
    steps = [(ea.validate([{"name": "coredns", "configuration_values": {"replicaCount": 3}}], "none")[0], "v1.12.1-eksbuild.2",
              ea.canonical(current), "update", ["configuration_values"])]
    stub.add_response("update_addon", {"update": {"id": "u1", "status": "InProgress", "type": "AddonUpdate"}},
                      {"clusterName": "prod", "addonName": "coredns", "resolveConflicts": "NONE",
                       "configurationValues": '{"replicaCount":3}'})
    done = dict(current, configurationValues='{"replicaCount":3}')
    for _poll in range(2):  # the waiter's poll, then the read-back
        stub.add_response("describe_addon", {"addon": done}, {"clusterName": "prod", "addonName": "coredns"})
    results = converge(FakeModule(check_mode=False), client, "prod", steps)
    assert results["coredns"]["configuration_values"] == {"replicaCount": 3} and results["coredns"]["status"] == "ACTIVE"


def test_a_role_about_to_be_sent_is_checked_for_trust_and_account(eks):
    client, stub = eks
    cluster = {"version": "1.35", "arn": "arn:aws:eks:us-west-2:123456789012:cluster/prod",
               "identity": {"oidc": {"issuer": "https://oidc.eks.us-west-2.amazonaws.com/id/ABC"}}}
    stub.add_response("describe_cluster", {"cluster": cluster}, {"name": "prod"})
    conf = {"configurationSchema": "{}", "podIdentityConfiguration": [{"serviceAccount": "aws-node"}]}
    for name in ("vpc-cni", "aws-ebs-csi-driver"):
        stub.add_client_error("describe_addon", "ResourceNotFoundException", "none", 404,
                              expected_params={"clusterName": "prod", "addonName": name})
        stub.add_response("describe_addon_versions", _versions(name, "v1", default="v1"), {"addonName": name, "kubernetesVersion": "1.35"})
        stub.add_response("describe_addon_configuration", conf, {"addonName": name, "addonVersion": "v1"})
    iam_reads = []

    class Iam:
        def get_role(self, RoleName, aws_retry):  # noqa: N803 - boto3's spelling
            iam_reads.append(RoleName)
            return {"Role": {"AssumeRolePolicyDocument": {"Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}

    wanted = ea.validate([{"name": "vpc-cni", "service_account_role_arn": "arn:aws:iam::123456789012:role/node"},
                          {"name": "aws-ebs-csi-driver", "service_account_role_arn": "arn:aws:iam::210987654321:role/ebs"}],
                         "overwrite")
    with pytest.raises(ea.AddonError) as err:
        prepare(client, "prod", wanted, iam=Iam)
    message = str(err.value)
    assert "addons[0].service_account_role_arn: IAM role arn:aws:iam::123456789012:role/node does not trust" in message
    assert ("addons[1].service_account_role_arn: IAM role arn:aws:iam::210987654321:role/ebs is in account 210987654321, "
            "the cluster in 123456789012") in message
    assert iam_reads == ["node"]  # the other account's role is not looked up by name in this one
