import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import eventbridge as EB

QUEUE = "arn:aws:sqs:us-west-2:123456789012:lab"
PATTERN = {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}


def params(**over):
    base = {"name": "lab-spot-interruption", "event_bus_name": "default", "description": None, "event_pattern": PATTERN,
            "enabled": True, "targets": [{"id": "KarpenterInterruptionQueueTarget", "arn": QUEUE, "input": None}],
            "tags": None, "purge_tags": True, "state": "present"}
    base.update(over)
    return base


def described(pattern=None, **over):
    out = {"Name": "lab-spot-interruption", "Arn": "arn:aws:events:us-west-2:123456789012:rule/lab-spot-interruption",
           "EventPattern": json.dumps(pattern or PATTERN), "State": "ENABLED", "EventBusName": "default"}
    out.update(over)
    return out


def current(pattern=None, targets=None, tags=None, **over):
    targets = [{"Id": "KarpenterInterruptionQueueTarget", "Arn": QUEUE}] if targets is None else targets
    return EB.current_rule(described(pattern, **over), targets, tags or [])


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "lab-spot-interruption", "A.b_c-1", "x" * 64])
def test_valid_names(name):
    assert EB.name_error(name) is None


@pytest.mark.parametrize("name, why", [("", "required"), ("x" * 65, "65 characters"), ("has space", "only letters"),
                                       ("a/b", "only letters"), ("ünï", "only letters")])
def test_invalid_names_say_why(name, why):
    assert why in EB.name_error(name)


def test_desired_rule_names_the_field_of_a_bad_name():
    with pytest.raises(EB.InputError, match=r"^name: 'x{65}' is 65 characters long"):
        EB.desired_rule(params(name="x" * 65))


def test_pattern_from_json_text_equals_pattern_from_dict():
    text = '{"detail-type": ["EC2 Spot Instance Interruption Warning"],\n "source": ["aws.ec2"]}'
    assert EB.parse_pattern(text) == PATTERN


@pytest.mark.parametrize("value, message", [
    ('{"source": ["aws.ec2"]', "event_pattern: not valid JSON"),
    ('["aws.ec2"]', "event_pattern: must be a JSON object (a dict), not list"),
    ({}, "event_pattern: must not be empty"),
    ({"source": "aws.ec2"}, 'event_pattern.source: must be an array of match values or an object, not "aws.ec2"'),
    ({"source": []}, "event_pattern.source: an empty array matches nothing"),
    ({"detail": {"state": 3}}, "event_pattern.detail.state: must be an array"),
    ({"detail": {}}, "event_pattern.detail: an empty object matches nothing"),
])
def test_bad_patterns_name_the_field(value, message):
    with pytest.raises(EB.InputError) as err:
        EB.parse_pattern(value)
    assert message in str(err.value)


def test_nested_patterns_are_accepted():
    pattern = {"source": ["aws.ec2"], "detail": {"state": ["running", {"prefix": "stop"}], "count": [{"numeric": [">", 0]}]}}
    assert EB.parse_pattern(json.dumps(pattern)) == pattern


def test_pattern_is_required_when_present_only():
    with pytest.raises(EB.InputError, match="^event_pattern: is required when state=present"):
        EB.desired_rule(params(event_pattern=None))
    absent = EB.desired_rule(params(event_pattern=None, state="absent"))
    assert absent == {"name": "lab-spot-interruption", "event_bus_name": "default"}


@pytest.mark.parametrize("targets, message", [
    ([{"arn": QUEUE}], "targets[0].id: is required"),
    ([{"id": "q"}], "targets[0].arn: is required"),
    ([{"id": "q", "arn": QUEUE}, {"id": "r", "arn": "my-queue"}], "targets[1].arn: 'my-queue' is not an ARN"),
    ([{"id": "bad id", "arn": QUEUE}], "targets[0].id: 'bad id' may contain only"),
    ([{"id": "q", "arn": QUEUE}, {"id": "q", "arn": QUEUE}], "targets[1].id: 'q' is already used by targets[0]"),
    ([{"id": "q", "arn": QUEUE, "input": "{nope"}], "targets[0].input: not valid JSON"),
    ([{"id": f"t{i}", "arn": QUEUE} for i in range(6)], "targets: 6 targets; EventBridge allows at most 5"),
])
def test_bad_targets_name_the_field(targets, message):
    with pytest.raises(EB.InputError) as err:
        EB.desired_rule(params(targets=targets))
    assert str(err.value).startswith(message)


def test_targets_are_sorted_and_input_dicts_serialised():
    out = EB.parse_targets([{"id": "b", "arn": QUEUE, "input": {"x": 1}}, {"id": "a", "arn": QUEUE, "input": None}])
    assert out == [{"id": "a", "arn": QUEUE}, {"id": "b", "arn": QUEUE, "input": '{"x": 1}'}]
    assert EB.parse_targets(None) is None


def test_bus_given_as_arn_is_reduced_to_its_name():
    want = EB.desired_rule(params(event_bus_name="arn:aws:events:us-west-2:123456789012:event-bus/ops/team"))
    assert want["event_bus_name"] == "ops/team"
    with pytest.raises(EB.InputError, match="^event_bus_name: 'bad bus!' is neither"):
        EB.desired_rule(params(event_bus_name="bad bus!"))


def test_rule_arn_on_default_and_custom_bus():
    assert EB.rule_arn("aws", "us-west-2", "123456789012", "default", "r") == "arn:aws:events:us-west-2:123456789012:rule/r"
    assert EB.rule_arn("aws-cn", "cn-north-1", "123456789012", "ops", "r") == "arn:aws-cn:events:cn-north-1:123456789012:rule/ops/r"


# --- planning ---------------------------------------------------------------------------------

def test_creating_puts_the_rule_every_target_and_tags_once():
    want = EB.desired_rule(params(tags={"team": "platform"}))
    steps = EB.plan(None, want)
    assert steps["create"] and steps["put_targets"] == want["targets"] and steps["set_tags"] == {"team": "platform"}
    assert EB.changes(want, steps, None, "present") == [{"resource": "aws:eventbridge-rule/lab-spot-interruption", "action": "add"}]
    request = EB.put_rule_request(want, None)
    assert json.loads(request["EventPattern"]) == PATTERN
    assert request["State"] == "ENABLED" and request["Tags"] == [{"Key": "team", "Value": "platform"}]
    assert "Description" not in request
    after = EB.after_rule(None, want, steps, "arn:x")
    assert after["targets"] == [{"id": "KarpenterInterruptionQueueTarget", "arn": QUEUE}]
    assert after["tags"] == {"team": "platform"} and after["arn"] == "arn:x" and after["description"] == ""


def test_same_pattern_written_differently_is_no_change():
    reordered = json.dumps({"detail-type": PATTERN["detail-type"], "source": PATTERN["source"]}, indent=4)
    want = EB.desired_rule(params(event_pattern=reordered))
    steps = EB.plan(current(), want)
    assert EB.is_noop(steps)
    assert EB.changes(want, steps, current(), "present") == []


def test_array_order_in_a_pattern_counts():
    want = EB.desired_rule(params(event_pattern={"source": ["b", "a"]}))
    steps = EB.plan(current(pattern={"source": ["a", "b"]}), want)
    assert steps["rule_fields"] == ["event_pattern"]


def test_changed_pattern_is_a_change_of_the_rule_only():
    want = EB.desired_rule(params(event_pattern={"source": ["aws.health"], "detail-type": ["AWS Health Event"]}))
    steps = EB.plan(current(), want)
    assert steps["rule_fields"] == ["event_pattern"] and steps["put_targets"] == [] and steps["remove_targets"] == []
    assert EB.changes(want, steps, current(), "present") == [
        {"resource": "aws:eventbridge-rule/lab-spot-interruption", "action": "change", "detail": "event_pattern"}]


def test_description_left_alone_when_omitted_and_cleared_when_empty():
    have = current(Description="old")
    assert EB.plan(have, EB.desired_rule(params(description=None)))["rule_fields"] == []
    assert EB.put_rule_request(EB.desired_rule(params()), have)["Description"] == "old"
    want = EB.desired_rule(params(description=""))
    assert EB.plan(have, want)["rule_fields"] == ["description"]
    assert "Description" not in EB.put_rule_request(want, have)


def test_disabled_rule_is_enabled():
    steps = EB.plan(current(State="DISABLED"), EB.desired_rule(params()))
    assert steps["rule_fields"] == ["enabled"]


def test_put_rule_keeps_a_schedule_and_role_it_does_not_manage():
    raw = described(ScheduleExpression="rate(5 minutes)", RoleArn="arn:aws:iam::123456789012:role/r")
    request = EB.put_rule_request(EB.desired_rule(params()), current(), raw)
    assert request["ScheduleExpression"] == "rate(5 minutes)" and request["RoleArn"] == "arn:aws:iam::123456789012:role/r"
    assert "Tags" not in request  # tags of an existing rule go through TagResource


def test_targets_put_when_new_or_different_and_removed_when_unlisted():
    have = current(targets=[{"Id": "keep", "Arn": QUEUE}, {"Id": "moved", "Arn": QUEUE}, {"Id": "stale", "Arn": QUEUE},
                            {"Id": "inp", "Arn": QUEUE, "Input": '{"a": 1, "b": 2}'}])
    other = "arn:aws:sqs:us-west-2:123456789012:other"
    want = EB.desired_rule(params(targets=[{"id": "keep", "arn": QUEUE}, {"id": "moved", "arn": other},
                                           {"id": "new", "arn": QUEUE}, {"id": "inp", "arn": QUEUE, "input": '{"b":2,"a":1}'}]))
    steps = EB.plan(have, want)
    assert [t["id"] for t in steps["put_targets"]] == ["moved", "new"]
    assert steps["remove_targets"] == ["stale"]
    assert EB.detail(steps) == "put targets moved, new; remove targets stale"
    assert [t["id"] for t in EB.after_rule(have, want, steps, None)["targets"]] == ["inp", "keep", "moved", "new"]
    assert EB.targets_request(steps["put_targets"]) == [{"Id": "moved", "Arn": other}, {"Id": "new", "Arn": QUEUE}]


def test_omitted_targets_are_left_alone_and_an_empty_list_removes_all():
    have = current(targets=[{"Id": "a", "Arn": QUEUE}, {"Id": "b", "Arn": QUEUE}])
    assert EB.is_noop(EB.plan(have, EB.desired_rule(params(targets=None))))
    assert EB.plan(have, EB.desired_rule(params(targets=[])))["remove_targets"] == ["a", "b"]


def test_input_added_to_a_target_is_a_change():
    want = EB.desired_rule(params(targets=[{"id": "KarpenterInterruptionQueueTarget", "arn": QUEUE, "input": "{}"}]))
    assert [t["id"] for t in EB.plan(current(), want)["put_targets"]] == ["KarpenterInterruptionQueueTarget"]


def test_tags_purged_only_when_asked_and_aws_tags_kept():
    have = current(tags=[{"Key": "team", "Value": "a"}, {"Key": "old", "Value": "x"}, {"Key": "aws:cf", "Value": "y"}])
    steps = EB.plan(have, EB.desired_rule(params(tags={"team": "b"})), purge_tags=True)
    assert steps["set_tags"] == {"team": "b"} and steps["unset_tags"] == ["old"]
    assert EB.after_rule(have, EB.desired_rule(params(tags={"team": "b"})), steps, None)["tags"] == {"team": "b", "aws:cf": "y"}
    kept = EB.plan(have, EB.desired_rule(params(tags={"team": "b"})), purge_tags=False)
    assert kept["unset_tags"] == [] and EB.detail(kept) == "tags"
    assert EB.is_noop(EB.plan(have, EB.desired_rule(params(tags=None))))


def test_absent_removes_only_an_existing_rule_and_names_a_custom_bus():
    want = EB.desired_rule(params(state="absent", event_bus_name="ops"))
    removed = {"resource": "aws:eventbridge-rule/ops/lab-spot-interruption", "action": "remove"}
    assert EB.changes(want, None, current(), "absent") == [removed]
    assert EB.changes(want, None, None, "absent") == []


def test_unparsable_stored_pattern_differs_from_any_wanted_pattern():
    have = EB.current_rule(described(EventPattern="not json"), [], [])
    assert EB.plan(have, EB.desired_rule(params()))["rule_fields"] == ["event_pattern"]


# --- several rules in one module run (rules) --------------------------------------------------

def _entry(name, **extra):
    return dict({"name": name, "event_pattern": {"source": ["aws.ec2"]}, "event_bus_name": None, "enabled": None,
                 "description": None, "targets": None, "tags": None}, **extra)


def test_rules_take_the_top_level_bus_enabled_and_state_unless_they_set_their_own():
    wants = EB.desired_rules({"rules": [_entry("a"), _entry("b", event_bus_name="ops", enabled=True)],
                              "event_bus_name": "default", "enabled": False, "state": "present"})
    assert [(w["name"], w["event_bus_name"], w["enabled"]) for w in wants] == [("a", "default", False), ("b", "ops", True)]
    absent = EB.desired_rules({"rules": [_entry("a", event_pattern=None)], "state": "absent"})
    assert absent == [{"name": "a", "event_bus_name": "default"}]


def test_name_alone_is_one_rule_as_before():
    assert EB.desired_rules(params()) == [EB.desired_rule(params())]


@pytest.mark.parametrize("rules, message", [
    ([_entry("a"), _entry("b", targets=[{"id": "q"}])], "rules[1].targets[0].arn: is required"),
    ([_entry("a", event_pattern=None)], "rules[0].event_pattern: is required when state=present"),
    ([_entry("a"), _entry("a")], "rules[1].name: 'a' is already rules[0] on event bus default"),
    ([], "rules: is empty"),
])
def test_bad_rules_name_the_entry_and_field(rules, message):
    with pytest.raises(EB.InputError) as err:
        EB.desired_rules({"rules": rules, "state": "present"})
    assert str(err.value).startswith(message)


def test_the_same_name_on_two_buses_is_two_rules():
    wants = EB.desired_rules({"rules": [_entry("a"), _entry("a", event_bus_name="ops")], "state": "present"})
    assert [(w["event_bus_name"], w["name"]) for w in wants] == [("default", "a"), ("ops", "a")]
