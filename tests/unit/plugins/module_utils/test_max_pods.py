"""max_pods arithmetic against amazon-eks-ami's published values (eni-max-pods.txt and the calculator)."""
import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import max_pods as mp


def itype(name, vcpus, enis, ips, hypervisor="nitro"):
    """One describe-instance-types entry, as the API shapes it."""
    return {"InstanceType": name, "VCpuInfo": {"DefaultVCpus": vcpus}, "Hypervisor": hypervisor,
            "NetworkInfo": {"MaximumNetworkInterfaces": enis, "Ipv4AddressesPerInterface": ips}}


# name, vCPUs, ENIs, IPv4 per ENI (AWS's published limits); eni-max-pods.txt; calculator without / with prefix delegation
PUBLISHED = [
    ("m5.large", 2, 3, 10, 29, 29, 110),
    ("m5.xlarge", 4, 4, 15, 58, 58, 110),
    ("m5.4xlarge", 16, 8, 30, 234, 110, 110),
    ("m5.24xlarge", 96, 15, 50, 737, 250, 250),
    ("t3.micro", 2, 2, 2, 4, 4, 34),
    ("t3.small", 2, 3, 4, 11, 11, 110),
    ("t3.medium", 2, 3, 6, 17, 17, 110),
    ("c5.large", 2, 3, 10, 29, 29, 110),
    ("c5.18xlarge", 72, 15, 50, 737, 250, 250),
    ("r5.large", 2, 3, 10, 29, 29, 110),
]


@pytest.mark.parametrize("name,vcpus,enis,ips,raw,capped,prefix", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_values(name, vcpus, enis, ips, raw, capped, prefix):
    cap = mp.capacity(itype(name, vcpus, enis, ips))
    assert mp.max_pods(cap, vcpu_ceiling=False) == raw
    assert mp.max_pods(cap) == capped
    assert mp.max_pods(cap, prefix_delegation=True) == prefix


def test_prefix_delegation_uncapped_is_sixteen_addresses_per_slot():
    cap = mp.capacity(itype("m5.large", 2, 3, 10))
    assert mp.max_pods(cap, prefix_delegation=True, vcpu_ceiling=False) == 3 * 9 * 16 + 2


def test_prefix_delegation_ignored_off_nitro():
    cap = mp.capacity(itype("m4.large", 2, 2, 10, hypervisor="xen"))
    assert mp.max_pods(cap, prefix_delegation=True) == mp.max_pods(cap) == 20


def test_custom_networking_drops_the_primary_eni():
    cap = mp.capacity(itype("m5.large", 2, 3, 10))
    assert mp.max_pods(cap, custom_networking=True) == 2 * 9 + 2


def test_max_eni_limits_enis():
    cap = mp.capacity(itype("m5.xlarge", 4, 4, 15))
    assert mp.max_pods(cap, max_eni=1) == 16
    assert mp.max_pods(cap, max_eni=99) == 58


@pytest.mark.parametrize("vcpus,expected", [(2, 110), (30, 110), (31, 250), (96, 250)])
def test_ceiling_switches_above_thirty_vcpus(vcpus, expected):
    assert mp.ceiling(vcpus) == expected


def test_no_eni_left_is_an_error():
    cap = mp.capacity(itype("tiny", 1, 1, 2))
    with pytest.raises(ValueError, match="tiny: no ENI left"):
        mp.max_pods(cap, custom_networking=True, max_eni=0)


def test_missing_types_keeps_request_order():
    described = [itype("m5.large", 2, 3, 10)]
    assert mp.missing_types(["x9.huge", "m5.large", "a1.tiny"], described) == ["x9.huge", "a1.tiny"]


def test_describe_asks_once_for_the_distinct_types_and_returns_their_capacity(ec2):
    client, stub = ec2
    stub.add_response("describe_instance_types", {"InstanceTypes": [itype("m5.large", 2, 3, 10), itype("t3.micro", 2, 2, 2)]},
                      {"InstanceTypes": ["m5.large", "t3.micro"]})
    got = mp.describe(client, ["t3.micro", "m5.large", "t3.micro"])
    assert {name: mp.max_pods(cap) for name, cap in got.items()} == {"m5.large": 29, "t3.micro": 4}


def test_describe_names_a_type_the_region_does_not_return(ec2):
    client, stub = ec2
    stub.add_response("describe_instance_types", {"InstanceTypes": [itype("m5.large", 2, 3, 10)]},
                      {"InstanceTypes": ["m5.large", "m7x.large"]})
    with pytest.raises(mp.InstanceTypesNotFound, match="^m7x.large$"):
        mp.describe(client, ["m5.large", "m7x.large"])


def test_describe_passes_on_aws_message_for_an_unknown_type(ec2):
    client, stub = ec2
    stub.add_client_error("describe_instance_types", "InvalidInstanceType",
                          "The following supplied instance types do not exist: [x9.huge]")
    with pytest.raises(mp.InstanceTypesNotFound, match=r"x9\.huge"):
        mp.describe(client, ["x9.huge"])
