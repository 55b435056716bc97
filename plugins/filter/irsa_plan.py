# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``irsa_plan_errors`` and ``irsa_plan``: why the irsa role's input is refused (the role checks this
first, so its message starts with the field rather than with Ansible's filter-failure preamble), then the
validated plan (names, ARNs, trust, policies) before any write; under EKS Pod Identity, ``irsa_associations`` (the
plan's associations) and ``irsa_annotation_removal`` (the JSON patch taking the IRSA annotations off a ServiceAccount);
``irsa_record_targets``: what the role's convergence record covers (issue #23)."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible.errors import AnsibleFilterError


def _irsa_plan(service_accounts, cluster, **defaults):
    from ansible_collections.nodeless.eks.plugins.module_utils.irsa_plan import irsa_plan
    from ansible_collections.nodeless.eks.plugins.plugin_utils.iam_policy_files import available
    from ansible_collections.nodeless.eks.plugins.plugin_utils.iam_policy_files import load
    try:
        return irsa_plan(service_accounts, dict(cluster or {}), defaults, load, available())
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _irsa_plan_errors(service_accounts, cluster, **defaults) -> list:
    from ansible_collections.nodeless.eks.plugins.module_utils.irsa_plan import irsa_plan
    from ansible_collections.nodeless.eks.plugins.plugin_utils.iam_policy_files import available
    from ansible_collections.nodeless.eks.plugins.plugin_utils.iam_policy_files import load
    try:
        irsa_plan(service_accounts, dict(cluster or {}), defaults, load, available())
    except ValueError as exc:
        return [str(exc)]
    return []


def _associations(plan):
    from ansible_collections.nodeless.eks.plugins.module_utils.irsa_plan import associations
    return associations(plan)


def _annotation_removal(metadata):
    from ansible_collections.nodeless.eks.plugins.module_utils.pod_identity import annotation_removal
    return annotation_removal(metadata)


def _record_targets(plan, cluster):
    from ansible_collections.nodeless.eks.plugins.module_utils.irsa_plan import record_targets
    return record_targets(plan, cluster)


class FilterModule:
    def filters(self):
        return {"irsa_plan": _irsa_plan, "irsa_plan_errors": _irsa_plan_errors, "irsa_associations": _associations,
                "irsa_annotation_removal": _annotation_removal, "irsa_record_targets": _record_targets}
