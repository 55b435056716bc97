import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import changes, eks

CLUSTER = {
    "name": "prod", "arn": "arn:aws-us-gov:eks:us-gov-west-1:111122223333:cluster/prod", "version": "1.35",
    "endpoint": "https://ABC.gr7.us-gov-west-1.eks.amazonaws.com", "certificateAuthority": {"data": "Q0E="},
    "identity": {"oidc": {"issuer": "https://oidc.eks.us-gov-west-1.amazonaws.com/id/ABC"}},
    "resourcesVpcConfig": {"vpcId": "vpc-1", "subnetIds": ["subnet-1"], "securityGroupIds": [],
                           "clusterSecurityGroupId": "sg-1"},
}


def test_cluster_facts_flatten_describe_cluster():
    facts = eks.cluster_facts(CLUSTER)
    assert facts["account_id"] == "111122223333"
    assert facts["partition"] == "aws-us-gov"
    assert facts["region"] == "us-gov-west-1"
    assert facts["oidc_provider"] == "oidc.eks.us-gov-west-1.amazonaws.com/id/ABC"
    assert facts["cluster_security_group_id"] == "sg-1"
    assert facts["version"] == "1.35"


def test_auto_mode_is_read_from_compute_config():
    assert eks.cluster_facts(CLUSTER)["auto_mode"] is False
    assert eks.cluster_facts(dict(CLUSTER, computeConfig={"enabled": False}))["auto_mode"] is False
    assert eks.cluster_facts(dict(CLUSTER, computeConfig={"enabled": True, "nodePools": ["general-purpose"]}))["auto_mode"] is True


def test_cluster_without_issuer_has_null_issuer():
    facts = eks.cluster_facts(dict(CLUSTER, identity={}))
    assert facts["oidc_issuer"] is None and facts["oidc_provider"] is None


@pytest.mark.parametrize("raw,minor", [("1.35", "1.35"), ("v1.35.4-eks-lab", "1.35"), ("1.9", "1.9")])
def test_minor_version(raw, minor):
    assert eks.minor_version(raw) == minor


def test_minor_version_rejects_garbage():
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        eks.minor_version("latest")


def test_nodegroup_facts():
    ng = eks.nodegroup_facts({"nodegroupName": "a", "resources": {"autoScalingGroups": [{"name": "eks-a-1"}]},
                              "labels": {"x": "y"}, "taints": [{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}]})
    assert ng["asg_names"] == ["eks-a-1"] and ng["labels"] == {"x": "y"} and ng["taints"][0]["key"] == "k"


def test_change_entries():
    assert changes.change("k8s", "ServiceAccount", "sa", "add", namespace="ns") == {
        "resource": "k8s:ServiceAccount/ns/sa", "action": "add"}
    with pytest.raises(ValueError):
        changes.change("k8s", "X", "y", "create")
