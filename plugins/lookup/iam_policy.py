# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: iam_policy
author:
  - nodeless.eks contributors (@nodeless)
version_added: 0.1.0
short_description: Render one of the collection's IAM policy documents for a cluster
description:
  - Reads C(policies/<name>.yml) shipped with the collection (each names the upstream file and
    version it tracks and justifies every difference) and returns its policy document with the
    cluster name, partition, account, region and other parameters filled in.
  - Parameters default to the fact C(nodeless_eks_cluster) set by the C(nodeless.eks.common) role,
    so inside a nodeless.eks role no parameter is usually needed.
  - Pure rendering; no AWS call is made.
options:
  _terms:
    description:
      - Policy names; one of C(cluster_autoscaler), C(aws_load_balancer_controller),
        C(karpenter_controller), C(external_dns), C(efs_csi_driver).
    required: true
    type: list
    elements: str
  cluster:
    description: Cluster facts (the shape of C(nodeless_eks_cluster)) that supply the defaults below.
    type: dict
    vars:
      - name: nodeless_eks_cluster
  cluster_name:
    description: EKS cluster name used in tag conditions and ARNs. Defaults to C(cluster.name).
    type: str
  partition:
    description: AWS partition (C(aws), C(aws-cn), C(aws-us-gov)). Defaults to C(cluster.partition), then C(aws).
    type: str
  account_id:
    description: Account id used in ARNs. Defaults to C(cluster.account_id).
    type: str
  region:
    description: Region used in ARNs and region conditions. Defaults to C(cluster.region).
    type: str
  hosted_zone_ids:
    description:
      - Route 53 hosted zone ids ExternalDNS may write (C(Z0123) or C(/hostedzone/Z0123)).
      - Required for C(external_dns).
    type: list
    elements: str
  node_role_name:
    description: C(karpenter_controller) only; the node role Karpenter may pass to EC2. Defaults to C(KarpenterNodeRole-<cluster_name>).
    type: str
  interruption_queue_name:
    description: C(karpenter_controller) only; the SQS interruption queue. Defaults to the cluster name.
    type: str
  output:
    description: C(document) returns the policy as a dictionary; C(json) as compact JSON text.
    type: str
    default: document
    choices: [document, json]
"""

EXAMPLES = r"""
- name: Give cluster-autoscaler its policy through IRSA (facts from nodeless.eks.common)
  ansible.builtin.include_role:
    name: nodeless.eks.irsa
  vars:
    irsa_service_accounts:
      - namespace: kube-system
        service_account: cluster-autoscaler
        policies:
          - name: cluster-autoscaler
            document: "{{ lookup('nodeless.eks.iam_policy', 'cluster_autoscaler') }}"

- name: ExternalDNS limited to two zones, for a cluster whose facts are not loaded
  ansible.builtin.debug:
    msg: >-
      {{ lookup('nodeless.eks.iam_policy', 'external_dns', partition='aws',
                hosted_zone_ids=['Z0123456789ABC', '/hostedzone/Z9876543210XYZ']) }}
"""

RETURN = r"""
_raw:
  description: One policy document (a dictionary, or JSON text with O(output=json)) per name.
  type: list
  elements: raw
"""

import json

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.nodeless.eks.plugins.module_utils.iam_policy_documents import policy_values
from ansible_collections.nodeless.eks.plugins.module_utils.iam_policy_documents import render_document
from ansible_collections.nodeless.eks.plugins.plugin_utils.iam_policy_files import load

_PARAMETERS = ("cluster_name", "partition", "account_id", "region", "hosted_zone_ids", "node_role_name", "interruption_queue_name")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        overrides = {p: self.get_option(p) for p in _PARAMETERS}
        try:
            values = policy_values(self.get_option("cluster"), overrides)
            documents = [render_document(load(name)["document"], values) for name in terms]
        except ValueError as exc:
            raise AnsibleLookupError(f"iam_policy {', '.join(terms)}: {exc}") from exc
        if self.get_option("output") == "json":
            return [json.dumps(d, separators=(",", ":")) for d in documents]
        return documents
