# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``subnet_exposure`` and ``private_subnets`` (documented in their .yml files): which subnets route to an
internet gateway; the logic lives in module_utils/subnet_exposure.py."""

from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import private_subnets
from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import subnet_exposure


class FilterModule:
    def filters(self):
        return {"subnet_exposure": subnet_exposure, "private_subnets": private_subnets}
