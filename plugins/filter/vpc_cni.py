# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``vpc_cni_env`` (the aws-node environment the VPC CNI settings give) and ``vpc_cni_errors`` (their
checks), shared by the ``vpc_cni`` role (DaemonSet patch) and the ``addons`` role (vpc-cni configuration values)."""

from __future__ import annotations

import json

from ansible_collections.nodeless.eks.plugins.module_utils import vpc_cni


def _plain(value):
    # Tagged str / dict subclasses from Ansible's templating, as plain JSON types.
    return json.loads(json.dumps(dict(value or {})))


def vpc_cni_env(settings):
    return vpc_cni.env(_plain(settings))


def vpc_cni_errors(settings):
    return vpc_cni.settings_errors(_plain(settings))


class FilterModule:
    def filters(self):
        return {"vpc_cni_env": vpc_cni_env, "vpc_cni_errors": vpc_cni_errors}
