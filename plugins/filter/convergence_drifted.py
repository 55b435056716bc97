# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``convergence_drifted``: whether a convergence gate found objects of given kinds changed out of band."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def convergence_drifted(gate, kinds):
    from ansible_collections.nodeless.eks.plugins.module_utils.convergence import drifted
    return drifted(plain(dict(gate or {})), plain(list(kinds or [])))


class FilterModule:
    def filters(self):
        return {"convergence_drifted": convergence_drifted}
