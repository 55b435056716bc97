from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils.route53_zones import resolve_zones
from ansible_collections.nodeless.eks.plugins.module_utils.route53_zones import zone_id

ZONES = [
    {"id": "/hostedzone/ZPUB", "name": "example.com.", "config": {"private_zone": False}},
    {"id": "/hostedzone/ZPRIV", "name": "example.com.", "config": {"private_zone": True}},
    {"Id": "/hostedzone/ZINT", "Name": "internal.example.com.", "Config": {"PrivateZone": True}},
]


def test_zone_type_picks_between_same_named_zones():
    assert resolve_zones(ZONES, ["example.com"], "public") == ["ZPUB"]
    assert resolve_zones(ZONES, ["example.com."], "private") == ["ZPRIV"]
    assert resolve_zones(ZONES, ["Example.COM"], "") == ["ZPUB", "ZPRIV"]


def test_boto3_shape_and_order_and_no_duplicates():
    assert resolve_zones(ZONES, ["internal.example.com", "example.com", "example.com"], "private") == ["ZINT", "ZPRIV"]


def test_unknown_name_is_reported_with_its_position_and_the_field():
    with pytest.raises(ValueError) as err:
        resolve_zones(ZONES, ["example.com", "nope.example.com"], "public", field="external_dns_domains")
    assert str(err.value) == "external_dns_domains[1]: no public Route 53 hosted zone named 'nope.example.com' in this account"


def test_private_zone_is_not_found_as_public():
    with pytest.raises(ValueError, match=r"domains\[0\]: no public .*internal.example.com"):
        resolve_zones(ZONES, ["internal.example.com"], "public")


def test_bad_zone_type_and_id_parsing():
    with pytest.raises(ValueError, match="zone type"):
        resolve_zones(ZONES, ["example.com"], "both")
    assert zone_id("/hostedzone/Z1") == "Z1" and zone_id("Z1") == "Z1"
