"""nodeless.eks.eventbridge_rule against the lab (moto): check mode predicts the real run, re-runs write nothing.

Also runs the karpenter role's EventBridge task as written (roles/karpenter/tasks/main.yml) on a queue
that does not exist yet: check mode must list exactly the rules the real run then creates (issue #9).

One lifecycle for the file (the ``life`` fixture): independent rules (one rule, one whose targets and tags
change, three rules in one call, the karpenter role's) go through the same five playbook runs, check -> create
(and re-run) -> check of every change, untouched -> change -> delete, each module call with its own AWS calls
(``support.snapshots.with_call_log``); the tests read its results.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support import labenv
from support import playbook as runner
from support.snapshots import calls_by_task, read_after, untouched_run, with_call_log, writes_by_task

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
KARPENTER = REPO / "roles" / "karpenter"
PREFIX = "it-eb-"
SPOT, TARGETS = f"{PREFIX}spot", f"{PREFIX}targets"
MANY = [f"{PREFIX}many-{i}" for i in range(3)]
QUEUE = "arn:aws:sqs:us-west-2:123456789012:it-eb-queue"
OTHER = "arn:aws:sqs:us-west-2:123456789012:it-eb-other"
PATTERN = {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}
HEALTH = {"source": ["aws.health"], "detail-type": ["AWS Health Event"]}
SUFFIXES = ["capacity-reservation-interruption", "instance-state-change", "rebalance", "scheduled-change", "spot-interruption"]
# Extra vars: vars_files (the role's defaults) would win over play vars.
OUR_QUEUE = {"karpenter_interruption_queue_name": f"{PREFIX}karpenter"}


def _rule(task: str, **args) -> dict:
    base = {"name": SPOT, "description": "integration test", "event_pattern": PATTERN,
            "targets": [{"id": "queue", "arn": QUEUE}], "tags": {"team": "platform"}}
    base.update(args)
    return {"name": task, "nodeless.eks.eventbridge_rule": base}


def _gone(task: str, name: str) -> dict:
    return {"name": task, "nodeless.eks.eventbridge_rule": {"name": name, "state": "absent"}}


def _many(task: str, state="present", **extra) -> dict:
    rules = [{"name": name, "event_pattern": {"source": ["aws.ec2"], "detail-type": [f"type {i}"]},
              "targets": [{"id": "queue", "arn": QUEUE}]} for i, name in enumerate(MANY)]
    rules[2]["enabled"] = False
    return {"name": task, "nodeless.eks.eventbridge_rule": dict({"rules": rules, "state": state}, **extra)}


def _targets_before(task: str) -> dict:
    return _rule(task, name=TARGETS, targets=[{"id": "queue", "arn": QUEUE}, {"id": "old", "arn": QUEUE}])


def _targets_after(task: str) -> dict:
    return _rule(task, name=TARGETS, targets=[{"id": "queue", "arn": OTHER}, {"id": "new", "arn": QUEUE, "input": {"hello": "world"}}],
                 tags={"owner": "me"})


def _checked(task: dict) -> dict:
    """TASK in check mode with a diff, inside a real run."""
    return dict(task, check_mode=True, diff=True)


def _karpenter_play(*names: str) -> dict:
    """The karpenter role's EventBridge task as written, with the role's defaults and vars, on the lab's cluster facts
    (once per name: a second one is its re-run)."""
    tasks = yaml.safe_load((KARPENTER / "tasks" / "main.yml").read_text())
    rules_task = next(t for t in tasks if "nodeless.eks.eventbridge_rule" in t)
    return {"name": "karpenter interruption rules", "hosts": "lab", "gather_facts": False,
            "vars_files": [str(KARPENTER / "defaults" / "main.yml"), str(KARPENTER / "vars" / "main.yml")],
            "roles": [{"role": "nodeless.eks.common"}], "tasks": [dict(rules_task, name=n) for n in names]}


def _plays(tasks: list, *karpenter: str) -> list:
    plays = [{"name": "eventbridge_rule", "hosts": "lab", "gather_facts": False, "tasks": tasks}]
    if karpenter:
        plays.append(_karpenter_play(*karpenter))
    for play in plays:
        play["tasks"] = with_call_log(play["tasks"])
    return plays


def _delete_ours():
    events = labenv.boto3_client("events")
    for rule in events.list_rules(NamePrefix=PREFIX)["Rules"]:
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
        if ids:
            events.remove_targets(Rule=rule["Name"], Ids=ids)
        events.delete_rule(Name=rule["Name"])


def _run_with_queue(plays: list, **kwargs):
    return runner.run(plays, extravars=OUR_QUEUE, **kwargs)


def _run(plays: list, **kwargs):
    labenv.aws_calls(reset=True)
    return _run_with_queue(plays, **kwargs)


def _live(events, name: str) -> dict:
    rule = events.describe_rule(Name=name)
    return {"rule": rule, "targets": events.list_targets_by_rule(Rule=name)["Targets"],
            "tags": events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]}


@pytest.fixture(scope="module")
def life(lab):
    """check -> create (+ re-runs) -> checks of every change (untouched) -> change (+ re-run) -> delete (+ re-run)."""
    events, sqs = labenv.boto3_client("events"), labenv.boto3_client("sqs")
    _delete_ours()
    out = {"queue_absent": not [u for u in sqs.list_queues().get("QueueUrls", []) if u.endswith(f"/{PREFIX}karpenter")]}
    try:
        out["check"], out["check_untouched"] = untouched_run(
            _run_with_queue, _plays([_rule("spot"), _many("many")], "karpenter"), check=True, diff=True)
        as_text = json.dumps({"detail-type": PATTERN["detail-type"], "source": PATTERN["source"]}, indent=2)
        out["create"] = _run(_plays([_rule("spot"), _rule("spot again"), _rule("spot as text", event_pattern=as_text),
                                     _targets_before("targets"), _many("many"), _many("many again")],
                                    "karpenter", "karpenter again"), diff=True)
        out["created"] = read_after(out["create"], lambda: {name: _live(events, name) for name in [SPOT, TARGETS, *MANY]})
        out["karpenter_rules"] = {r["Name"]: _live(events, r["Name"]) for r in events.list_rules(NamePrefix=f"{PREFIX}karpenter-")["Rules"]}
        out["plan"], out["plan_untouched"] = untouched_run(_run_with_queue, _plays([
            dict(_many("rules and tags", tags={"team": "platform"}), ignore_errors=True),
            _checked(_rule("spot change", event_pattern=HEALTH)), _checked(_gone("spot absent", SPOT)),
            _checked(_targets_after("targets change"))]))
        out["change"] = _run(_plays([_rule("spot change", event_pattern=HEALTH), _targets_after("targets change"),
                                     _targets_after("targets again")]))
        out["changed"] = read_after(out["change"], lambda: {name: _live(events, name) for name in [SPOT, TARGETS]})
        out["delete"] = _run(_plays([_gone("spot absent", SPOT), _gone("spot absent again", SPOT), _many("many absent", state="absent")]))
        out["left"] = [r["Name"] for r in events.list_rules(NamePrefix=PREFIX)["Rules"] if not r["Name"].startswith(f"{PREFIX}karpenter-")]
        yield out
    finally:
        _delete_ours()


def test_create_check_first_then_real_then_rerun_writes_nothing(life):
    check, create = life["check"], life["create"]
    assert check.rc == 0 and life["check_untouched"] is None, (check.failure_text(), life["check_untouched"])
    predicted = check.task("spot")
    assert predicted["changed"] is True
    assert predicted["changes"] == [{"resource": f"aws:eventbridge-rule/{SPOT}", "action": "add"}]
    assert predicted["diff"]["before"] == {}
    assert predicted["rule"]["arn"] == f"arn:aws:events:us-west-2:123456789012:rule/{SPOT}"

    assert create.rc == 0, create.failure_text()
    done, writes = create.task("spot"), writes_by_task(create)
    assert done["changes"] == predicted["changes"]  # check mode listed exactly what the real run did
    assert done["rule"] == predicted["rule"]
    assert sorted(writes["spot"]) == ["PutRule", "PutTargets"]  # tags go with PutRule
    live = life["created"][SPOT]
    assert json.loads(live["rule"]["EventPattern"]) == PATTERN and live["rule"]["Description"] == "integration test"
    assert [(t["Id"], t["Arn"]) for t in live["targets"]] == [("queue", QUEUE)]
    assert live["tags"] == [{"Key": "team", "Value": "platform"}]

    again = create.task("spot again")
    assert again["changed"] is False and writes["spot again"] == [] and again["changes"] == []
    # The same pattern as JSON text with other key order and spacing is no change either.
    assert create.task("spot as text")["changed"] is False and writes["spot as text"] == []


def test_changed_pattern_then_absent(life):
    plan, change, delete = life["plan"], life["change"], life["delete"]
    assert plan.rc == 0 and life["plan_untouched"] is None, (plan.failure_text(), life["plan_untouched"])
    predicted = plan.task("spot change")
    assert predicted["changes"] == [{"resource": f"aws:eventbridge-rule/{SPOT}", "action": "change", "detail": "event_pattern"}]
    assert predicted["diff"]["before"]["event_pattern"] == PATTERN and predicted["diff"]["after"]["event_pattern"] == HEALTH

    assert change.rc == 0, change.failure_text()
    assert change.task("spot change")["changes"] == predicted["changes"]
    assert writes_by_task(change)["spot change"] == ["PutRule"]  # targets and tags are unchanged: not written
    assert json.loads(life["changed"][SPOT]["rule"]["EventPattern"]) == HEALTH
    assert len(life["changed"][SPOT]["targets"]) == 1

    assert plan.task("spot absent")["changes"] == [{"resource": f"aws:eventbridge-rule/{SPOT}", "action": "remove"}]
    assert delete.rc == 0, delete.failure_text()
    writes = writes_by_task(delete)
    assert delete.task("spot absent")["changes"] == plan.task("spot absent")["changes"]
    assert writes["spot absent"] == ["RemoveTargets", "DeleteRule"]
    assert SPOT not in life["left"]
    assert delete.task("spot absent again")["changed"] is False and writes["spot absent again"] == []


def test_targets_replaced_and_tags_purged(life):
    change = life["change"]
    assert change.rc == 0, change.failure_text()
    assert sorted(t["Id"] for t in life["created"][TARGETS]["targets"]) == ["old", "queue"]
    assert change.task("targets change")["changes"] == life["plan"].task("targets change")["changes"] == [
        {"resource": f"aws:eventbridge-rule/{TARGETS}", "action": "change",
         "detail": "put targets new, queue; remove targets old; tags"}]
    writes = writes_by_task(change)
    assert sorted(writes["targets change"]) == ["PutTargets", "RemoveTargets", "TagResource", "UntagResource"]
    live = {t["Id"]: t for t in life["changed"][TARGETS]["targets"]}
    assert sorted(live) == ["new", "queue"] and live["queue"]["Arn"] == OTHER
    assert json.loads(live["new"]["Input"]) == {"hello": "world"}
    assert life["changed"][TARGETS]["tags"] == [{"Key": "owner", "Value": "me"}]
    assert change.task("targets again")["changed"] is False and writes["targets again"] == []


def test_several_rules_in_one_run_check_real_rerun_absent(life):
    check, create, delete = life["check"], life["create"], life["delete"]
    assert check.rc == 0 and life["check_untouched"] is None, (check.failure_text(), life["check_untouched"])
    predicted = check.task("many")
    assert predicted["changes"] == [{"resource": f"aws:eventbridge-rule/{n}", "action": "add"} for n in MANY]
    assert [r["arn"] for r in predicted["rules"]] == [f"arn:aws:events:us-west-2:123456789012:rule/{n}" for n in MANY]
    assert [d["before_header"] for d in predicted["diff"]] == MANY and all(d["before"] == {} for d in predicted["diff"])

    assert create.rc == 0, create.failure_text()
    assert create.task("many")["changes"] == predicted["changes"] and create.task("many")["rules"] == predicted["rules"]
    writes = writes_by_task(create)
    assert sorted(writes["many"]) == ["PutRule"] * 3 + ["PutTargets"] * 3
    assert [life["created"][n]["rule"]["State"] for n in MANY] == ["ENABLED", "ENABLED", "DISABLED"]

    assert create.task("many again")["changed"] is False and writes["many again"] == []
    # One module run reads each rule (describe, targets, tags) and nothing else.
    calls = [c[1] for c in calls_by_task(create)["many again"]]
    assert sorted(calls) == sorted(["DescribeRule", "ListTargetsByRule", "ListTagsForResource"] * 3)

    assert delete.rc == 0, delete.failure_text()
    assert delete.task("many absent")["changes"] == [{"resource": f"aws:eventbridge-rule/{n}", "action": "remove"} for n in MANY]
    assert sorted(writes_by_task(delete)["many absent"]) == ["DeleteRule"] * 3 + ["RemoveTargets"] * 3
    assert not [n for n in life["left"] if n.startswith(f"{PREFIX}many-")]


def test_rules_refused_with_a_single_rule_option(life):
    plan = life["plan"]
    assert life["plan_untouched"] is None, life["plan_untouched"]  # the refused call wrote nothing
    refused = plan.task("rules and tags")
    assert refused["failed"] and "parameters are mutually exclusive: rules|tags" in refused["msg"]
    assert writes_by_task(plan)["rules and tags"] == []


def _play_changes(run, index: int) -> dict:
    """{task name: sorted (resource, action) of its changes} for the tasks of play INDEX."""
    tasks = run.data["plays"][index]["tasks"]
    return {t["task"]["name"]: sorted((c["resource"], c["action"]) for res in t["hosts"].values()
                                      for item in (res.get("results") or [res]) for c in item.get("changes", []))
            for t in tasks}


def test_karpenter_role_rules_check_mode_lists_what_the_real_run_creates(life):
    check, create = life["check"], life["create"]
    assert life["queue_absent"]
    assert check.rc == 0 and life["check_untouched"] is None, (check.failure_text(), life["check_untouched"])
    predicted = _play_changes(check, 1)["karpenter"]
    assert predicted == [(f"aws:eventbridge-rule/{PREFIX}karpenter-{s}", "add") for s in SUFFIXES]

    assert create.rc == 0, create.failure_text()
    assert _play_changes(create, 1)["karpenter"] == predicted
    queue_arn = f"arn:aws:sqs:us-west-2:123456789012:{PREFIX}karpenter"
    rules = life["karpenter_rules"]
    assert sorted(rules) == [f"{PREFIX}karpenter-{s}" for s in SUFFIXES]
    for rule in rules.values():
        assert [t["Arn"] for t in rule["targets"]] == [queue_arn]
    spot = json.loads(rules[f"{PREFIX}karpenter-spot-interruption"]["rule"]["EventPattern"])
    assert spot == {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}

    again = create.task("karpenter again")
    assert not again["changed"] and writes_by_task(create)["karpenter again"] == []
    # the role's other tasks (common's cluster facts) changed nothing either
    assert [name for name, res in ((t["task"]["name"], r) for t in create.data["plays"][1]["tasks"] for r in t["hosts"].values())
            if res.get("changed") and name != "karpenter"] == []
