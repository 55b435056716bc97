# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Max pods per node for the Amazon VPC CNI, computed from ``ec2 describe-instance-types``.

The same arithmetic as amazon-eks-ami's ``max-pods-calculator.sh``: every ENI but the primary IP
of each gives one pod address (or one /28 prefix of 16 addresses per secondary slot with prefix
delegation on Nitro), plus 2 for the host-network pods (aws-node, kube-proxy), then the ceiling
EKS recommends: 110 pods up to 30 vCPUs, 250 above. Pure functions, and one read (``describe``) that the
lookup ``nodeless.eks.max_pods`` and the module ``nodeless.eks.max_pods_info`` share.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

IPS_PER_PREFIX = 16
HOST_NETWORK_PODS = 2
LOW_CPU_CEILING = 110
HIGH_CPU_CEILING = 250
HIGH_CPU_THRESHOLD = 30  # vCPUs; the calculator switches ceilings strictly above this


def capacity(instance_type: dict) -> dict:
    """The four numbers the arithmetic needs, from one describe-instance-types ``InstanceTypes`` entry."""
    network = instance_type.get("NetworkInfo") or {}
    return {
        "instance_type": instance_type["InstanceType"],
        "vcpus": int((instance_type.get("VCpuInfo") or {}).get("DefaultVCpus") or 0),
        "enis": int(network.get("MaximumNetworkInterfaces") or 0),
        "ips_per_eni": int(network.get("Ipv4AddressesPerInterface") or 0),
        "nitro": instance_type.get("Hypervisor") == "nitro",
    }


def ceiling(vcpus: int) -> int:
    return HIGH_CPU_CEILING if vcpus > HIGH_CPU_THRESHOLD else LOW_CPU_CEILING


def max_pods(cap: dict, prefix_delegation: bool = False, custom_networking: bool = False,
             max_eni: int | None = None, vcpu_ceiling: bool = True) -> int:
    """Max pods for one instance type's ``capacity()``.

    Prefix delegation only counts on Nitro instances (the CNI falls back to secondary IPs elsewhere).
    Custom networking keeps the primary ENI for the node, so it carries no pods.
    ``vcpu_ceiling=False`` gives the uncapped value (the one amazon-eks-ami's eni-max-pods.txt lists).
    """
    enis = cap["enis"] if max_eni is None else min(max_eni, cap["enis"])
    if custom_networking:
        enis -= 1
    if enis < 0 or cap["ips_per_eni"] < 1:
        raise ValueError(f"{cap['instance_type']}: no ENI left for pods")
    per_eni = cap["ips_per_eni"] - 1
    if prefix_delegation and cap["nitro"]:
        per_eni *= IPS_PER_PREFIX
    pods = enis * per_eni + HOST_NETWORK_PODS
    return min(pods, ceiling(cap["vcpus"])) if vcpu_ceiling else pods


def missing_types(requested: list[str], described: list[dict]) -> list[str]:
    """Requested instance types that describe-instance-types did not return, in request order."""
    found = {t["InstanceType"] for t in described}
    return [name for name in requested if name not in found]


class InstanceTypesNotFound(Exception):
    """Instance types the region does not have: AWS's own message, or the names it did not return."""


def describe(client, names: list[str]) -> dict:
    """``{name: capacity()}`` for NAMES from one describe-instance-types call (at most 100 distinct types, the API's
    limit for one request); CLIENT is wrapped with AWSRetry (``aws_retry=True``). InstanceTypesNotFound when the
    region lacks one of them."""
    try:
        described = client.describe_instance_types(InstanceTypes=sorted(set(names)), aws_retry=True)["InstanceTypes"]
    except is_boto3_error_code("InvalidInstanceType") as e:
        raise InstanceTypesNotFound(e.response["Error"].get("Message", "")) from None
    missing = missing_types(names, described)
    if missing:
        raise InstanceTypesNotFound(", ".join(missing))
    return {t["InstanceType"]: capacity(t) for t in described}
