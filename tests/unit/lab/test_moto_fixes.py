"""The lab's moto gap fixes that need no running lab: EKS Auto Mode settings kept by CreateCluster, checked against
botocore's EKS model, and the combinations EKS refuses refused before anything is created."""
from __future__ import annotations

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from nodeless_lab import moto_fixes

MODEL = botocore.session.get_session().get_service_model("eks")
NODE_ROLE = "arn:aws:iam::123456789012:role/lab-node-role"
BASE = {"version": "1.35", "roleArn": "arn:aws:iam::123456789012:role/lab-cluster-role", "resourcesVpcConfig": {"subnetIds": []}}
AUTO = {"computeConfig": {"enabled": True, "nodePools": ["general-purpose", "system"], "nodeRoleArn": NODE_ROLE},
        "storageConfig": {"blockStorage": {"enabled": True}},
        "kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": True}}}


@pytest.fixture(scope="module")
def eks():
    moto_fixes._eks_auto_mode()  # noqa: SLF001 - what the lab's AWS process applies at start
    with mock_aws():
        yield boto3.client("eks", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing")


def test_auto_mode_cluster_keeps_compute_storage_and_load_balancing_as_the_model_has_them(eks):
    created = eks.create_cluster(name="auto", **BASE, **AUTO)["cluster"]
    described = eks.describe_cluster(name="auto")["cluster"]
    for cluster in (created, described):
        assert cluster["computeConfig"] == AUTO["computeConfig"]
        assert cluster["storageConfig"] == {"blockStorage": {"enabled": True}}
        assert cluster["kubernetesNetworkConfig"] == {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4",
                                                      "elasticLoadBalancing": {"enabled": True}}
    shape = MODEL.shape_for("Cluster").members
    for key in ("computeConfig", "storageConfig", "kubernetesNetworkConfig"):
        assert set(described[key]) <= set(shape[key].members), key
    # a cluster created without them stays as moto makes it
    assert "computeConfig" not in eks.create_cluster(name="standard", **BASE)["cluster"]


@pytest.mark.parametrize("settings,message", [
    ({"computeConfig": AUTO["computeConfig"]}, "compute, block storage and load balancing enabled together"),
    (dict(AUTO, computeConfig={"enabled": True, "nodePools": ["gpu"], "nodeRoleArn": NODE_ROLE}), "computeConfig.nodePools: ['gpu']"),
    (dict(AUTO, computeConfig={"enabled": True, "nodePools": ["system"]}), "computeConfig.nodeRoleArn is required"),
])
def test_what_eks_refuses_creates_nothing(eks, settings, message):
    with pytest.raises(ClientError) as err:
        eks.create_cluster(name="refused", **BASE, **settings)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert message in err.value.response["Error"]["Message"]
    assert "refused" not in eks.list_clusters()["clusters"]
