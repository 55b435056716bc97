# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``discovery_tags_errors`` (documented in discovery_tags_errors.yml); the logic lives in module_utils/tags.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def discovery_tags_errors(settings, cluster):
    from ansible_collections.nodeless.eks.plugins.module_utils.tags import role_errors
    return role_errors(plain(dict(settings or {})), plain(dict(cluster or {})))


class FilterModule:
    def filters(self):
        return {"discovery_tags_errors": discovery_tags_errors}
