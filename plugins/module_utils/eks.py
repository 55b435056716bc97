# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster facts: the one shape every role receives (see docs/design.md, "One source of cluster facts").

Pure functions over ``eks describe-cluster`` output; no I/O, so unit tests call them directly.
"""

from __future__ import annotations

import re

_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):eks:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):cluster/(?P<name>.+)$")


def minor_version(version: str) -> str:
    """'1.35' or 'v1.35.4-eks-abc' -> '1.35'."""
    match = re.match(r"^v?(\d+)\.(\d+)", version or "")
    if not match:
        raise ValueError(f"not a Kubernetes version: {version!r}")
    return f"{match.group(1)}.{match.group(2)}"


def issuer_host_path(issuer: str) -> str:
    """IAM names OIDC providers and condition keys by the issuer without its scheme."""
    return re.sub(r"^https://", "", issuer or "").rstrip("/")


def cluster_facts(cluster: dict) -> dict:
    """Flatten describe-cluster's ``cluster`` into the facts roles use."""
    arn = _ARN.match(cluster.get("arn", ""))
    vpc = cluster.get("resourcesVpcConfig") or {}
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or ""
    network = cluster.get("kubernetesNetworkConfig") or {}
    return {
        "name": cluster["name"],
        "arn": cluster.get("arn"),
        "account_id": arn.group("account") if arn else None,
        "partition": arn.group("partition") if arn else "aws",
        "region": arn.group("region") if arn else None,
        "status": cluster.get("status"),
        "version": minor_version(cluster["version"]) if cluster.get("version") else None,
        "platform_version": cluster.get("platformVersion"),
        "endpoint": cluster.get("endpoint"),
        "certificate_authority_data": (cluster.get("certificateAuthority") or {}).get("data"),
        "oidc_issuer": issuer or None,
        "oidc_provider": issuer_host_path(issuer) or None,
        "vpc_id": vpc.get("vpcId"),
        "subnet_ids": list(vpc.get("subnetIds") or []),
        "security_group_ids": list(vpc.get("securityGroupIds") or []),
        "cluster_security_group_id": vpc.get("clusterSecurityGroupId"),
        "service_ipv4_cidr": network.get("serviceIpv4Cidr"),
        "role_arn": cluster.get("roleArn"),
        "tags": dict(cluster.get("tags") or {}),
        # EKS Auto Mode: EKS itself runs Karpenter, the load balancer controller and the EBS CSI driver.
        "auto_mode": bool((cluster.get("computeConfig") or {}).get("enabled")),
    }


def nodegroup_facts(nodegroup: dict) -> dict:
    resources = nodegroup.get("resources") or {}
    return {
        "name": nodegroup["nodegroupName"],
        "asg_names": [g["name"] for g in resources.get("autoScalingGroups") or []],
        "instance_types": list(nodegroup.get("instanceTypes") or []),
        "labels": dict(nodegroup.get("labels") or {}),
        "taints": list(nodegroup.get("taints") or []),
        "capacity_type": nodegroup.get("capacityType"),
        "scaling": dict(nodegroup.get("scalingConfig") or {}),
        "subnets": list(nodegroup.get("subnets") or []),
    }


def describe_nodegroups(client, cluster_name: str) -> list[dict]:
    """One paginated list, then one describe per group (EKS has no batch describe)."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

    @AWSRetry.jittered_backoff()
    def _list():
        return client.get_paginator("list_nodegroups").paginate(clusterName=cluster_name).build_full_result()

    names = _list().get("nodegroups", [])
    return [nodegroup_facts(client.describe_nodegroup(clusterName=cluster_name, nodegroupName=n, aws_retry=True)["nodegroup"])
            for n in sorted(names)]
