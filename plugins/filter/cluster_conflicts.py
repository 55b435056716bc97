# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``cluster_conflicts`` (documented in cluster_conflicts.yml); the logic lives in module_utils/inventory.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def cluster_conflicts(hostvars, hosts, *prefixes):
    from ansible_collections.nodeless.eks.plugins.module_utils.inventory import cluster_conflicts as conflicts
    return conflicts(hostvars, hosts, *prefixes)


class FilterModule:
    def filters(self):
        return {"cluster_conflicts": cluster_conflicts}
