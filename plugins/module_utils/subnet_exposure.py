# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which subnets are public: the rule AWS itself applies, from route tables alone (no I/O).

A subnet is public when the route table it uses (its explicit association, else the VPC's main
table) sends 0.0.0.0/0 or ::/0 to an internet gateway. Fargate refuses public subnets, and load
balancer discovery tags differ between the two, so several roles need this answer.
"""

from __future__ import annotations

_DEFAULT_ROUTES = ("0.0.0.0/0", "::/0")


def _get(item: dict, snake: str, camel: str):
    """Accept boto3 (CamelCase) and amazon.aws *_info (snake_case) shapes alike."""
    return item.get(snake, item.get(camel))


def _is_internet_route(route: dict) -> bool:
    destination = _get(route, "destination_cidr_block", "DestinationCidrBlock") or _get(
        route, "destination_ipv6_cidr_block", "DestinationIpv6CidrBlock")
    gateway = _get(route, "gateway_id", "GatewayId") or ""
    return destination in _DEFAULT_ROUTES and gateway.startswith("igw-")


def subnet_exposure(route_tables: list[dict], subnet_ids: list[str]) -> dict[str, str]:
    """{subnet_id: 'public' | 'private'} for each of subnet_ids."""
    public_tables, explicit, main_public = set(), {}, False
    for table in route_tables or []:
        table_id = _get(table, "id", "RouteTableId") or _get(table, "route_table_id", "RouteTableId")
        internet = any(_is_internet_route(r) for r in _get(table, "routes", "Routes") or [])
        if internet:
            public_tables.add(table_id)
        for assoc in _get(table, "associations", "Associations") or []:
            if _get(assoc, "main", "Main"):
                main_public = main_public or internet
            subnet = _get(assoc, "subnet_id", "SubnetId")
            if subnet:
                explicit[subnet] = table_id
    return {s: ("public" if (s in explicit and explicit[s] in public_tables) or (s not in explicit and main_public)
                else "private") for s in subnet_ids}


def private_subnets(route_tables: list[dict], subnet_ids: list[str]) -> list[str]:
    exposure = subnet_exposure(route_tables, subnet_ids)
    return [s for s in subnet_ids if exposure[s] == "private"]
