# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ``subnet_exposure`` and ``private_subnets`` (documented in their .yml files): which subnets route to an
internet gateway; the logic lives in module_utils/subnet_exposure.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def subnet_exposure(route_tables, subnet_ids):
    from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import subnet_exposure as exposure
    return exposure(route_tables, subnet_ids)


def private_subnets(route_tables, subnet_ids):
    from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import private_subnets as private
    return private(route_tables, subnet_ids)


class FilterModule:
    def filters(self):
        return {"subnet_exposure": subnet_exposure, "private_subnets": private_subnets}
