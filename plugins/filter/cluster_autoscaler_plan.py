# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

DOCUMENTATION = r"""
name: cluster_autoscaler_plan
short_description: The cluster-autoscaler image and command line for an EKS cluster
version_added: 0.1.0
author:
  - nodeless.eks contributors (@nodeless)
description:
  - Picks the latest known cluster-autoscaler patch for the cluster's Kubernetes minor (or the image given),
    builds the command line the C(nodeless.eks.cluster_autoscaler) role deploys, and lists every input problem
    in C(errors) instead of failing, so a role can report them all before it changes anything.
options:
  _input:
    description: Cluster facts, the shape of C(nodeless_eks_cluster) (needs C(name) and C(version)).
    type: dict
    required: true
  image:
    description: Image to use instead of the version map.
    type: str
    default: ""
  repository:
    description: Image repository for versions from the map.
    type: str
    default: registry.k8s.io/autoscaling/cluster-autoscaler
  releases:
    description: Extra or replacement entries for the version map, Kubernetes minor to cluster-autoscaler version.
    type: dict
    default: {}
  namespace:
    description: Namespace cluster-autoscaler runs in.
    type: str
    default: kube-system
  expander:
    description: C(--expander) value; a comma-separated chain is allowed.
    type: str
    default: least-waste
  balance_similar_node_groups:
    description: C(--balance-similar-node-groups).
    type: bool
    default: true
  expendable_cutoff:
    description: C(--expendable-pods-priority-cutoff).
    type: int
    default: -10
  extra_flags:
    description: Further flags, name (without dashes) to value; C(true) renders a bare flag.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Image and flags for this cluster
  ansible.builtin.set_fact:
    ca: "{{ nodeless_eks_cluster | nodeless.eks.cluster_autoscaler_plan(expander='priority,least-waste') }}"
"""

RETURN = r"""
_value:
  description: C(image), C(version), C(command) (list), C(discovery_tags) (dict) and C(errors) (list of messages).
  type: dict
"""


def cluster_autoscaler_plan(cluster, **options):
    from ansible_collections.nodeless.eks.plugins.module_utils.autoscaler import plan
    return plan(cluster["name"], str(cluster.get("version") or ""), **options)


class FilterModule:
    def filters(self):
        return {"cluster_autoscaler_plan": cluster_autoscaler_plan}
