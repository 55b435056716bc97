# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``kubeconfig`` (build the file's text), ``kubeconfig_token`` (read the token back) and
``kubeconfig_errors`` (the role's preflight checks)."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible.errors import AnsibleFilterError

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def _kubeconfig(settings):
    from ansible_collections.nodeless.eks.plugins.module_utils import kubeconfig as kc
    try:
        return kc.render(kc.build(plain(dict(settings or {}))))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _kubeconfig_token(text):
    from ansible_collections.nodeless.eks.plugins.module_utils import kubeconfig as kc
    from ansible_collections.nodeless.eks.plugins.module_utils import yaml_text
    try:
        return kc.kubeconfig_token(yaml_text.load(text or "")) or ""
    except yaml_text.YamlTextError:
        return ""  # an unreadable file is simply replaced


def kubeconfig_errors(settings):
    from ansible_collections.nodeless.eks.plugins.module_utils import kubeconfig as kc
    return kc.settings_errors(plain(dict(settings or {})))


class FilterModule:
    def filters(self):
        return {"kubeconfig": _kubeconfig, "kubeconfig_token": _kubeconfig_token, "kubeconfig_errors": kubeconfig_errors}
