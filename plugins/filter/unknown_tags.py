# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``unknown_tags`` (documented in unknown_tags.yml); the logic lives in module_utils/inventory.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def unknown_tags(run_tags, known):
    from ansible_collections.nodeless.eks.plugins.module_utils.inventory import unknown_tags as unknown
    return unknown(run_tags, known)


class FilterModule:
    def filters(self):
        return {"unknown_tags": unknown_tags}
