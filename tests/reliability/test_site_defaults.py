"""What the demo inventory leaves to the roles' defaults reaches the cluster after site.yml (reads only).

The integration tests converge each role with values of their own; these defaults are converged by
site.yml alone (tests/inventory/demo), so they are read back here, from the run the other checks share."""
from __future__ import annotations

import pytest

from reliability_common import SITE
from support import labenv

pytestmark = pytest.mark.lab


def test_external_dns_runs_with_the_default_policy_owner_and_zone_type(runs):
    runs.converged(SITE.name)
    from kubernetes import client

    deployment = client.AppsV1Api(labenv.k8s_client()).read_namespaced_deployment("external-dns", "kube-system")
    args = deployment.spec.template.spec.containers[0].args
    cluster = runs.state["cluster_name"]
    assert {"--policy=upsert-only", f"--txt-owner-id={cluster}", "--aws-zone-type=public",
            "--domain-filter=lab.example.com"} <= set(args), args


def test_fargate_profiles_use_the_default_pod_execution_role(runs):
    runs.converged(SITE.name)
    eks = labenv.boto3_client("eks")
    cluster = runs.state["cluster_name"]
    role = labenv.boto3_client("iam").get_role(RoleName=f"{cluster}-fargate-pod-execution")["Role"]
    names = eks.list_fargate_profiles(clusterName=cluster)["fargateProfileNames"]
    assert names, "site.yml (fargate capability on) created no Fargate profile"
    for name in names:
        profile = eks.describe_fargate_profile(clusterName=cluster, fargateProfileName=name)["fargateProfile"]
        assert profile["podExecutionRoleArn"] == role["Arn"], profile
