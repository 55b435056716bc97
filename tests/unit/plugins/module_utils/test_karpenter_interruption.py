"""Karpenter's interruption rules (module_utils/karpenter_interruption.py, filter karpenter_event_rules): the rules the
karpenter role sends to eventbridge_rule, as its vars Jinja built them before."""
from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.nodeless.eks.plugins.filter.karpenter_event_rules import karpenter_event_rules

ARN = "arn:aws:sqs:us-west-2:123456789012:lab"
ROLE_VARS = Path(__file__).resolve().parents[4] / "roles" / "karpenter" / "vars" / "main.yml"


def test_one_rule_per_event_named_for_the_queue_with_the_queue_as_target():
    events = [{"suffix": "spot-interruption", "source": "aws.ec2", "detail_type": "EC2 Spot Instance Interruption Warning"}]
    assert karpenter_event_rules(events, "lab", "prod", ARN) == [{
        "name": "lab-spot-interruption",
        "description": "Karpenter interruption handling for prod (EC2 Spot Instance Interruption Warning)",
        "event_pattern": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
        "targets": [{"id": "KarpenterInterruptionQueueTarget", "arn": ARN}]}]


def test_the_roles_five_events_give_five_rules_in_their_order():
    events = yaml.safe_load(ROLE_VARS.read_text())["_karpenter_rules"]
    rules = karpenter_event_rules(events, "lab", "lab", ARN)
    assert [r["name"] for r in rules] == ["lab-scheduled-change", "lab-spot-interruption", "lab-rebalance", "lab-instance-state-change",
                                          "lab-capacity-reservation-interruption"]
    assert [r["event_pattern"]["source"] for r in rules] == [["aws.health"]] + [["aws.ec2"]] * 4
    assert all(r["targets"] == [{"id": "KarpenterInterruptionQueueTarget", "arn": ARN}] for r in rules)


def test_no_events_no_rules():
    assert karpenter_event_rules([], "lab", "lab", ARN) == []
