# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``addons_request``, ``addons_names`` and ``addons_errors`` of the ``addons`` role (EKS managed add-ons); the
logic lives in module_utils/addons_role.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def addons_request(settings, step):
    from ansible_collections.nodeless.eks.plugins.module_utils import addons_role
    return addons_role.request(plain(dict(settings or {})), str(step))


def addons_names(settings):
    from ansible_collections.nodeless.eks.plugins.module_utils import addons_role
    return addons_role.names(plain(dict(settings or {})))


def addons_errors(settings):
    from ansible_collections.nodeless.eks.plugins.module_utils import addons_role
    return addons_role.errors(plain(dict(settings or {})))


class FilterModule:
    def filters(self):
        return {
            "addons_request": addons_request,
            "addons_errors": addons_errors,
            "addons_names": addons_names,
        }
