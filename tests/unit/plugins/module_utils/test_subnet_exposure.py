from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import private_subnets
from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import subnet_exposure

PUBLIC_RT = {"id": "rtb-pub", "routes": [{"destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw-1"}],
             "associations": [{"subnet_id": "subnet-pub-a", "main": False}]}
NAT_RT = {"id": "rtb-nat", "routes": [{"destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1", "gateway_id": None}],
          "associations": [{"subnet_id": "subnet-priv-a", "main": False}]}
MAIN_LOCAL = {"id": "rtb-main", "routes": [{"destination_cidr_block": "10.0.0.0/16", "gateway_id": "local"}],
              "associations": [{"main": True}]}


def test_internet_gateway_route_makes_a_subnet_public_and_nat_keeps_it_private():
    got = subnet_exposure([PUBLIC_RT, NAT_RT, MAIN_LOCAL], ["subnet-pub-a", "subnet-priv-a"])
    assert got == {"subnet-pub-a": "public", "subnet-priv-a": "private"}


def test_unassociated_subnet_follows_the_main_table():
    assert subnet_exposure([MAIN_LOCAL], ["subnet-x"]) == {"subnet-x": "private"}
    main_public = dict(PUBLIC_RT, associations=[{"main": True}])
    assert subnet_exposure([main_public, NAT_RT], ["subnet-x", "subnet-priv-a"]) == {"subnet-x": "public", "subnet-priv-a": "private"}


def test_ipv6_default_route_to_igw_is_public_and_boto3_shapes_are_read():
    table = {"RouteTableId": "rtb-6", "Routes": [{"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-9"}],
             "Associations": [{"SubnetId": "subnet-6", "Main": False}]}
    assert subnet_exposure([table], ["subnet-6"]) == {"subnet-6": "public"}


def test_private_subnets_keeps_the_given_order():
    subnets = ["subnet-priv-a", "subnet-pub-a", "subnet-y"]
    assert private_subnets([PUBLIC_RT, NAT_RT, MAIN_LOCAL], subnets) == ["subnet-priv-a", "subnet-y"]
