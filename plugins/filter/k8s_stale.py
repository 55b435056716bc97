# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``k8s_stale``: the desired objects a looped k8s_info read found missing or different
(module_utils.k8s.contains, the comparison the collection's modules use)."""

from __future__ import annotations

import json

from ansible_collections.nodeless.eks.plugins.module_utils import k8s


def k8s_stale(reads):
    # Tagged str / dict subclasses from Ansible's templating, as plain JSON types.
    return k8s.stale(json.loads(json.dumps(list(reads or []))))


class FilterModule:
    def filters(self):
        return {"k8s_stale": k8s_stale}
