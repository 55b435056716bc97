#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sqs_queue
short_description: Manage one Amazon SQS standard queue, its encryption, policy and tags, with check mode
version_added: 0.1.0
description:
  - Creates, updates or deletes one Amazon SQS standard queue (FIFO queues are not supported).
  - Manages the queue's retention, visibility timeout, delivery delay, maximum message size, long polling
    wait time, access policy, server-side encryption (SSE-SQS with O(sse=sqs), SSE-KMS with O(sse=kms), or
    none) and tags.
  - Reads the queue (its URL, attributes and tags) first, compares them with the input and writes only what
    differs, in one C(SetQueueAttributes) call holding only the differing attributes; a second run with the
    same input makes no write call. A new queue is created with its attributes and tags in one C(CreateQueue) call.
  - Options that are omitted are not managed; whatever value the queue has for them is left as it is.
  - The policy is compared as parsed JSON, not as text; key order and whitespace do not matter, array order does.
  - Supports check mode (no write call; the same C(changed) and C(changes) as the real run) and diff mode;
    returns C(changes), one entry per queue added, changed or removed.
  - Input is validated before any call; messages name the field, for example C(message_retention_period).
author:
  - nodeless.eks contributors (@nodeless)
options:
  name:
    description:
      - Name of the queue (1 to 80 letters, digits, C(-) or C(_)).
      - A name ending in C(.fifo) (a FIFO queue) is refused.
    type: str
    required: true
  state:
    description: Whether the queue exists. C(absent) deletes the queue and the messages in it.
    type: str
    choices: [present, absent]
    default: present
  message_retention_period:
    description: How long SQS keeps a message, in seconds (60 to 1209600, that is 1 minute to 14 days).
    type: int
  visibility_timeout:
    description: How long a received message stays hidden from other consumers, in seconds (0 to 43200).
    type: int
  delay_seconds:
    description: How long every new message is delayed before it can be received, in seconds (0 to 900).
    type: int
  maximum_message_size:
    description: The largest message the queue accepts, in bytes (1024 to 1048576).
    type: int
  receive_message_wait_time_seconds:
    description: How long a C(ReceiveMessage) call waits for a message to arrive (long polling), in seconds (0 to 20).
    type: int
  policy:
    description:
      - The queue's access policy, as a dict or as JSON text. Compared as parsed JSON.
      - An empty dict or an empty string removes the queue's policy.
    type: raw
  sse:
    description:
      - Server-side encryption of the queue's messages.
      - C(sqs) is SSE-SQS (keys owned by SQS, C(SqsManagedSseEnabled=true)), C(kms) is SSE-KMS with
        O(kms_master_key_id), C(none) switches encryption off.
      - SQS allows one kind of encryption at a time; switching between them turns the other one off.
    type: str
    choices: [sqs, kms, none]
  kms_master_key_id:
    description:
      - The KMS key for SSE-KMS (key id, key ARN, alias name or alias ARN, for example C(alias/aws/sqs)).
      - Required when O(sse=kms); refused otherwise. Compared as text, as SQS stores it.
    type: str
  kms_data_key_reuse_period_seconds:
    description:
      - With O(sse=kms), how long SQS reuses a data key before calling KMS again, in seconds (60 to 86400).
      - Refused unless O(sse=kms).
    type: int
  tags:
    description:
      - Tags of the queue (at most 50). When omitted, tags are left as they are.
      - With O(purge_tags=true), tags not listed here are removed (tags starting with C(aws:) are kept).
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags). Has no effect when O(tags) is omitted.
    type: bool
    default: true
notes:
  - The ARN of a queue that check mode would create is predicted from the caller's account (one STS read call);
    its URL is known only once it exists (C(null) in check mode).
  - Attributes this module does not manage (a redrive policy, for example) are never written.
  - SQS refuses to create a queue within 60 seconds of deleting one of the same name; the module retries
    C(CreateQueue) in that case.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Karpenter's interruption queue, as upstream's CloudFormation creates it
  nodeless.eks.sqs_queue:
    name: prod-eu
    message_retention_period: 300
    sse: sqs
    policy:
      Version: "2012-10-17"
      Id: EC2InterruptionPolicy
      Statement:
        - Effect: Allow
          Principal: {Service: [events.amazonaws.com, sqs.amazonaws.com]}
          Action: sqs:SendMessage
          Resource: arn:aws:sqs:eu-west-1:123456789012:prod-eu
    tags:
      nodeless.eks/cluster: prod-eu
    purge_tags: false
    region: eu-west-1
  register: queue

- name: A queue encrypted with a KMS key, policy given as JSON text
  nodeless.eks.sqs_queue:
    name: orders
    visibility_timeout: 120
    receive_message_wait_time_seconds: 20
    sse: kms
    kms_master_key_id: alias/orders
    kms_data_key_reuse_period_seconds: 3600
    policy: "{{ lookup('ansible.builtin.file', 'orders-queue-policy.json') }}"

- name: Remove the queue and its messages
  nodeless.eks.sqs_queue:
    name: prod-eu
    state: absent
"""

RETURN = r"""
queue:
  description: The queue as it is after the run (in check mode, as it would be). Empty when O(state=absent).
  type: dict
  returned: always
  contains:
    name:
      description: Name of the queue.
      type: str
      sample: prod-eu
    url:
      description: URL of the queue (C(null) in check mode when the queue does not exist yet).
      type: str
      sample: https://sqs.eu-west-1.amazonaws.com/123456789012/prod-eu
    arn:
      description: ARN of the queue (predicted in check mode when the queue does not exist yet).
      type: str
      sample: arn:aws:sqs:eu-west-1:123456789012:prod-eu
    attributes:
      description:
        - The queue's attributes in canonical form, keyed by this module's option names. Numbers are ints,
          C(policy) is the parsed policy (C(null) when the queue has none), C(sse) is C(sqs), C(kms) or C(none).
        - For a queue just created (or to be created), options not given are C(null) (SQS's defaults).
      type: dict
      sample:
        message_retention_period: 300
        visibility_timeout: 30
        delay_seconds: 0
        maximum_message_size: 1048576
        receive_message_wait_time_seconds: 0
        policy: {"Version": "2012-10-17", "Statement": []}
        sse: sqs
        kms_master_key_id: null
        kms_data_key_reuse_period_seconds: null
    tags:
      description: Tags of the queue.
      type: dict
      sample: {"nodeless.eks/cluster": "prod-eu"}
changes:
  description: One entry per queue added, changed or removed (see module_utils/changes.py), the same in check mode.
  type: list
  elements: dict
  returned: always
  sample: [{"resource": "aws:sqs-queue/prod-eu", "action": "change", "detail": "message_retention_period; sse"}]
diff:
  description: The queue before and after (the canonical form of RV(queue)).
  type: dict
  returned: always
  contains:
    before:
      description: The queue before the run; empty when it did not exist.
      type: dict
    after:
      description: The queue after the run; empty when O(state=absent).
      type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import sqs
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region

# SQS refuses CreateQueue for 60 seconds after a queue of the same name was deleted: retried.
DELETED_RECENTLY = ["AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"]


class SQSErrorHandler(AWSErrorHandler):
    """Botocore errors become AnsibleAWSError (one error path); a missing queue reads as None."""

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(list(sqs.MISSING_CODES))


@SQSErrorHandler.list_error_handler("find the SQS queue")
def get_queue_url(client, name):
    return client.get_queue_url(QueueName=name, aws_retry=True)["QueueUrl"]


@SQSErrorHandler.list_error_handler("read the SQS queue's attributes")
def get_attributes(client, url, names=("All",)):
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=list(names), aws_retry=True).get("Attributes") or {}


@SQSErrorHandler.list_error_handler("list the SQS queue's tags", default_value={})
def list_tags(client, url):
    return client.list_queue_tags(QueueUrl=url, aws_retry=True).get("Tags") or {}


def read_queue(client, name):
    """The canonical queue, or None when it does not exist (three read calls when it does)."""
    url = get_queue_url(client, name)
    if not url:
        return None
    attributes = get_attributes(client, url)
    if attributes is None:  # deleted in between
        return None
    return sqs.current_queue(attributes, list_tags(client, url), url)


@SQSErrorHandler.common_error_handler("create the SQS queue")
def create_queue(client, name, attributes, tags):
    kwargs = {"QueueName": name, "Attributes": attributes, "aws_retry": True}
    if tags:
        kwargs["tags"] = tags
    url = client.create_queue(**kwargs)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"], aws_retry=True)["Attributes"]["QueueArn"]
    return url, arn


@SQSErrorHandler.common_error_handler("set the SQS queue's attributes")
def set_attributes(client, url, attributes):
    client.set_queue_attributes(QueueUrl=url, Attributes=attributes, aws_retry=True)


@SQSErrorHandler.common_error_handler("tag the SQS queue")
def update_tags(client, url, set_tags, unset_tags):
    if unset_tags:
        client.untag_queue(QueueUrl=url, TagKeys=unset_tags, aws_retry=True)
    if set_tags:
        client.tag_queue(QueueUrl=url, Tags=set_tags, aws_retry=True)


@SQSErrorHandler.deletion_error_handler("delete the SQS queue")
def delete_queue(client, url):
    client.delete_queue(QueueUrl=url, aws_retry=True)
    return True


@SQSErrorHandler.common_error_handler("read the caller's account (to predict the queue's ARN)")
def predicted_arn(module, name):
    identity = module.client("sts", retry_decorator=AWSRetry.jittered_backoff()).get_caller_identity(aws_retry=True)
    return sqs.queue_arn(identity["Arn"].split(":")[1], module.region, identity["Account"], name)


def ensure_present(module, client, want, current):
    """Returns (changed, queue after, changes)."""
    steps = sqs.plan(current, want, module.params["purge_tags"])
    entries = sqs.changes(want, steps, current, "present")
    if sqs.is_noop(steps):
        return False, current, entries
    url, arn = (current["url"], current["arn"]) if current else (None, None)
    if module.check_mode:
        arn = arn or predicted_arn(module, want["name"])
    elif steps["create"]:
        url, arn = create_queue(client, want["name"], steps["attributes"], steps["set_tags"])
    else:
        if steps["attributes"]:
            set_attributes(client, url, steps["attributes"])
        if steps["set_tags"] or steps["unset_tags"]:
            update_tags(client, url, steps["set_tags"], steps["unset_tags"])
    return True, sqs.after_queue(current, want, steps, url, arn), entries


def ensure_absent(module, client, want, current):
    """Returns (changed, queue after, changes)."""
    entries = sqs.changes(want, None, current, "absent")
    if current is None:
        return False, {}, entries
    if not module.check_mode:
        delete_queue(client, current["url"])
    return True, {}, entries


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            message_retention_period=dict(type="int"),
            visibility_timeout=dict(type="int"),
            delay_seconds=dict(type="int"),
            maximum_message_size=dict(type="int"),
            receive_message_wait_time_seconds=dict(type="int"),
            policy=dict(type="raw"),
            sse=dict(type="str", choices=list(sqs.SSE_CHOICES)),
            kms_master_key_id=dict(type="str"),
            kms_data_key_reuse_period_seconds=dict(type="int", no_log=False),
            tags=dict(type="dict"),
            purge_tags=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    check_region(module)
    try:
        want = sqs.desired_queue(module.params)
    except sqs.InputError as exc:
        module.fail_json(msg=str(exc))
    client = module.client("sqs", retry_decorator=AWSRetry.jittered_backoff(catch_extra_error_codes=DELETED_RECENTLY))
    try:
        current = read_queue(client, want["name"])
        if module.params["state"] == "absent":
            changed, after, entries = ensure_absent(module, client, want, current)
        else:
            changed, after, entries = ensure_present(module, client, want, current)
    except AnsibleAWSError as exc:
        module.fail_json_aws_error(exc)
    module.exit_json(changed=changed, queue=after, changes=entries, diff={"before": current or {}, "after": after})


if __name__ == "__main__":
    main()
