"""convergence_record's SQS queue and EventBridge rule reads (issue #23), against botocore's Stubber: GetQueueUrl and one
GetQueueAttributes per queue, one paginated ListRules per name prefix; what each digest keeps."""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.module_utils.convergence_reads import rule_entries, sqs_entries

URL = "https://sqs.us-west-2.amazonaws.com/123456789012/lab"
ATTRIBUTES = {"QueueArn": "arn:aws:sqs:us-west-2:123456789012:lab", "MessageRetentionPeriod": "300", "SqsManagedSseEnabled": "true",
              "Policy": '{"Version": "2012-10-17"}', "ApproximateNumberOfMessages": "0"}
RULE = {"Name": "lab-spot-interruption", "Arn": "arn:aws:events:us-west-2:123456789012:rule/lab-spot-interruption",
        "EventPattern": '{"source": ["aws.ec2"]}', "State": "ENABLED", "EventBusName": "default"}


def _client(service):
    client = boto3.client(service, region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


@pytest.fixture
def sqs():
    client, stub = _client("sqs")
    with stub:
        yield RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1)), stub
        stub.assert_no_pending_responses()


@pytest.fixture
def events():
    client, stub = _client("events")
    with stub:
        yield RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1)), stub
        stub.assert_no_pending_responses()


def test_a_queue_is_read_with_one_attributes_call_and_its_message_counts_left_out(sqs):
    client, stub = sqs
    stub.add_client_error("get_queue_url", "AWS.SimpleQueueService.NonExistentQueue", http_status_code=400, expected_params={"QueueName": "gone"})
    stub.add_response("get_queue_url", {"QueueUrl": URL}, {"QueueName": "lab"})
    stub.add_response("get_queue_attributes", {"Attributes": ATTRIBUTES}, {"QueueUrl": URL, "AttributeNames": ["All"]})
    entries = sqs_entries(client, ["lab", "gone"])
    assert entries == [C.aws_entry("sqs_queue", "lab", {k: v for k, v in ATTRIBUTES.items() if k != "ApproximateNumberOfMessages"})]
    assert C.aws_entry("sqs_queue", "lab", C.sqs_queue(dict(ATTRIBUTES, ApproximateNumberOfMessages="7"))) == entries[0]
    assert C.missing_ids([{"type": "sqs_queue", "ids": ["lab", "gone"]}], entries) == ["aws[0].ids: sqs_queue not found: gone"]


def test_another_error_reading_a_queue_is_raised(sqs):
    client, stub = sqs
    stub.add_client_error("get_queue_url", "AccessDenied", http_status_code=403, expected_params={"QueueName": "lab"})
    with pytest.raises(Exception, match="AccessDenied"):
        sqs_entries(client, ["lab"])


def test_rules_under_a_prefix_are_one_paginated_read_and_one_entry(events):
    client, stub = events
    other = dict(RULE, Name="lab-rebalance", Arn=RULE["Arn"].replace("spot-interruption", "rebalance"))
    stub.add_response("list_rules", {"Rules": [RULE], "NextToken": "t1"}, {"NamePrefix": "lab-"})
    stub.add_response("list_rules", {"Rules": [other]}, {"NamePrefix": "lab-", "NextToken": "t1"})
    entries = rule_entries(client, ["lab-"])
    assert entries == [C.aws_entry("eventbridge_rules", "lab-", C.eventbridge_rules([RULE, other]))]
    # a rule deleted, or disabled, changes the digest
    assert C.aws_entry("eventbridge_rules", "lab-", C.eventbridge_rules([other]))["sha256"] != entries[0]["sha256"]
    assert C.aws_entry("eventbridge_rules", "lab-", C.eventbridge_rules([dict(RULE, State="DISABLED"), other]))["sha256"] != entries[0]["sha256"]
