# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hosted zone ids from zone names, over one ListHostedZones result (no I/O).

Route 53 allows a public and a private zone with the same name, so the zone type takes part in
the match; an unknown or ambiguous name is an error naming the list position it came from.
"""

from __future__ import annotations

ZONE_TYPES = ("public", "private", "")


def _get(item: dict, snake: str, camel: str):
    return item.get(snake, item.get(camel))


def _is_private(zone: dict) -> bool:
    config = _get(zone, "config", "Config") or {}
    return bool(_get(config, "private_zone", "PrivateZone"))


def zone_id(raw: str) -> str:
    """'/hostedzone/Z123' -> 'Z123'."""
    return raw.rsplit("/", 1)[-1]


def resolve_zones(zones: list[dict], domains: list[str], zone_type: str = "", field: str = "domains") -> list[str]:
    """Zone ids for each domain (in order); raises ValueError naming `field[i]` for a name with no zone."""
    if zone_type not in ZONE_TYPES:
        raise ValueError(f"zone type must be one of public, private or empty, not {zone_type!r}")
    ids, errors = [], []
    for index, domain in enumerate(domains):
        name = domain.rstrip(".").lower() + "."
        found = [zone_id(_get(z, "id", "Id")) for z in zones
                 if (_get(z, "name", "Name") or "").lower() == name
                 and (not zone_type or _is_private(z) == (zone_type == "private"))]
        if not found:
            kind = f"{zone_type} " if zone_type else ""
            errors.append(f"{field}[{index}]: no {kind}Route 53 hosted zone named {domain!r} in this account")
        ids.extend(z for z in found if z not in ids)
    if errors:
        raise ValueError("; ".join(errors))
    return ids
