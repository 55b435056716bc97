# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``subnet_tags_covered``: the discovery_tags role leaves out a call an earlier one of the run covers."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def subnet_tags_covered(request, done):
    from ansible_collections.nodeless.eks.plugins.module_utils.tags import subnet_pass_covered
    return subnet_pass_covered(plain(list(done or [])), plain(dict(request)))


class FilterModule:
    def filters(self):
        return {"subnet_tags_covered": subnet_tags_covered}
