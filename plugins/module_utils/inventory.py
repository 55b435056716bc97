# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on the inventory as a whole, run once before site.yml changes anything."""

from __future__ import annotations

# Variable prefixes of the roles site.yml runs: settings two hosts of one cluster must agree on.
ROLE_PREFIXES = (
    "irsa_", "discovery_tags_", "cluster_autoscaler_", "overprovisioning_", "vpc_cni_",
    "aws_load_balancer_controller_", "external_dns_", "fargate_", "karpenter_", "istio_",
    "kubeconfig_", "access_", "cluster_health_",
)


def cluster_conflicts(hostvars: dict, hosts: list, prefixes=ROLE_PREFIXES) -> list[str]:
    """Messages for hosts that point at one cluster (name + region) with different role settings."""
    by_cluster: dict = {}
    for host in hosts:
        hv = hostvars[host]
        key = (hv.get("nodeless_eks_cluster_name"), hv.get("nodeless_eks_region"))
        settings = {k: v for k, v in hv.items() if k.startswith(tuple(prefixes))}
        by_cluster.setdefault(key, []).append((host, settings))
    problems = []
    for (cluster, region), members in sorted(by_cluster.items(), key=lambda kv: str(kv[0])):
        first_host, first = members[0]
        for host, settings in members[1:]:
            differ = sorted(k for k in set(first) | set(settings) if first.get(k) != settings.get(k))
            if differ:
                problems.append(f"hosts {first_host} and {host} both manage cluster {cluster} in {region} "
                                f"with different settings: {', '.join(differ)}")
    return problems


def unknown_tags(run_tags: list, known: list) -> list[str]:
    builtin = {"all", "always", "never", "tagged", "untagged"}
    return sorted(set(run_tags) - set(known) - builtin)
