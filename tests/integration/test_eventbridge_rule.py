"""nodeless.eks.eventbridge_rule against the lab (moto): check mode predicts the real run, re-runs write nothing.

Also runs the karpenter role's EventBridge task as written (roles/karpenter/tasks/main.yml) on a queue
that does not exist yet: check mode must list exactly the rules the real run then creates (issue #9).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support import labenv
from support.snapshots import run_counting_aws, untouched

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
KARPENTER = REPO / "roles" / "karpenter"
PREFIX = "it-eb-"
QUEUE = "arn:aws:sqs:us-west-2:123456789012:it-eb-queue"
PATTERN = {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}


def _play(tasks: list, **extra) -> list:
    return [dict({"name": "eventbridge_rule", "hosts": "lab", "gather_facts": False, "tasks": tasks}, **extra)]


def _rule_task(**args) -> dict:
    base = {"name": f"{PREFIX}spot", "description": "integration test", "event_pattern": PATTERN,
            "targets": [{"id": "queue", "arn": QUEUE}], "tags": {"team": "platform"}}
    base.update(args)
    return {"name": "the rule", "register": "rule", "nodeless.eks.eventbridge_rule": base}


def _result(run) -> dict:
    return next(res for name, _host, res in run.tasks() if name == "the rule")


def _changes(run) -> list:
    return [c for _name, _host, res in run.tasks() for item in (res.get("results") or [res]) for c in item.get("changes", [])]


def _delete_ours():
    events = labenv.boto3_client("events")
    for rule in events.list_rules(NamePrefix=PREFIX)["Rules"]:
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
        if ids:
            events.remove_targets(Rule=rule["Name"], Ids=ids)
        events.delete_rule(Name=rule["Name"])


@pytest.fixture
def clean(lab):
    _delete_ours()
    yield labenv.boto3_client("events")
    _delete_ours()


def test_create_check_first_then_real_then_rerun_writes_nothing(clean, playbook):
    events = clean
    with untouched():  # no write call, nothing changed in AWS
        check = playbook(_play([_rule_task()]), check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    predicted = _result(check)
    assert predicted["changed"] is True
    assert predicted["changes"] == [{"resource": f"aws:eventbridge-rule/{PREFIX}spot", "action": "add"}]
    assert predicted["diff"]["before"] == {}
    assert predicted["rule"]["arn"] == f"arn:aws:events:us-west-2:123456789012:rule/{PREFIX}spot"

    real, writes, _calls = run_counting_aws(playbook, _play([_rule_task()]), diff=True)
    assert real.rc == 0, real.failure_text()
    done = _result(real)
    assert done["changes"] == predicted["changes"]  # check mode listed exactly what the real run did
    assert done["rule"] == predicted["rule"]
    assert sorted(w[1] for w in writes) == ["PutRule", "PutTargets"]  # tags go with PutRule
    live = events.describe_rule(Name=f"{PREFIX}spot")
    assert json.loads(live["EventPattern"]) == PATTERN and live["Description"] == "integration test"
    assert [(t["Id"], t["Arn"]) for t in events.list_targets_by_rule(Rule=f"{PREFIX}spot")["Targets"]] == [("queue", QUEUE)]
    assert events.list_tags_for_resource(ResourceARN=live["Arn"])["Tags"] == [{"Key": "team", "Value": "platform"}]

    again, writes, _calls = run_counting_aws(playbook, _play([_rule_task()]))
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert writes == [] and _result(again)["changes"] == []

    # The same pattern as JSON text with other key order and spacing is no change either.
    as_text = json.dumps({"detail-type": PATTERN["detail-type"], "source": PATTERN["source"]}, indent=2)
    text_run, writes, _calls = run_counting_aws(playbook, _play([_rule_task(event_pattern=as_text)]))
    assert text_run.rc == 0 and text_run.total_changed() == 0 and writes == []


def test_changed_pattern_then_absent(clean, playbook):
    events = clean
    assert playbook(_play([_rule_task()])).rc == 0
    health = {"source": ["aws.health"], "detail-type": ["AWS Health Event"]}

    with untouched():
        check = playbook(_play([_rule_task(event_pattern=health)]), check=True, diff=True)
    predicted = _result(check)
    assert predicted["changes"] == [{"resource": f"aws:eventbridge-rule/{PREFIX}spot", "action": "change", "detail": "event_pattern"}]
    assert predicted["diff"]["before"]["event_pattern"] == PATTERN and predicted["diff"]["after"]["event_pattern"] == health

    real, writes, _calls = run_counting_aws(playbook, _play([_rule_task(event_pattern=health)]))
    assert _result(real)["changes"] == predicted["changes"]
    assert [w[1] for w in writes] == ["PutRule"]  # targets and tags are unchanged: not written
    assert json.loads(events.describe_rule(Name=f"{PREFIX}spot")["EventPattern"]) == health
    assert len(events.list_targets_by_rule(Rule=f"{PREFIX}spot")["Targets"]) == 1

    gone = {"name": "the rule", "register": "rule", "nodeless.eks.eventbridge_rule": {"name": f"{PREFIX}spot", "state": "absent"}}
    with untouched():
        check = playbook(_play([gone]), check=True)
    assert _result(check)["changes"] == [{"resource": f"aws:eventbridge-rule/{PREFIX}spot", "action": "remove"}]
    real, writes, _calls = run_counting_aws(playbook, _play([gone]))
    assert _result(real)["changes"] == _result(check)["changes"]
    assert [w[1] for w in writes] == ["RemoveTargets", "DeleteRule"]
    assert events.list_rules(NamePrefix=f"{PREFIX}spot")["Rules"] == []
    again, writes, _calls = run_counting_aws(playbook, _play([gone]))
    assert again.rc == 0 and again.total_changed() == 0 and writes == []


def test_targets_replaced_and_tags_purged(clean, playbook):
    events = clean
    assert playbook(_play([_rule_task(targets=[{"id": "queue", "arn": QUEUE}, {"id": "old", "arn": QUEUE}])])).rc == 0
    other = "arn:aws:sqs:us-west-2:123456789012:it-eb-other"
    task = _rule_task(targets=[{"id": "queue", "arn": other}, {"id": "new", "arn": QUEUE, "input": {"hello": "world"}}],
                      tags={"owner": "me"})
    check = playbook(_play([task]), check=True)
    real, writes, _calls = run_counting_aws(playbook, _play([task]))
    assert _result(real)["changes"] == _result(check)["changes"] == [
        {"resource": f"aws:eventbridge-rule/{PREFIX}spot", "action": "change",
         "detail": "put targets new, queue; remove targets old; tags"}]
    assert sorted(w[1] for w in writes) == ["PutTargets", "RemoveTargets", "TagResource", "UntagResource"]
    live = {t["Id"]: t for t in events.list_targets_by_rule(Rule=f"{PREFIX}spot")["Targets"]}
    assert sorted(live) == ["new", "queue"] and live["queue"]["Arn"] == other
    assert json.loads(live["new"]["Input"]) == {"hello": "world"}
    arn = events.describe_rule(Name=f"{PREFIX}spot")["Arn"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "owner", "Value": "me"}]
    again, writes, _calls = run_counting_aws(playbook, _play([task]))
    assert again.total_changed() == 0 and writes == []


def _karpenter_rules_play() -> list:
    """The karpenter role's EventBridge task as written, with the role's defaults and vars, on the lab's cluster facts."""
    tasks = yaml.safe_load((KARPENTER / "tasks" / "main.yml").read_text())
    rules_task = next(t for t in tasks if "nodeless.eks.eventbridge_rule" in t)
    return [{"name": "karpenter interruption rules", "hosts": "lab", "gather_facts": False,
             "vars_files": [str(KARPENTER / "defaults" / "main.yml"), str(KARPENTER / "vars" / "main.yml")],
             "roles": [{"role": "nodeless.eks.common"}], "tasks": [rules_task]}]


def _rules_task(state="present", **extra) -> dict:
    rules = [{"name": f"{PREFIX}many-{i}", "event_pattern": {"source": ["aws.ec2"], "detail-type": [f"type {i}"]},
              "targets": [{"id": "queue", "arn": QUEUE}]} for i in range(3)]
    rules[2]["enabled"] = False
    return {"name": "the rule", "register": "rule",
            "nodeless.eks.eventbridge_rule": dict({"rules": rules, "state": state}, **extra)}


def test_several_rules_in_one_run_check_real_rerun_absent(clean, playbook):
    events = clean
    task = _rules_task()
    names = [f"{PREFIX}many-{i}" for i in range(3)]
    with untouched():
        check = playbook(_play([task]), check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    predicted = _result(check)
    assert predicted["changes"] == [{"resource": f"aws:eventbridge-rule/{n}", "action": "add"} for n in names]
    assert [r["arn"] for r in predicted["rules"]] == [f"arn:aws:events:us-west-2:123456789012:rule/{n}" for n in names]
    assert [d["before_header"] for d in predicted["diff"]] == names and all(d["before"] == {} for d in predicted["diff"])

    real, writes, calls = run_counting_aws(playbook, _play([task]), diff=True)
    assert real.rc == 0, real.failure_text()
    assert _result(real)["changes"] == predicted["changes"] and _result(real)["rules"] == predicted["rules"]
    assert sorted(w[1] for w in writes) == ["PutRule"] * 3 + ["PutTargets"] * 3
    assert [events.describe_rule(Name=n)["State"] for n in names] == ["ENABLED", "ENABLED", "DISABLED"]

    again, writes, calls = run_counting_aws(playbook, _play([task]))
    assert again.rc == 0 and again.total_changed() == 0 and writes == []
    # One module run reads each rule (describe, targets, tags) and nothing else.
    assert sorted(calls) == sorted(["DescribeRule", "ListTargetsByRule", "ListTagsForResource"] * 3)

    gone, writes, _calls = run_counting_aws(playbook, _play([_rules_task(state="absent")]))
    assert gone.rc == 0 and _result(gone)["changes"] == [{"resource": f"aws:eventbridge-rule/{n}", "action": "remove"} for n in names]
    assert sorted(w[1] for w in writes) == ["DeleteRule"] * 3 + ["RemoveTargets"] * 3
    assert events.list_rules(NamePrefix=f"{PREFIX}many-")["Rules"] == []


def test_rules_refused_with_a_single_rule_option(clean, playbook):
    with untouched():
        run = playbook(_play([_rules_task(tags={"team": "platform"})]))
    assert run.rc != 0 and "parameters are mutually exclusive: rules|tags" in run.failure_text()


# Extra vars: vars_files (the role's defaults) would win over play vars.
OUR_QUEUE = {"karpenter_interruption_queue_name": f"{PREFIX}karpenter"}


def test_karpenter_role_rules_check_mode_lists_what_the_real_run_creates(clean, playbook):
    events = clean
    sqs = labenv.boto3_client("sqs")
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if u.endswith(f"/{PREFIX}karpenter")]  # queue absent
    with untouched():
        check = playbook(_karpenter_rules_play(), extravars=OUR_QUEUE, check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    predicted = sorted((c["resource"], c["action"]) for c in _changes(check))
    suffixes = ["capacity-reservation-interruption", "instance-state-change", "rebalance", "scheduled-change", "spot-interruption"]
    assert predicted == [(f"aws:eventbridge-rule/{PREFIX}karpenter-{s}", "add") for s in suffixes]

    real = playbook(_karpenter_rules_play(), extravars=OUR_QUEUE, diff=True)
    assert real.rc == 0, real.failure_text()
    assert sorted((c["resource"], c["action"]) for c in _changes(real)) == predicted
    queue_arn = f"arn:aws:sqs:us-west-2:123456789012:{PREFIX}karpenter"
    rules = events.list_rules(NamePrefix=f"{PREFIX}karpenter-")["Rules"]
    assert sorted(r["Name"] for r in rules) == [f"{PREFIX}karpenter-{s}" for s in suffixes]
    for rule in rules:
        assert [t["Arn"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]] == [queue_arn]
    spot = json.loads(events.describe_rule(Name=f"{PREFIX}karpenter-spot-interruption")["EventPattern"])
    assert spot == {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}

    again, writes, _calls = run_counting_aws(playbook, _karpenter_rules_play(), extravars=OUR_QUEUE)
    assert again.rc == 0 and again.total_changed() == 0 and writes == []
