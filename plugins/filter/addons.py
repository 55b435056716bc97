# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the add-on roles (Fargate, ExternalDNS) use; the logic lives in module_utils."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.nodeless.eks.plugins.module_utils.route53_zones import resolve_zones
from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import private_subnets
from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import subnet_exposure


def hosted_zone_ids(zones, domains, zone_type="", field="domains"):
    try:
        return resolve_zones(zones, domains, zone_type, field)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {
            "subnet_exposure": subnet_exposure,
            "private_subnets": private_subnets,
            "hosted_zone_ids": hosted_zone_ids,
        }
