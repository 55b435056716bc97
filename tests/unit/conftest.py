"""Fixtures every unit test directory shares: boto3 clients answered by botocore's Stubber, wrapped the way the
modules wrap theirs (amazon.aws's RetryingBotoClientWrapper with AWSRetry.jittered_backoff, one retry), so a
test queues the exact calls and responses and fails on any call left unanswered or unmade."""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper


def _stubbed(service: str, region: str):
    client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1)), stub
        stub.assert_no_pending_responses()


@pytest.fixture
def eks():
    """(wrapped EKS client, its Stubber)."""
    yield from _stubbed("eks", "us-west-2")


@pytest.fixture
def iam():
    """(wrapped IAM client, its Stubber)."""
    yield from _stubbed("iam", "us-east-1")


@pytest.fixture
def ec2():
    """(wrapped EC2 client, its Stubber)."""
    yield from _stubbed("ec2", "us-west-2")
