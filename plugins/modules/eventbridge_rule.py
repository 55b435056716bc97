#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eventbridge_rule
short_description: Manage Amazon EventBridge rules and their targets, with check mode
version_added: 0.1.0
description:
  - Creates, updates or deletes one EventBridge rule that matches events by an event pattern, and
    the rule's targets; or several such rules in one run with O(rules) (one client and one set of
    credentials for all of them, instead of one module run per rule).
  - Reads the rule, its targets and its tags first (three read calls), compares them with the input
    and writes only what differs, so a second run with the same input makes no write call.
  - Event patterns are compared as parsed JSON, not as text; key order and whitespace do not matter,
    array order does.
  - Supports check mode (no write call; the same C(changed) and C(changes) as the real run) and
    diff mode; returns C(changes), one entry per rule added, changed or removed.
  - Input is validated before any call; messages name the field, for example C(targets[0].arn).
author:
  - nodeless.eks contributors (@nodeless)
options:
  name:
    description:
      - Name of the rule (1 to 64 letters, digits, C(.), C(-) or C(_)), unique on its event bus.
      - Exactly one of O(name) and O(rules) is required.
    type: str
  rules:
    description:
      - Several rules, each given by the options of one rule (O(name), O(event_pattern), ...).
      - An entry takes O(event_bus_name) and O(enabled) from the top level unless it sets its own;
        O(purge_tags) and O(state) apply to every entry.
      - Input errors name the entry, for example C(rules[2].targets[0].arn); a rule listed twice on one
        event bus is refused.
      - Mutually exclusive with O(name), O(description), O(event_pattern), O(targets) and O(tags).
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      name:
        description: Name of the rule. Required.
        type: str
      event_bus_name:
        description: Name or ARN of the event bus. Defaults to the top-level O(event_bus_name).
        type: str
      description:
        description: As O(description).
        type: str
      event_pattern:
        description: As O(event_pattern).
        type: raw
      enabled:
        description: As O(enabled). Defaults to the top-level O(enabled).
        type: bool
      targets:
        description: As O(targets).
        type: list
        elements: dict
        suboptions:
          id:
            description: As O(targets[].id).
            type: str
          arn:
            description: As O(targets[].arn).
            type: str
          input:
            description: As O(targets[].input).
            type: raw
      tags:
        description: As O(tags).
        type: dict
  event_bus_name:
    description: Name or ARN of the event bus the rule belongs to (with O(rules), of each entry that does not set its own).
    type: str
    default: default
  description:
    description:
      - Description of the rule (at most 512 characters).
      - When omitted, an existing rule keeps its description. An empty string removes it.
    type: str
  event_pattern:
    description:
      - The event pattern, as a dict or as a JSON string. Required when O(state=present).
      - Every field must hold an array of match values or a nested object, as EventBridge requires.
    type: raw
  enabled:
    description:
      - Whether the rule is enabled (C(ENABLED)) or disabled (C(DISABLED)).
      - With O(rules), of each entry that does not set its own.
    type: bool
    default: true
  targets:
    description:
      - The rule's targets (at most 5). The rule ends up with exactly these targets; targets with other
        ids are removed. An empty list removes every target.
      - When omitted, the targets are left as they are.
      - Only O(targets[].id), O(targets[].arn) and O(targets[].input) are compared; a target whose
        ARN or input differs is put again, which replaces it as a whole.
    type: list
    elements: dict
    suboptions:
      id:
        description: Id of the target, unique within the rule (1 to 64 letters, digits, C(.), C(-) or C(_)). Required.
        type: str
      arn:
        description: ARN of the target (an SQS queue, SNS topic, Lambda function, event bus, ...). Required.
        type: str
      input:
        description:
          - Constant JSON text sent to the target instead of the matched event (a dict is serialised).
          - Compared as parsed JSON.
        type: raw
  tags:
    description:
      - Tags of the rule. When omitted, tags are left as they are.
      - With O(purge_tags=true), tags not listed here are removed (tags starting with C(aws:) are kept).
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags). Has no effect when O(tags) is omitted.
    type: bool
    default: true
  state:
    description: Whether the rule exists. C(absent) removes its targets, then the rule.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The rule's fields this module does not manage (a schedule expression, a role ARN) are kept when the
    rule is updated.
  - The ARN of a rule that check mode would create is predicted from the caller's account (one STS read
    call per run, whatever the number of rules).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Send EC2 Spot interruption warnings to Karpenter's queue
  nodeless.eks.eventbridge_rule:
    name: prod-eu-spot-interruption
    description: Karpenter interruption handling for prod-eu
    event_pattern:
      source: [aws.ec2]
      detail-type: [EC2 Spot Instance Interruption Warning]
    targets:
      - id: KarpenterInterruptionQueueTarget
        arn: arn:aws:sqs:eu-west-1:123456789012:prod-eu
    tags:
      nodeless.eks/cluster: prod-eu
    region: eu-west-1
  register: rule

- name: The same pattern as JSON text, with a constant input, on a custom bus
  nodeless.eks.eventbridge_rule:
    name: health-to-ops
    event_bus_name: ops
    event_pattern: '{"source": ["aws.health"]}'
    targets:
      - id: ops-topic
        arn: arn:aws:sns:eu-west-1:123456789012:ops
        input: {"team": "platform"}

- name: Several rules in one run (one client, one set of reads per rule)
  nodeless.eks.eventbridge_rule:
    rules:
      - name: prod-eu-spot-interruption
        event_pattern: {source: [aws.ec2], detail-type: [EC2 Spot Instance Interruption Warning]}
        targets: [{id: queue, arn: "arn:aws:sqs:eu-west-1:123456789012:prod-eu"}]
      - name: prod-eu-scheduled-change
        event_pattern: {source: [aws.health], detail-type: [AWS Health Event]}
        targets: [{id: queue, arn: "arn:aws:sqs:eu-west-1:123456789012:prod-eu"}]
    region: eu-west-1

- name: Remove the rule and its targets
  nodeless.eks.eventbridge_rule:
    name: prod-eu-spot-interruption
    state: absent
"""

RETURN = r"""
rule:
  description: The rule as it is after the run (in check mode, as it would be). Empty when O(state=absent).
  type: dict
  returned: when O(name) is given
  contains:
    name:
      description: Name of the rule.
      type: str
      sample: prod-eu-spot-interruption
    event_bus_name:
      description: Name of the event bus.
      type: str
      sample: default
    arn:
      description: ARN of the rule (predicted in check mode when the rule does not exist yet).
      type: str
      sample: arn:aws:events:eu-west-1:123456789012:rule/prod-eu-spot-interruption
    description:
      description: Description of the rule (empty string when it has none).
      type: str
    event_pattern:
      description: The event pattern, parsed.
      type: dict
      sample: {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}
    enabled:
      description: Whether the rule is enabled.
      type: bool
    targets:
      description: The targets, sorted by id, each with C(id), C(arn) and C(input) when set.
      type: list
      elements: dict
      sample: [{"id": "KarpenterInterruptionQueueTarget", "arn": "arn:aws:sqs:eu-west-1:123456789012:prod-eu"}]
    tags:
      description: Tags of the rule.
      type: dict
rules:
  description: With O(rules), each rule as RV(rule) describes it, in the order of O(rules).
  type: list
  elements: dict
  returned: when O(rules) is given
  version_added: 0.2.0
changes:
  description: One entry per rule added, changed or removed (see module_utils/changes.py), the same in check mode.
  type: list
  elements: dict
  returned: always
  sample: [{"resource": "aws:eventbridge-rule/prod-eu-spot-interruption", "action": "change", "detail": "event_pattern"}]
diff:
  description:
    - The rule before and after (the canonical form of RV(rule)).
    - With O(rules), a list with one such dict per rule, each with C(before_header) and C(after_header) naming it.
  type: raw
  returned: always
  contains:
    before:
      description: The rule before the run; empty when it did not exist.
      type: dict
    after:
      description: The rule after the run; empty when O(state=absent).
      type: dict
"""

from collections import namedtuple

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code, paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import eventbridge as eb
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


class EventBridgeErrorHandler(AWSErrorHandler):
    """Botocore errors become AnsibleAWSError (one error path); a missing rule reads as None."""

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("ResourceNotFoundException")


@EventBridgeErrorHandler.list_error_handler("describe the EventBridge rule")
def describe_rule(client, name, bus):
    return client.describe_rule(Name=name, EventBusName=bus, aws_retry=True)


@EventBridgeErrorHandler.common_error_handler("list the EventBridge rule's targets")
def list_targets(client, name, bus):
    return paginated_query_with_retries(client, "list_targets_by_rule", Rule=name, EventBusName=bus).get("Targets") or []


@EventBridgeErrorHandler.common_error_handler("list the EventBridge rule's tags")
def list_tags(client, arn):
    return client.list_tags_for_resource(ResourceARN=arn, aws_retry=True).get("Tags") or []


def read_rule(client, name, bus):
    """(DescribeRule output, canonical rule), or (None, None) when the rule does not exist."""
    described = describe_rule(client, name, bus)
    if not described:
        return None, None
    return described, eb.current_rule(described, list_targets(client, name, bus), list_tags(client, described["Arn"]))


@EventBridgeErrorHandler.common_error_handler("create or update the EventBridge rule")
def put_rule(client, request):
    return client.put_rule(aws_retry=True, **request)["RuleArn"]


@EventBridgeErrorHandler.common_error_handler("put the EventBridge rule's targets")
def put_targets(client, name, bus, targets):
    result = client.put_targets(Rule=name, EventBusName=bus, Targets=eb.targets_request(targets), aws_retry=True)
    failed = result.get("FailedEntries") or []
    if failed:
        raise AnsibleAWSError(message="EventBridge refused targets: " + ", ".join(
            f"{f.get('TargetId')}: {f.get('ErrorCode')} {f.get('ErrorMessage')}" for f in failed))


@EventBridgeErrorHandler.common_error_handler("remove the EventBridge rule's targets")
def remove_targets(client, name, bus, ids):
    result = client.remove_targets(Rule=name, EventBusName=bus, Ids=ids, aws_retry=True)
    failed = result.get("FailedEntries") or []
    if failed:
        raise AnsibleAWSError(message="EventBridge did not remove targets: " + ", ".join(
            f"{f.get('TargetId')}: {f.get('ErrorCode')} {f.get('ErrorMessage')}" for f in failed))


@EventBridgeErrorHandler.common_error_handler("tag the EventBridge rule")
def update_tags(client, arn, set_tags, unset_tags):
    if unset_tags:
        client.untag_resource(ResourceARN=arn, TagKeys=unset_tags, aws_retry=True)
    if set_tags:
        client.tag_resource(ResourceARN=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(set_tags.items())], aws_retry=True)


@EventBridgeErrorHandler.deletion_error_handler("delete the EventBridge rule")
def delete_rule(client, name, bus):
    client.delete_rule(Name=name, EventBusName=bus, aws_retry=True)
    return True


@EventBridgeErrorHandler.common_error_handler("read the caller's account (to predict the rule's ARN)")
def caller_identity(module):
    return module.client("sts", retry_decorator=AWSRetry.jittered_backoff()).get_caller_identity(aws_retry=True)


class ArnPredictor:
    """The ARN a rule created in check mode would get: the caller's account is read once per run."""

    def __init__(self, module):
        self.module, self.identity = module, None

    def __call__(self, bus, name):
        self.identity = self.identity or caller_identity(self.module)
        return eb.rule_arn(self.identity["Arn"].split(":")[1], self.module.region, self.identity["Account"], bus, name)


def ensure_present(module, client, want, described, current, predict_arn):
    """Returns (changed, rule after, changes)."""
    steps = eb.plan(current, want, module.params["purge_tags"])
    entries = eb.changes(want, steps, current, "present")
    if eb.is_noop(steps):
        return False, current, entries
    name, bus = want["name"], want["event_bus_name"]
    arn = current["arn"] if current else None
    if module.check_mode:
        arn = arn or predict_arn(bus, name)
    else:
        if steps["create"] or steps["rule_fields"]:
            arn = put_rule(client, eb.put_rule_request(want, current, described))
        if steps["remove_targets"]:
            remove_targets(client, name, bus, steps["remove_targets"])
        if steps["put_targets"]:
            put_targets(client, name, bus, steps["put_targets"])
        if not steps["create"] and (steps["set_tags"] or steps["unset_tags"]):
            update_tags(client, arn, steps["set_tags"], steps["unset_tags"])
    return True, eb.after_rule(current, want, steps, arn), entries


def ensure_absent(module, client, want, current):
    """Returns (changed, rule after, changes): targets first (EventBridge refuses to delete a rule that has any)."""
    entries = eb.changes(want, None, current, "absent")
    if current is None:
        return False, {}, entries
    if not module.check_mode:
        if current["targets"]:
            remove_targets(client, want["name"], want["event_bus_name"], [t["id"] for t in current["targets"]])
        delete_rule(client, want["name"], want["event_bus_name"])
    return True, {}, entries


Outcome = namedtuple("Outcome", "changed before after changes")


def ensure(module, client, want, predict_arn):
    """One rule brought to the wanted state, as an Outcome."""
    described, current = read_rule(client, want["name"], want["event_bus_name"])
    if module.params["state"] == "absent":
        changed, after, entries = ensure_absent(module, client, want, current)
    else:
        changed, after, entries = ensure_present(module, client, want, described, current, predict_arn)
    return Outcome(changed, current or {}, after, entries)


def main():
    rule_options = dict(
        event_bus_name=dict(type="str"),
        description=dict(type="str"),
        event_pattern=dict(type="raw"),
        enabled=dict(type="bool"),
        targets=dict(type="list", elements="dict", options=dict(
            id=dict(type="str"), arn=dict(type="str"), input=dict(type="raw"))),
        tags=dict(type="dict"),
    )
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(
            rule_options,
            name=dict(type="str"),
            rules=dict(type="list", elements="dict", options=dict(rule_options, name=dict(type="str"))),
            event_bus_name=dict(type="str", default=eb.DEFAULT_BUS),
            enabled=dict(type="bool", default=True),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_one_of=[("name", "rules")],
        mutually_exclusive=[("name", "rules")] + [("rules", key) for key in ("description", "event_pattern", "targets", "tags")],
        supports_check_mode=True,
    )
    check_region(module)
    try:
        wants = eb.desired_rules(module.params)
    except eb.InputError as exc:
        module.fail_json(msg=str(exc))
    client = module.client("events", retry_decorator=AWSRetry.jittered_backoff())
    predict_arn = ArnPredictor(module)
    try:
        done = [ensure(module, client, want, predict_arn) for want in wants]
    except AnsibleAWSError as exc:
        module.fail_json_aws_error(exc)
    changed = any(d.changed for d in done)
    entries = [entry for d in done for entry in d.changes]
    if module.params["rules"] is None:
        (only,) = done
        module.exit_json(changed=changed, rule=only.after, changes=entries, diff={"before": only.before, "after": only.after})
    diffs = [{"before_header": want["name"], "after_header": want["name"], "before": d.before, "after": d.after}
             for want, d in zip(wants, done)]
    module.exit_json(changed=changed, rules=[d.after for d in done], changes=entries, diff=diffs)


if __name__ == "__main__":
    main()
