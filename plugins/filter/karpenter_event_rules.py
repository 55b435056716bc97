# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``karpenter_event_rules`` (documented in karpenter_event_rules.yml); the logic lives in
module_utils/karpenter_interruption.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def karpenter_event_rules(events, queue_name, cluster_name, queue_arn):
    from ansible_collections.nodeless.eks.plugins.module_utils.karpenter_interruption import event_rules
    return event_rules(plain(list(events or [])), str(queue_name), str(cluster_name), str(queue_arn))


class FilterModule:
    def filters(self):
        return {"karpenter_event_rules": karpenter_event_rules}
