# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``cluster_autoscaler_errors`` (the cluster_autoscaler role's preflight checks) and
``cluster_autoscaler_lacking`` (node group ASGs without the discovery tags after tagging), documented in
cluster_autoscaler_errors.yml and cluster_autoscaler_lacking.yml; the logic lives in module_utils/autoscaler.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def cluster_autoscaler_errors(planned, cluster, policy, replicas, expendable_cutoff):
    from ansible_collections.nodeless.eks.plugins.module_utils import autoscaler
    return autoscaler.role_errors(plain(dict(planned or {})), plain(dict(cluster or {})), plain(dict(policy or {})),
                                  plain(replicas), plain(expendable_cutoff))


def cluster_autoscaler_lacking(asgs, discovery_tags, asg_tags):
    from ansible_collections.nodeless.eks.plugins.module_utils import autoscaler
    return autoscaler.lacking(plain(list(asgs or [])), plain(dict(discovery_tags or {})), plain(dict(asg_tags or {})))


class FilterModule:
    def filters(self):
        return {"cluster_autoscaler_errors": cluster_autoscaler_errors, "cluster_autoscaler_lacking": cluster_autoscaler_lacking}
