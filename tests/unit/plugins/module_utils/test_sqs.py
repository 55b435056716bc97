"""SQS queues: the pure logic (module_utils/sqs.py), then the module's calls against botocore's Stubber."""
import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.nodeless.eks.plugins.module_utils import sqs as SQS
from ansible_collections.nodeless.eks.plugins.modules import sqs_queue as module_file

NAME = "lab-interruption"
ARN = f"arn:aws:sqs:us-west-2:123456789012:{NAME}"
URL = f"https://sqs.us-west-2.amazonaws.com/123456789012/{NAME}"
POLICY = {"Version": "2012-10-17", "Id": "EC2InterruptionPolicy", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
     "Action": "sqs:SendMessage", "Resource": ARN},
    {"Sid": "DenyHTTP", "Effect": "Deny", "Action": "sqs:*", "Resource": ARN,
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Principal": "*"}]}
OPTIONS = ("message_retention_period", "visibility_timeout", "delay_seconds", "maximum_message_size",
           "receive_message_wait_time_seconds", "policy", "sse", "kms_master_key_id", "kms_data_key_reuse_period_seconds", "tags")


def params(**over):
    """The module's parameters as Ansible passes them: every option present, None when not given."""
    base = {k: None for k in OPTIONS}
    base.update(name=NAME, state="present", purge_tags=True, message_retention_period=300, policy=POLICY, sse="sqs")
    base.update(over)
    return base


def raw(**over):
    """GetQueueAttributes(All) output of the queue Karpenter's CloudFormation creates."""
    out = {"QueueArn": ARN, "ApproximateNumberOfMessages": "0", "CreatedTimestamp": "1700000000", "DelaySeconds": "0",
           "LastModifiedTimestamp": "1700000000", "MaximumMessageSize": "262144", "MessageRetentionPeriod": "300",
           "Policy": json.dumps(POLICY), "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30",
           "SqsManagedSseEnabled": "true"}
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


def current(tags=None, **over):
    return SQS.current_queue(raw(**over), tags or {}, URL)


def want(**over):
    return SQS.desired_queue(params(**over))


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", NAME, "A_b-1", "x" * 80])
def test_valid_names(name):
    assert SQS.name_error(name) is None


@pytest.mark.parametrize("name, message", [
    ("", "name: is required"),
    (None, "name: is required"),
    ("x" * 81, "name: 'xxxxx"),
    ("x" * 81, "is 81 characters long; SQS allows at most 80 (letters, digits, '-' and '_')"),
    ("has space", "name: 'has space' may contain only letters, digits, '-' and '_'"),
    ("a.b", "name: 'a.b' may contain only letters"),
    ("ünï", "may contain only letters"),
    ("orders.fifo", "name: 'orders.fifo' names a FIFO queue"),
    ("orders.fifo", "FIFO is not supported"),
])
def test_bad_names_name_the_field(name, message):
    with pytest.raises(SQS.InputError) as err:
        SQS.desired_queue(params(name=name))
    assert message in str(err.value)
    assert str(err.value).startswith("name: ")


@pytest.mark.parametrize("option, low, high", [
    ("message_retention_period", 60, 1209600),
    ("visibility_timeout", 0, 43200),
    ("delay_seconds", 0, 900),
    ("maximum_message_size", 1024, 1048576),
    ("receive_message_wait_time_seconds", 0, 20),
])
def test_numbers_outside_their_range_name_the_field_and_the_range(option, low, high):
    for bad in (low - 1, high + 1):
        with pytest.raises(SQS.InputError) as err:
            SQS.desired_queue(params(**{option: bad}))
        assert str(err.value).startswith(f"{option}: must be {low}..{high} ")
        assert str(err.value).endswith(f"not {bad}")
    for good in (low, high):
        assert SQS.desired_queue(params(**{option: good}))["attributes"][option] == good


@pytest.mark.parametrize("value", ["abc", True, 1.5, [300]])
def test_non_integers_are_refused(value):
    with pytest.raises(SQS.InputError, match="^visibility_timeout: must be an integer"):
        SQS.desired_queue(params(visibility_timeout=value))


def test_numeric_text_is_taken_as_an_int():
    assert SQS.desired_queue(params(message_retention_period=" 600 "))["attributes"]["message_retention_period"] == 600


def test_maximum_message_size_allows_the_1_mib_limit():
    assert want(maximum_message_size=1048576)["attributes"]["maximum_message_size"] == 1048576


@pytest.mark.parametrize("value, message", [
    ('{"Version": "2012-10-17"', "policy: not valid JSON"),
    ("not json at all", "policy: not valid JSON"),
    ('["a"]', "policy: must be a JSON object (a dict), not list"),
    (42, "policy: must be a JSON object (a dict), not int"),
    ({"Statement": [{1, 2}]}, "policy: cannot be written as JSON"),
])
def test_bad_policies_name_the_field(value, message):
    with pytest.raises(SQS.InputError) as err:
        SQS.desired_queue(params(policy=value))
    assert str(err.value).startswith(message)


def test_policy_text_and_dict_are_the_same_policy():
    text = json.dumps(POLICY, indent=2)
    assert want(policy=text)["attributes"]["policy"] == want(policy=POLICY)["attributes"]["policy"] == POLICY
    assert want(policy=text.encode())["attributes"]["policy"] == POLICY


@pytest.mark.parametrize("empty", ["", "  ", {}])
def test_an_empty_policy_means_no_policy(empty):
    assert want(policy=empty)["attributes"]["policy"] is None


def test_sse_choices_and_kms_key_rules():
    with pytest.raises(SQS.InputError, match="^sse: must be one of sqs, kms, none, not 'aes'"):
        want(sse="aes")
    with pytest.raises(SQS.InputError, match="^kms_master_key_id: is required when sse=kms"):
        want(sse="kms")
    with pytest.raises(SQS.InputError, match=r"^kms_master_key_id: only applies with sse=kms \(sse=sqs\)"):
        want(sse="sqs", kms_master_key_id="alias/aws/sqs")
    with pytest.raises(SQS.InputError, match=r"^kms_master_key_id: only applies with sse=kms \(not set\)"):
        want(sse=None, kms_master_key_id="alias/aws/sqs")
    with pytest.raises(SQS.InputError, match=r"^kms_data_key_reuse_period_seconds: only applies with sse=kms \(sse=none\)"):
        want(sse="none", kms_data_key_reuse_period_seconds=300)
    with pytest.raises(SQS.InputError, match="^kms_data_key_reuse_period_seconds: must be 60..86400 "):
        want(sse="kms", kms_master_key_id="alias/aws/sqs", kms_data_key_reuse_period_seconds=59)
    with pytest.raises(SQS.InputError, match="^kms_data_key_reuse_period_seconds: must be 60..86400 "):
        want(sse="kms", kms_master_key_id="alias/aws/sqs", kms_data_key_reuse_period_seconds=86401)
    kms = want(sse="kms", kms_master_key_id="alias/aws/sqs", kms_data_key_reuse_period_seconds=3600)["attributes"]
    assert (kms["sse"], kms["kms_master_key_id"], kms["kms_data_key_reuse_period_seconds"]) == ("kms", "alias/aws/sqs", 3600)
    assert "kms_master_key_id" not in want(sse="sqs")["attributes"]


@pytest.mark.parametrize("tags, message", [
    ({"aws:cloudformation:stack-name": "x"}, "tags: key 'aws:cloudformation:stack-name' starts with 'aws:'"),
    ({f"k{i}": "v" for i in range(51)}, "tags: 51 tags; SQS allows at most 50 per queue"),
    ({"k" * 129: "v"}, "tags: key 'kkk"),
    ({"team": "v" * 257}, "tags.team: value is 257 characters long"),
    (["team"], "tags: must be a dict"),
])
def test_bad_tags_name_the_field(tags, message):
    with pytest.raises(SQS.InputError) as err:
        want(tags=tags)
    assert str(err.value).startswith(message)


def test_tag_values_become_strings():
    assert want(tags={"count": 3, "empty": None})["tags"] == {"count": "3", "empty": ""}


def test_omitted_options_are_not_managed():
    got = SQS.desired_queue({"name": NAME, "state": "present", "purge_tags": True, **{k: None for k in OPTIONS}})
    assert got == {"name": NAME, "attributes": {}, "tags": None}


def test_absent_needs_only_a_valid_name():
    assert SQS.desired_queue(params(state="absent", policy="{nope", sse="kms")) == {"name": NAME}
    with pytest.raises(SQS.InputError, match="^name: "):
        SQS.desired_queue(params(state="absent", name="bad name"))


# --- SQS attributes and the canonical queue ---------------------------------------------------

def test_create_attributes_are_strings_with_sse_sqs_and_compact_policy():
    attrs = SQS.queue_attributes(want(visibility_timeout=60)["attributes"])
    assert attrs == {"MessageRetentionPeriod": "300", "VisibilityTimeout": "60", "Policy": SQS.policy_text(POLICY),
                     "SqsManagedSseEnabled": "true"}
    assert attrs["Policy"] == json.dumps(POLICY, separators=(",", ":"))  # compact JSON text


@pytest.mark.parametrize("over, expected", [
    ({"sse": "sqs"}, {"SqsManagedSseEnabled": "true"}),
    ({"sse": "none"}, {"SqsManagedSseEnabled": "false"}),
    ({"sse": "kms", "kms_master_key_id": "alias/k"}, {"KmsMasterKeyId": "alias/k", "SqsManagedSseEnabled": "false"}),
    ({"sse": "kms", "kms_master_key_id": "alias/k", "kms_data_key_reuse_period_seconds": 600},
     {"KmsMasterKeyId": "alias/k", "SqsManagedSseEnabled": "false", "KmsDataKeyReusePeriodSeconds": "600"}),
    ({"sse": None}, {}),
])
def test_sse_attributes_on_create(over, expected):
    attrs = SQS.queue_attributes(want(message_retention_period=None, policy=None, **over)["attributes"])
    assert attrs == expected


def test_no_policy_on_create_sends_no_policy_attribute():
    assert "Policy" not in SQS.queue_attributes(want(policy="")["attributes"])


def test_current_queue_is_canonical():
    queue = current(tags={"team": "platform"})
    assert queue == {"name": NAME, "url": URL, "arn": ARN, "tags": {"team": "platform"}, "attributes": {
        "message_retention_period": 300, "visibility_timeout": 30, "delay_seconds": 0, "maximum_message_size": 262144,
        "receive_message_wait_time_seconds": 0, "policy": POLICY, "sse": "sqs", "kms_master_key_id": None,
        "kms_data_key_reuse_period_seconds": None}}
    assert tuple(queue["attributes"]) == SQS.ATTRIBUTE_KEYS


@pytest.mark.parametrize("over, sse, key, reuse", [
    ({}, "sqs", None, None),
    ({"SqsManagedSseEnabled": "false"}, "none", None, None),
    ({"SqsManagedSseEnabled": None}, "none", None, None),  # regions that do not report it
    ({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/k", "KmsDataKeyReusePeriodSeconds": "300"}, "kms", "alias/k", 300),
    ({"KmsMasterKeyId": "alias/k", "KmsDataKeyReusePeriodSeconds": "300"}, "kms", "alias/k", 300),  # moto keeps SSE-SQS 'true'
    ({"SqsManagedSseEnabled": "true", "KmsMasterKeyId": "", "KmsDataKeyReusePeriodSeconds": "300"}, "sqs", None, None),
])
def test_sse_read_from_attributes(over, sse, key, reuse):
    attrs = current(**over)["attributes"]
    assert (attrs["sse"], attrs["kms_master_key_id"], attrs["kms_data_key_reuse_period_seconds"]) == (sse, key, reuse)


def test_name_from_url_when_the_arn_is_missing_and_unparsable_policy_kept():
    queue = SQS.current_queue({"Policy": "{nope"}, None, URL + "/")
    assert queue["name"] == NAME and queue["arn"] is None and queue["tags"] == {}
    assert queue["attributes"]["policy"] == {"unparsable": "{nope"}
    assert queue["attributes"]["visibility_timeout"] is None


def test_queue_arn():
    assert SQS.queue_arn("aws-cn", "cn-north-1", "123456789012", "q") == "arn:aws-cn:sqs:cn-north-1:123456789012:q"


# --- planning ---------------------------------------------------------------------------------

def test_creating_sends_every_managed_attribute_and_the_tags_once():
    wanted = want(tags={"team": "platform"})
    steps = SQS.plan(None, wanted)
    assert steps == {"create": True, "fields": ["message_retention_period", "policy", "sse"],
                     "attributes": {"MessageRetentionPeriod": "300", "Policy": SQS.policy_text(POLICY), "SqsManagedSseEnabled": "true"},
                     "set_tags": {"team": "platform"}, "unset_tags": []}
    assert SQS.changes(wanted, steps, None, "present") == [{"resource": f"aws:sqs-queue/{NAME}", "action": "add"}]
    after = SQS.after_queue(None, wanted, steps, URL, ARN)
    assert after["attributes"]["message_retention_period"] == 300 and after["attributes"]["policy"] == POLICY
    assert after["attributes"]["sse"] == "sqs" and after["attributes"]["visibility_timeout"] is None  # SQS's default
    assert after == {"name": NAME, "url": URL, "arn": ARN, "attributes": after["attributes"], "tags": {"team": "platform"}}
    assert SQS.after_queue(None, wanted, steps, None, ARN)["url"] is None  # check mode: no URL yet


def test_equal_state_is_no_change():
    wanted = want(tags={"team": "platform"}, visibility_timeout=30, delay_seconds=0, maximum_message_size=262144,
                  receive_message_wait_time_seconds=0)
    have = current(tags={"team": "platform"})
    steps = SQS.plan(have, wanted)
    assert SQS.is_noop(steps) and steps["attributes"] == {} and steps["fields"] == []
    assert SQS.changes(wanted, steps, have, "present") == []
    assert SQS.after_queue(have, wanted, steps) == have


def test_policy_with_other_key_order_and_whitespace_is_no_drift():
    reordered = {"Statement": [dict(reversed(list(s.items()))) for s in POLICY["Statement"]],
                 "Id": POLICY["Id"], "Version": POLICY["Version"]}
    text = json.dumps(reordered, indent=4, sort_keys=True)
    assert SQS.is_noop(SQS.plan(current(), want(policy=text)))
    assert SQS.is_noop(SQS.plan(current(Policy=json.dumps(POLICY, separators=(",", ":"))), want()))


def test_policy_values_count_statement_order_does_not():
    # Compared as IAM reads a policy (amazon.aws compare_policies): statement order means nothing there.
    swapped = dict(POLICY, Statement=list(reversed(POLICY["Statement"])))
    assert SQS.is_noop(SQS.plan(current(), want(policy=swapped)))
    other = json.loads(json.dumps(POLICY))
    other["Statement"][0]["Action"] = "sqs:*"
    assert SQS.plan(current(), want(policy=other))["attributes"] == {"Policy": SQS.policy_text(other)}


def test_policy_removed_with_an_empty_policy_and_added_when_missing():
    steps = SQS.plan(current(), want(policy={}))
    assert steps["attributes"] == {"Policy": ""} and steps["fields"] == ["policy"]
    assert SQS.after_queue(current(), want(policy={}), steps)["attributes"]["policy"] is None
    assert SQS.is_noop(SQS.plan(current(Policy=None), want(policy="")))
    assert SQS.plan(current(Policy=None), want())["attributes"] == {"Policy": SQS.policy_text(POLICY)}
    assert SQS.plan(current(Policy="{nope"), want())["fields"] == ["policy"]


def test_a_different_retention_sets_only_that_attribute():
    wanted = want(message_retention_period=600)
    steps = SQS.plan(current(), wanted)
    assert steps["attributes"] == {"MessageRetentionPeriod": "600"} and steps["fields"] == ["message_retention_period"]
    assert SQS.changes(wanted, steps, current(), "present") == [
        {"resource": f"aws:sqs-queue/{NAME}", "action": "change", "detail": "message_retention_period"}]
    after = SQS.after_queue(current(), wanted, steps)
    assert after["attributes"] == dict(current()["attributes"], message_retention_period=600)


def test_numbers_compared_as_ints():
    have = current(VisibilityTimeout="030", MaximumMessageSize="1048576")
    assert SQS.is_noop(SQS.plan(have, want(visibility_timeout="30", maximum_message_size=1048576)))


def test_every_number_option_maps_to_its_attribute():
    wanted = want(visibility_timeout=45, delay_seconds=5, maximum_message_size=2048, receive_message_wait_time_seconds=20)
    steps = SQS.plan(current(), wanted)
    assert steps["attributes"] == {"VisibilityTimeout": "45", "DelaySeconds": "5", "MaximumMessageSize": "2048",
                                   "ReceiveMessageWaitTimeSeconds": "20"}
    assert SQS.detail(steps) == "visibility_timeout; delay_seconds; maximum_message_size; receive_message_wait_time_seconds"


def test_unmanaged_options_are_never_drift():
    have = current(VisibilityTimeout="900", DelaySeconds="10", MaximumMessageSize="2048", ReceiveMessageWaitTimeSeconds="20",
                   MessageRetentionPeriod="86400", Policy=json.dumps({"Statement": []}), SqsManagedSseEnabled="false",
                   RedrivePolicy='{"deadLetterTargetArn": "arn:aws:sqs:us-west-2:123456789012:dlq", "maxReceiveCount": 3}')
    nothing = want(message_retention_period=None, policy=None, sse=None)
    assert nothing["attributes"] == {}
    assert SQS.is_noop(SQS.plan(have, nothing))
    assert SQS.after_queue(have, nothing, SQS.plan(have, nothing)) == have
    assert SQS.plan(have, want(policy=None, sse=None))["attributes"] == {"MessageRetentionPeriod": "300"}


@pytest.mark.parametrize("have, over, attributes, fields", [
    ({}, {"sse": "sqs"}, {}, []),
    ({}, {"sse": "none"}, {"SqsManagedSseEnabled": "false"}, ["sse"]),
    ({"SqsManagedSseEnabled": "false"}, {"sse": "sqs"}, {"SqsManagedSseEnabled": "true"}, ["sse"]),
    ({"SqsManagedSseEnabled": "false"}, {"sse": "none"}, {}, []),
    ({}, {"sse": "kms", "kms_master_key_id": "alias/k"}, {"KmsMasterKeyId": "alias/k", "SqsManagedSseEnabled": "false"}, ["sse"]),
    ({"SqsManagedSseEnabled": "false"}, {"sse": "kms", "kms_master_key_id": "alias/k"}, {"KmsMasterKeyId": "alias/k"}, ["sse"]),
    ({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/k", "KmsDataKeyReusePeriodSeconds": "300"},
     {"sse": "kms", "kms_master_key_id": "alias/k"}, {}, []),
    ({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/k", "KmsDataKeyReusePeriodSeconds": "300"},
     {"sse": "kms", "kms_master_key_id": "alias/k", "kms_data_key_reuse_period_seconds": 300}, {}, []),
    ({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/k", "KmsDataKeyReusePeriodSeconds": "300"},
     {"sse": "kms", "kms_master_key_id": "alias/other"}, {"KmsMasterKeyId": "alias/other"}, ["kms_master_key_id"]),
    ({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/k", "KmsDataKeyReusePeriodSeconds": "300"},
     {"sse": "kms", "kms_master_key_id": "alias/k", "kms_data_key_reuse_period_seconds": 3600},
     {"KmsDataKeyReusePeriodSeconds": "3600"}, ["kms_data_key_reuse_period_seconds"]),
    ({}, {"sse": "kms", "kms_master_key_id": "alias/k", "kms_data_key_reuse_period_seconds": 300},
     {"KmsMasterKeyId": "alias/k", "SqsManagedSseEnabled": "false", "KmsDataKeyReusePeriodSeconds": "300"},
     ["sse", "kms_data_key_reuse_period_seconds"]),
    ({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/k"}, {"sse": "sqs"},
     {"SqsManagedSseEnabled": "true", "KmsMasterKeyId": ""}, ["sse"]),
    ({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/k"}, {"sse": "none"}, {"KmsMasterKeyId": "", "SqsManagedSseEnabled": "false"},
     ["sse"]),
])
def test_sse_changes(have, over, attributes, fields):
    queue = current(**have)
    wanted = want(**over)
    steps = SQS.plan(queue, wanted)
    assert steps["attributes"] == attributes and steps["fields"] == fields
    after = SQS.after_queue(queue, wanted, steps)["attributes"]
    assert after["sse"] == over["sse"]
    assert after["kms_master_key_id"] == over.get("kms_master_key_id")
    if over["sse"] != "kms":
        assert after["kms_data_key_reuse_period_seconds"] is None


def test_kms_reuse_period_kept_when_not_given_and_unknown_when_switching():
    kms = current(SqsManagedSseEnabled="false", KmsMasterKeyId="alias/k", KmsDataKeyReusePeriodSeconds="600")
    wanted = want(sse="kms", kms_master_key_id="alias/other")
    assert SQS.after_queue(kms, wanted, SQS.plan(kms, wanted))["attributes"]["kms_data_key_reuse_period_seconds"] == 600
    wanted = want(sse="kms", kms_master_key_id="alias/k")
    assert SQS.after_queue(current(), wanted, SQS.plan(current(), wanted))["attributes"]["kms_data_key_reuse_period_seconds"] is None


def test_tags_purged_only_when_asked_and_aws_tags_kept():
    have = current(tags={"team": "a", "old": "x", "aws:cloudformation:stack-name": "y"})
    wanted = want(tags={"team": "b"})
    steps = SQS.plan(have, wanted, purge_tags=True)
    assert steps["set_tags"] == {"team": "b"} and steps["unset_tags"] == ["old"] and steps["attributes"] == {}
    assert SQS.after_queue(have, wanted, steps)["tags"] == {"team": "b", "aws:cloudformation:stack-name": "y"}
    assert SQS.changes(wanted, steps, have, "present") == [{"resource": f"aws:sqs-queue/{NAME}", "action": "change", "detail": "tags"}]
    kept = SQS.plan(have, wanted, purge_tags=False)
    assert kept["unset_tags"] == [] and kept["set_tags"] == {"team": "b"} and SQS.detail(kept) == "tags"
    assert SQS.is_noop(SQS.plan(have, want(tags=None)))
    everything = SQS.plan(have, want(tags={}))
    assert everything["unset_tags"] == ["old", "team"] and everything["set_tags"] == {}


def test_detail_lists_attributes_then_tags():
    steps = SQS.plan(current(tags={"a": "1"}), want(message_retention_period=600, sse="none", tags={"a": "2"}))
    assert SQS.detail(steps) == "message_retention_period; sse; tags"
    assert steps["attributes"] == {"MessageRetentionPeriod": "600", "SqsManagedSseEnabled": "false"}


def test_absent_removes_only_an_existing_queue():
    wanted = SQS.desired_queue(params(state="absent"))
    assert SQS.changes(wanted, None, current(), "absent") == [{"resource": f"aws:sqs-queue/{NAME}", "action": "remove"}]
    assert SQS.changes(wanted, None, None, "absent") == []


# --- the module's calls (botocore Stubber) ----------------------------------------------------

class FakeModule:
    """What ensure_present / ensure_absent use of AnsibleAWSModule."""

    def __init__(self, sts=None, check_mode=False, purge_tags=True):
        self.check_mode = check_mode
        self.params = {"purge_tags": purge_tags}
        self.region = "us-west-2"
        self._sts = sts

    def client(self, service, retry_decorator=None):
        assert service == "sts" and self._sts is not None, f"unexpected client {service}"
        return self._sts


def _client(service):
    client = boto3.client(service, region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


@pytest.fixture
def aws():
    """(sqs wrapper, sqs stubber, sts wrapper, sts stubber): any call not stubbed fails the test."""
    sqs_client, sqs_stub = _client("sqs")
    sts_client, sts_stub = _client("sts")
    with sqs_stub, sts_stub:
        retry = AWSRetry.jittered_backoff(retries=1)
        yield (RetryingBotoClientWrapper(sqs_client, retry), sqs_stub, RetryingBotoClientWrapper(sts_client, retry), sts_stub)
        sqs_stub.assert_no_pending_responses()
        sts_stub.assert_no_pending_responses()


def _missing(stub):
    stub.add_client_error("get_queue_url", service_error_code="AWS.SimpleQueueService.NonExistentQueue",
                          service_message="The specified queue does not exist.", http_status_code=400,
                          expected_params={"QueueName": NAME})


def _reads(stub, attributes=None, tags=None):
    stub.add_response("get_queue_url", {"QueueUrl": URL}, {"QueueName": NAME})
    stub.add_response("get_queue_attributes", {"Attributes": attributes or raw()}, {"QueueUrl": URL, "AttributeNames": ["All"]})
    stub.add_response("list_queue_tags", {"Tags": tags or {}}, {"QueueUrl": URL})


def test_missing_queue_reads_as_none_for_either_error_code(aws):
    client, stub, _sts, _unused = aws
    _missing(stub)
    stub.add_client_error("get_queue_url", service_error_code="QueueDoesNotExist", http_status_code=400)
    assert module_file.read_queue(client, NAME) is None
    assert module_file.read_queue(client, NAME) is None


def test_other_errors_are_reported_not_taken_for_a_missing_queue(aws):
    client, stub, _sts, _unused = aws
    stub.add_client_error("get_queue_url", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(module_file.AnsibleAWSError, match="Failed to find the SQS queue"):
        module_file.read_queue(client, NAME)


def test_create_is_one_create_queue_call_with_attributes_and_tags(aws):
    client, stub, _sts, _unused = aws
    _missing(stub)
    wanted = want(tags={"team": "platform"})
    stub.add_response("create_queue", {"QueueUrl": URL}, {
        "QueueName": NAME, "tags": {"team": "platform"},
        "Attributes": {"MessageRetentionPeriod": "300", "Policy": SQS.policy_text(POLICY), "SqsManagedSseEnabled": "true"}})
    stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": ARN}}, {"QueueUrl": URL, "AttributeNames": ["QueueArn"]})
    current_queue = module_file.read_queue(client, NAME)
    changed, after, entries = module_file.ensure_present(FakeModule(), client, wanted, current_queue)
    assert changed and entries == [{"resource": f"aws:sqs-queue/{NAME}", "action": "add"}]
    assert after["url"] == URL and after["arn"] == ARN and after["tags"] == {"team": "platform"}
    assert after["attributes"]["sse"] == "sqs" and after["attributes"]["message_retention_period"] == 300


def test_check_mode_create_writes_nothing_and_predicts_the_arn(aws):
    client, stub, sts, sts_stub = aws
    _missing(stub)
    sts_stub.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/lab",
                                                  "UserId": "AIDA"}, {})
    wanted = want(tags={"team": "platform"})
    changed, after, entries = module_file.ensure_present(FakeModule(sts, check_mode=True), client, wanted,
                                                         module_file.read_queue(client, NAME))
    assert changed and entries == [{"resource": f"aws:sqs-queue/{NAME}", "action": "add"}]
    assert after["arn"] == ARN and after["url"] is None
    assert after == SQS.after_queue(None, wanted, SQS.plan(None, wanted), None, ARN)


def test_rerun_with_equal_state_makes_no_write_call(aws):
    client, stub, _sts, _unused = aws
    _reads(stub, tags={"team": "platform", "aws:cloudformation:stack-name": "x"})
    changed, after, entries = module_file.ensure_present(FakeModule(), client, want(tags={"team": "platform"}),
                                                         module_file.read_queue(client, NAME))
    assert (changed, entries) == (False, [])
    assert after["attributes"]["policy"] == POLICY


def test_a_different_retention_is_one_set_queue_attributes_call_with_that_attribute_only(aws):
    client, stub, _sts, _unused = aws
    _reads(stub, tags={"team": "platform"})
    stub.add_response("set_queue_attributes", {}, {"QueueUrl": URL, "Attributes": {"MessageRetentionPeriod": "600"}})
    wanted = want(message_retention_period=600, tags={"team": "platform"})
    changed, after, entries = module_file.ensure_present(FakeModule(), client, wanted, module_file.read_queue(client, NAME))
    assert changed and entries == [{"resource": f"aws:sqs-queue/{NAME}", "action": "change", "detail": "message_retention_period"}]
    assert after["attributes"]["message_retention_period"] == 600


def test_check_mode_change_reports_the_same_and_writes_nothing(aws):
    client, stub, _sts, _unused = aws
    _reads(stub)
    _reads(stub)
    stub.add_response("set_queue_attributes", {}, {"QueueUrl": URL, "Attributes": {"MessageRetentionPeriod": "600"}})
    wanted = want(message_retention_period=600)
    check = module_file.ensure_present(FakeModule(check_mode=True), client, wanted, module_file.read_queue(client, NAME))
    real = module_file.ensure_present(FakeModule(), client, wanted, module_file.read_queue(client, NAME))
    assert check == real


def test_tags_are_untagged_then_tagged_on_an_existing_queue(aws):
    client, stub, _sts, _unused = aws
    _reads(stub, tags={"team": "a", "old": "x"})
    stub.add_response("untag_queue", {}, {"QueueUrl": URL, "TagKeys": ["old"]})
    stub.add_response("tag_queue", {}, {"QueueUrl": URL, "Tags": {"team": "b"}})
    changed, after, _entries = module_file.ensure_present(FakeModule(), client, want(tags={"team": "b"}),
                                                          module_file.read_queue(client, NAME))
    assert changed and after["tags"] == {"team": "b"}


def test_absent_deletes_an_existing_queue_once_and_a_missing_one_never(aws):
    client, stub, _sts, _unused = aws
    _reads(stub)
    stub.add_response("delete_queue", {}, {"QueueUrl": URL})
    wanted = SQS.desired_queue(params(state="absent"))
    changed, after, entries = module_file.ensure_absent(FakeModule(), client, wanted, module_file.read_queue(client, NAME))
    assert (changed, after, entries) == (True, {}, [{"resource": f"aws:sqs-queue/{NAME}", "action": "remove"}])
    _missing(stub)
    assert module_file.ensure_absent(FakeModule(), client, wanted, module_file.read_queue(client, NAME)) == (False, {}, [])
    _reads(stub)
    assert module_file.ensure_absent(FakeModule(check_mode=True), client, wanted, module_file.read_queue(client, NAME))[0] is True


def test_a_queue_deleted_between_reads_is_missing_and_a_delete_race_is_no_error(aws):
    client, stub, _sts, _unused = aws
    stub.add_response("get_queue_url", {"QueueUrl": URL}, {"QueueName": NAME})
    stub.add_client_error("get_queue_attributes", service_error_code="AWS.SimpleQueueService.NonExistentQueue", http_status_code=400)
    assert module_file.read_queue(client, NAME) is None
    stub.add_client_error("delete_queue", service_error_code="AWS.SimpleQueueService.NonExistentQueue", http_status_code=400)
    assert module_file.delete_queue(client, URL) is False


# --- main(): the argument spec and the one error path ------------------------------------------

def _run_main(args, monkeypatch, capsys, client=None):
    if client is not None:
        monkeypatch.setattr(module_file.AnsibleAWSModule, "client", lambda self, service, retry_decorator=None: client)
    with patch_module_args(dict({"region": "us-west-2"}, **args)):
        with pytest.raises(SystemExit):
            module_file.main()
    return json.loads(capsys.readouterr().out)


def test_main_fails_on_bad_input_before_any_client(monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("no AWS client may be made for bad input")
    monkeypatch.setattr(module_file.AnsibleAWSModule, "client", no_client)
    out = _run_main({"name": NAME, "sse": "kms"}, monkeypatch, capsys)
    assert out["failed"] and out["msg"].startswith("kms_master_key_id: is required when sse=kms")
    out = _run_main({"name": NAME, "message_retention_period": 30}, monkeypatch, capsys)
    assert out["msg"].startswith("message_retention_period: must be 60..1209600")


def test_main_reports_queue_changes_and_diff(aws, monkeypatch, capsys):
    client, stub, _sts, _unused = aws
    _reads(stub)
    stub.add_response("set_queue_attributes", {}, {"QueueUrl": URL, "Attributes": {"MessageRetentionPeriod": "600"}})
    out = _run_main({"name": NAME, "message_retention_period": 600, "policy": json.dumps(POLICY), "sse": "sqs"},
                    monkeypatch, capsys, client)
    assert out["changed"] is True
    assert out["changes"] == [{"resource": f"aws:sqs-queue/{NAME}", "action": "change", "detail": "message_retention_period"}]
    assert out["diff"]["before"]["attributes"]["message_retention_period"] == 300
    assert out["diff"]["after"] == out["queue"] and out["queue"]["attributes"]["message_retention_period"] == 600


def test_main_turns_aws_errors_into_one_failure(aws, monkeypatch, capsys):
    client, stub, _sts, _unused = aws
    stub.add_client_error("get_queue_url", service_error_code="AccessDenied", service_message="no", http_status_code=403)
    out = _run_main({"name": NAME}, monkeypatch, capsys, client)
    assert out["failed"] and "Failed to find the SQS queue" in out["msg"]
    assert out["error"]["code"] == "AccessDenied"
