# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``k8s_stale``: the desired objects a looped k8s_info read found missing or different
(module_utils.k8s.contains, the comparison the collection's modules use)."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def k8s_stale(reads):
    from ansible_collections.nodeless.eks.plugins.module_utils import k8s
    return k8s.stale(plain(list(reads or [])))


class FilterModule:
    def filters(self):
        return {"k8s_stale": k8s_stale}
