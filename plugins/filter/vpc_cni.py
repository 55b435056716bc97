# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``vpc_cni_env`` (the aws-node environment the VPC CNI settings give) and ``vpc_cni_errors`` (their
checks), shared by the ``vpc_cni`` role (DaemonSet patch) and the ``addons`` role (vpc-cni configuration values), and
``vpc_cni_installed_errors`` (what the installed VPC CNI refuses, the ``vpc_cni`` role's preflight)."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def vpc_cni_env(settings):
    from ansible_collections.nodeless.eks.plugins.module_utils import vpc_cni
    return vpc_cni.env(plain(dict(settings or {})))


def vpc_cni_errors(settings):
    from ansible_collections.nodeless.eks.plugins.module_utils import vpc_cni
    return vpc_cni.settings_errors(plain(dict(settings or {})))


def vpc_cni_installed_errors(daemonsets, where, prefix_delegation):
    from ansible_collections.nodeless.eks.plugins.module_utils import vpc_cni
    return vpc_cni.installed_errors(plain(list(daemonsets or [])), plain(dict(where or {})), bool(prefix_delegation))


class FilterModule:
    def filters(self):
        return {"vpc_cni_env": vpc_cni_env, "vpc_cni_errors": vpc_cni_errors, "vpc_cni_installed_errors": vpc_cni_installed_errors}
