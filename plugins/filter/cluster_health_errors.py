# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``cluster_health_errors`` (documented in cluster_health_errors.yml); the logic lives in
module_utils/cluster_health_role.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def cluster_health_errors(settings):
    from ansible_collections.nodeless.eks.plugins.module_utils.cluster_health_role import role_errors
    return role_errors(plain(dict(settings or {})))


class FilterModule:
    def filters(self):
        return {"cluster_health_errors": cluster_health_errors}
