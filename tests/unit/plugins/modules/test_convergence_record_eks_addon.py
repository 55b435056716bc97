"""convergence_record's EKS add-on read (issue #23): one paginated ListAddons per cluster, then DescribeAddon per add-on
asked for that it lists, against botocore's Stubber."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.module_utils.convergence_reads import eks_addon_entries

ADDON = {"addonName": "vpc-cni", "clusterName": "lab", "addonVersion": "v1.20.4-eksbuild.1", "status": "ACTIVE",
         "configurationValues": '{"env":{"WARM_PREFIX_TARGET":"1"}}', "podIdentityAssociations": ["arn:b", "arn:a"]}


def test_listed_addons_asked_for_are_described_one_by_one_and_a_missing_one_is_not_found(eks):
    client, stub = eks
    stub.add_response("list_addons", {"addons": ["coredns"], "nextToken": "t"}, {"clusterName": "lab"})
    stub.add_response("list_addons", {"addons": ["vpc-cni"]}, {"clusterName": "lab", "nextToken": "t"})
    stub.add_response("describe_addon", {"addon": ADDON}, {"clusterName": "lab", "addonName": "vpc-cni"})
    entries = eks_addon_entries(client, ["lab/vpc-cni", "lab/kube-proxy"])
    assert entries == [C.aws_entry("eks_addon", "lab/vpc-cni", C.eks_addon(ADDON))]
    assert C.missing_ids([{"type": "eks_addon", "ids": ["lab/vpc-cni", "lab/kube-proxy"]}], entries) == [
        "aws[0].ids: eks_addon not found: lab/kube-proxy"]


def test_the_digest_moves_with_what_the_role_sets_not_with_health():
    base = C.eks_addon(ADDON)
    assert base["podIdentityAssociations"] == ["arn:a", "arn:b"]
    assert C.eks_addon(dict(ADDON, health={"issues": [{"code": "X"}]}, tags={"a": "b"})) == base
    for field, value in (("configurationValues", '{"env":{"WARM_PREFIX_TARGET":"2"}}'), ("addonVersion", "v1.21.1-eksbuild.1"),
                         ("serviceAccountRoleArn", "arn:aws:iam::123456789012:role/r"), ("status", "UPDATE_FAILED")):
        assert C.eks_addon(dict(ADDON, **{field: value})) != base, field
