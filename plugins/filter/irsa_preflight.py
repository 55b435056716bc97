# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``irsa_preflight_reads`` (what the irsa role's preflight reads from the cluster) and
``irsa_preflight_errors`` (every failure of what it read), documented in irsa_preflight_reads.yml and
irsa_preflight_errors.yml; the logic lives in module_utils/irsa_preflight.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def irsa_preflight_reads(plan):
    from ansible_collections.nodeless.eks.plugins.module_utils import irsa_preflight
    return irsa_preflight.reads(plain(list(plan or [])))


def irsa_preflight_errors(plan, missing_arns, create_namespace, missing_namespaces, accounts):
    from ansible_collections.nodeless.eks.plugins.module_utils import irsa_preflight
    return irsa_preflight.errors(plain(list(plan or [])), plain(list(missing_arns or [])), bool(create_namespace),
                                 plain(list(missing_namespaces or [])), plain(list(accounts or [])))


class FilterModule:
    def filters(self):
        return {"irsa_preflight_reads": irsa_preflight_reads, "irsa_preflight_errors": irsa_preflight_errors}
