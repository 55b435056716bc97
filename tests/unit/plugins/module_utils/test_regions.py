"""A mistyped region is refused by name before any AWS client is made."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region, known_regions, region_error


@pytest.mark.parametrize("region", ["us-west-2", "eu-central-1", "ap-southeast-4", "us-gov-west-1", "cn-north-1"])
def test_regions_of_every_partition_are_known(region):
    assert region in known_regions() and region_error(region) == ""


def test_the_regions_are_those_botocore_lists_for_ec2_in_each_partition():
    """The endpoint data read directly gives what Session.get_available_regions gives (which also parses EC2's model)."""
    import botocore.session

    session = botocore.session.get_session()
    listed = {r for p in session.get_available_partitions() for r in session.get_available_regions("ec2", p)}
    assert listed and known_regions() == listed


def test_no_region_leaves_boto3_its_default():
    assert region_error(None) == "" and region_error("") == ""


def test_a_typo_is_named_with_the_closest_region():
    message = region_error("us-wset-2")
    assert message.startswith("region: 'us-wset-2' is not an AWS region known to botocore ")
    assert message.endswith("did you mean us-west-2?")


class _Module:
    def __init__(self, region):
        self.region = region
        self.failed = None

    def fail_json(self, msg):
        self.failed = msg
        raise SystemExit(1)


def test_check_region_fails_the_module_with_the_message():
    module = _Module("mars-1")
    with pytest.raises(SystemExit):
        check_region(module)
    assert module.failed.startswith("region: 'mars-1' is not an AWS region")
    assert check_region(_Module("us-west-2")) is None
