"""Generic apply planning: compare first, apply only what differs, readable API errors."""
from __future__ import annotations

import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import k8s

DESIRED = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "a"},
           "spec": {"weight": 5, "template": {"spec": {"requirements": [{"key": "k", "operator": "Exists"}]}}}}


def live(spec, owned=None):
    obj = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "a", "uid": "u", "resourceVersion": "7"},
           "spec": spec, "status": {"x": 1}}
    if owned is not None:
        obj["metadata"]["managedFields"] = [{"manager": "nodeless.eks", "operation": "Apply", "fieldsV1": owned},
                                            {"manager": "other", "operation": "Update", "fieldsV1": {"f:spec": {"f:limits": {}}}}]
    return obj


OWNED = {"f:metadata": {"f:name": {}}, "f:spec": {"f:weight": {}, "f:template": {"f:spec": {"f:requirements": {}}}}}


def test_paths_of_desired_objects_stop_at_lists_and_scalars():
    assert k8s.desired_paths({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {("a", "b"), ("a", "c"), ("d",)}


def test_owned_paths_read_only_our_apply_entry_and_treat_keyed_lists_as_one_field():
    obj = live({}, {"f:spec": {"f:taints": {"k:{\"key\":\"a\"}": {".": {}, "f:key": {}}}, "f:weight": {}}})
    assert k8s.owned_paths(obj, "nodeless.eks") == {("spec", "taints"), ("spec", "weight")}
    assert k8s.owned_paths(obj, "someone-else") == set()


def test_no_apply_when_the_live_object_holds_our_fields_plus_server_defaults():
    current = live({"weight": 5, "template": {"spec": {"requirements": [{"key": "k", "operator": "Exists", "minValues": None}],
                                                       "expireAfter": "720h"}}, "limits": {"cpu": 1}}, OWNED)
    assert not k8s.needs_apply(current, DESIRED, "nodeless.eks")


def test_apply_when_a_value_differs_or_the_object_is_missing():
    assert k8s.needs_apply(None, DESIRED, "nodeless.eks")
    assert k8s.needs_apply(live({"weight": 6, "template": {"spec": {"requirements": [{"key": "k", "operator": "Exists"}]}}}, OWNED),
                           DESIRED, "nodeless.eks")
    longer = [{"key": "k", "operator": "Exists"}, {"key": "j", "operator": "Exists"}]
    assert k8s.needs_apply(live({"weight": 5, "template": {"spec": {"requirements": longer}}}, OWNED), DESIRED, "nodeless.eks")


def test_apply_when_a_field_we_own_was_dropped_from_the_desired_object():
    owned = {"f:spec": {"f:weight": {}, "f:limits": {"f:cpu": {}}, "f:template": {"f:spec": {"f:requirements": {}}}}}
    current = live({"weight": 5, "limits": {"cpu": 1}, "template": {"spec": {"requirements": [{"key": "k", "operator": "Exists"}]}}}, owned)
    assert k8s.needs_apply(current, DESIRED, "nodeless.eks")


def test_diff_shows_only_the_fields_we_manage_including_ones_being_removed():
    owned = {"f:spec": {"f:limits": {"f:cpu": {}}}}
    before = live({"weight": 4, "limits": {"cpu": 1}, "template": {"spec": {"requirements": [], "expireAfter": "720h"}}}, owned)
    after = live({"weight": 5, "template": {"spec": {"requirements": [{"key": "k", "operator": "Exists"}], "expireAfter": "720h"}}})
    diff = k8s.managed_diff(before, after, DESIRED, "nodeless.eks")
    assert diff["before"] == {"metadata": {"name": "a"}, "spec": {"weight": 4, "limits": {"cpu": 1}, "template": {"spec": {"requirements": []}}}}
    assert diff["after"] == {"metadata": {"name": "a"}, "spec": {"weight": 5, "template": {"spec": {"requirements": [{"key": "k", "operator": "Exists"}]}}}}


def test_strip_volatile_drops_status_and_bookkeeping():
    assert k8s.strip_volatile(live({"weight": 1}, OWNED)) == {"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
                                                              "metadata": {"name": "a"}, "spec": {"weight": 1}}


class _Refusal(Exception):
    def __init__(self, body):
        super().__init__("boom")
        self.body = body


def test_api_errors_become_field_messages():
    body = json.dumps({"message": "NodePool.karpenter.sh \"a\" is invalid", "details": {"causes": [
        {"field": "spec.template.spec.requirements[0]", "message": "Invalid value: requirements with operator 'In' must have a value defined"},
        {"field": "spec.weight", "message": "should be less than or equal to 100"}]}})
    text = k8s.api_error_text(_Refusal(body))
    assert text == ("spec.template.spec.requirements[0]: Invalid value: requirements with operator 'In' must have a value defined; "
                    "spec.weight: should be less than or equal to 100")
    assert k8s.api_error_text(_Refusal(json.dumps({"message": "forbidden"}))) == "forbidden"


def test_wait_until_returns_the_first_true_value():
    answers = iter([None, "", "token"])
    assert k8s.wait_until(lambda: next(answers), timeout=5, what="never", sleep=0) == "token"


def test_wait_until_says_what_did_not_happen_and_for_how_long():
    with pytest.raises(TimeoutError, match=r"^Secret ns/x was not filled within 0.05s$"):
        k8s.wait_until(lambda: None, timeout=0.05, what="Secret ns/x was not filled", sleep=0.01)
