# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by nodeless.eks.convergence_record and nodeless.eks.convergence_gate (where the records live, how
they are written and read); module_utils/convergence.py RECORD_STORE_ARGS is their argument spec."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  namespace:
    description: Namespace of the records (created by the first write).
    type: str
    default: nodeless-eks
  field_manager:
    description: Server-side apply field manager of the records' writes.
    type: str
    default: nodeless-eks-convergence
  kubeconfig:
    description: Path to the kubeconfig; default C(K8S_AUTH_KUBECONFIG), then C(~/.kube/config).
    type: path
  context:
    description: Kubeconfig context; default C(K8S_AUTH_CONTEXT), then the current one.
    type: str
"""
