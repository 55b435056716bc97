# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``next_minor`` (documented in next_minor.yml); the logic lives in module_utils/health.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def next_minor(version):
    """'1.35' or 'v1.35.4-eks-1' -> '1.36'; '' when it is not a Kubernetes version."""
    from ansible_collections.nodeless.eks.plugins.module_utils import health
    return health.next_minor(str(version or "")) or ""


class FilterModule:
    def filters(self):
        return {"next_minor": next_minor}
