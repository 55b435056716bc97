# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``hosted_zone_ids`` (documented in hosted_zone_ids.yml); the logic lives in module_utils/route53_zones.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible.errors import AnsibleFilterError


def hosted_zone_ids(zones, domains, zone_type="", field="domains"):
    from ansible_collections.nodeless.eks.plugins.module_utils.route53_zones import resolve_zones
    try:
        return resolve_zones(zones, domains, zone_type, field)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"hosted_zone_ids": hosted_zone_ids}
