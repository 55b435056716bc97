# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Karpenter's interruption handling in AWS: the EventBridge rules that send the events Karpenter handles to its SQS
queue, one rule per event type as upstream's CloudFormation has them. Pure functions, unit-tested."""

from __future__ import annotations

# The target id upstream's CloudFormation gives each rule's queue target.
TARGET_ID = "KarpenterInterruptionQueueTarget"


def event_rules(events: list, queue_name: str, cluster_name: str, queue_arn: str) -> list[dict]:
    """The rules for ``nodeless.eks.eventbridge_rule``: for each of EVENTS (``{suffix, source, detail_type}``) a rule
    ``<queue_name>-<suffix>`` matching that source and detail type, with the queue as its one target."""
    return [{"name": f"{queue_name}-{event['suffix']}",
             "description": f"Karpenter interruption handling for {cluster_name} ({event['detail_type']})",
             "event_pattern": {"source": [event["source"]], "detail-type": [event["detail_type"]]},
             "targets": [{"id": TARGET_ID, "arn": queue_arn}]}
            for event in events]
