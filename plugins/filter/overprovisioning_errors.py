# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``overprovisioning_errors`` (documented in overprovisioning_errors.yml); the logic lives in
module_utils/overprovisioning.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def overprovisioning_errors(settings, live_classes, cluster_name):
    from ansible_collections.nodeless.eks.plugins.module_utils.overprovisioning import role_errors
    return role_errors(plain(dict(settings or {})), plain(list(live_classes or [])), str(cluster_name))


class FilterModule:
    def filters(self):
        return {"overprovisioning_errors": overprovisioning_errors}
