# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``kubeconfig`` (build the file's text), ``kubeconfig_token`` (read the token back),
``kubeconfig_errors`` (the role's preflight checks) and ``k8s_stale`` (what differs from the cluster)."""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.nodeless.eks.plugins.module_utils import k8s
from ansible_collections.nodeless.eks.plugins.module_utils import kubeconfig as kc
from ansible_collections.nodeless.eks.plugins.module_utils import yaml_text


def _kubeconfig(settings):
    # Ansible hands over tagged str subclasses that yaml.safe_dump refuses; JSON gives plain types.
    plain = json.loads(json.dumps(dict(settings or {})))
    try:
        return kc.render(kc.build(plain))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _kubeconfig_token(text):
    try:
        return kc.kubeconfig_token(yaml_text.load(text or "")) or ""
    except yaml_text.YamlTextError:
        return ""  # an unreadable file is simply replaced


def _plain(value):
    # Tagged str / dict subclasses from Ansible's templating, as plain JSON types.
    return json.loads(json.dumps(value))


def kubeconfig_errors(settings):
    return kc.settings_errors(_plain(dict(settings or {})))


def k8s_stale(reads):
    return k8s.stale(_plain(list(reads or [])))


class FilterModule:
    def filters(self):
        return {"kubeconfig": _kubeconfig, "kubeconfig_token": _kubeconfig_token, "kubeconfig_errors": kubeconfig_errors,
                "k8s_stale": k8s_stale}
