# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``irsa`` role's preflight over its plan (the ``irsa_plan`` filter's entries: ``index``, ``key``, ``namespace``,
``service_account``, ``create_service_account``, ``attach``): what it reads from the cluster, and every failure of
what it read, each naming its field as the role printed them from vars Jinja before. Pure functions, unit-tested."""

from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils.role_values import unique


def reads(plan: list) -> list[dict]:
    """What preflight reads in one task: each namespace of a service account to create (``{kind: Namespace, name}``),
    then one ServiceAccount list per namespace concerned (``{kind: ServiceAccount, namespace}``), in plan order."""
    created = unique([entry["namespace"] for entry in plan if entry.get("create_service_account")])
    return ([{"kind": "Namespace", "name": ns} for ns in created]
            + [{"kind": "ServiceAccount", "namespace": ns} for ns in unique([entry["namespace"] for entry in plan])])


def _flat(values: list) -> list:
    """Ansible's ``flatten``: nested lists made one, None (and 'None', 'null') left out."""
    out = []
    for value in values:
        if isinstance(value, list):
            out.extend(_flat(value))
        elif value not in (None, "None", "null"):
            out.append(value)
    return out


def errors(plan: list, missing_arns: list, create_namespace: bool, missing_namespaces: list, accounts: list) -> list[str]:
    """Every preflight failure at once, each naming its field: policy ARNs to attach that do not exist (MISSING_ARNS),
    namespaces that would have to be created (MISSING_NAMESPACES) while CREATE_NAMESPACE is off, and service accounts
    to annotate only (``create_service_account`` false) that are not among ACCOUNTS (the metadata read)."""
    found = []
    for attach in _flat([entry.get("attach") for entry in plan]):
        if attach.get("arn") in missing_arns:
            found.append(f"{attach.get('field')}: policy {attach.get('arn')} does not exist")
    if not create_namespace:
        for ns in missing_namespaces:
            index = next(entry.get("index") for entry in plan if entry.get("namespace") == ns)
            found.append(f"irsa_service_accounts[{index}].namespace: namespace {ns} does not exist and irsa_create_namespace is "
                         "false; create it first or set irsa_create_namespace")
    for entry in plan:
        if entry.get("create_service_account"):
            continue
        if not any(a.get("namespace") == entry.get("namespace") and a.get("name") == entry.get("service_account") for a in accounts):
            found.append(f"irsa_service_accounts[{entry.get('index')}].create_service_account: ServiceAccount {entry.get('key')} "
                         "does not exist and create_service_account is false")
    return found
