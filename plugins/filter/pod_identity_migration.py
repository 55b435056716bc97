# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of playbooks/migrate_to_pod_identity.yml: ``pod_identity_migration_errors`` (why the migration is refused,
so the playbook's assertion starts with the field), ``pod_identity_migration`` (the plan, module_utils/pod_identity.py
``migration_plan``) and ``pod_identity_trust_added`` (a role's trust policy with the Pod Identity statement added)."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible.errors import AnsibleFilterError


def _plan(service_accounts, pods, addons, associations, selected=None):
    from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity as pi
    try:
        return pi.migration_plan(service_accounts, pods, addons, associations, selected)
    except pi.PodIdentityError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _errors(service_accounts, pods, addons, associations, selected=None) -> list:
    from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity as pi
    try:
        pi.migration_plan(service_accounts, pods, addons, associations, selected)
    except pi.PodIdentityError as exc:
        return [str(exc)]
    return []


def _trust_added(document, account_id, cluster_arn=None):
    from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity as pi
    try:
        return pi.with_pod_identity_trust(document, account_id, cluster_arn)
    except (pi.PodIdentityError, ValueError) as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"pod_identity_migration": _plan, "pod_identity_migration_errors": _errors, "pod_identity_trust_added": _trust_added}
