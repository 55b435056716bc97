# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change entries for predictions made in check mode (see module_utils/plan.py and changes.py)."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def plan_entries(objects, action="add"):
    """One entry per Kubernetes object, named as the plan callback names an applied object."""
    from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
    if isinstance(objects, dict):
        objects = [objects]
    return [change("k8s", o["kind"], o["metadata"]["name"], action, namespace=o["metadata"].get("namespace"))
            for o in objects or []]


class FilterModule:
    def filters(self):
        return {"plan_entries": plan_entries}
