# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EKS cluster a module works on, as the modules that act on one named cluster take it (with amazon.aws's
common.modules, region.modules and boto3 fragments for the connection and the region)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
"""
