"""Access entries: the cluster's authentication mode, moved only forward, and the access policies EKS offers (pure checks;
the calls against the Stubber)."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import access_entries as ae


@pytest.mark.parametrize("current,wanted,step", [
    ("CONFIG_MAP", None, None), ("CONFIG_MAP", "CONFIG_MAP", None), ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API_AND_CONFIG_MAP"),
    ("CONFIG_MAP", "API", "API"), ("API_AND_CONFIG_MAP", "API", "API"), ("API", "API", None),
])
def test_forward_or_nothing(current, wanted, step):
    assert ae.mode_step(current, wanted) == step


@pytest.mark.parametrize("current,wanted", [("API", "API_AND_CONFIG_MAP"), ("API", "CONFIG_MAP"), ("API_AND_CONFIG_MAP", "CONFIG_MAP")])
def test_backwards_is_refused_saying_why(current, wanted):
    with pytest.raises(ae.AccessEntryError) as err:
        ae.mode_step(current, wanted)
    assert str(err.value) == (f"authentication_mode: the cluster is in {current}, and EKS moves the authentication mode only "
                              f"forward (CONFIG_MAP -> API_AND_CONFIG_MAP -> API), so it cannot go back to {wanted}; "
                              f"set authentication_mode: {current} or leave it out")


def test_cluster_mode_defaults_to_config_map(eks):
    client, stub = eks
    stub.add_response("describe_cluster", {"cluster": {"name": "c"}}, {"name": "c"})
    stub.add_response("describe_cluster", {"cluster": {"name": "c", "accessConfig": {"authenticationMode": "API"}}}, {"name": "c"})
    assert ae.cluster_mode(client, "c") == "CONFIG_MAP"
    assert ae.cluster_mode(client, "c") == "API"


def _update(status, errors=()):
    return {"update": {"id": "u-1", "status": status, "type": "AccessConfigUpdate", "errors": list(errors),
                       "params": [{"type": "AuthenticationMode", "value": "API"}]}}


def test_set_mode_waits_for_the_update(eks):
    client, stub = eks
    stub.add_response("update_cluster_config", _update("InProgress"), {"name": "c", "accessConfig": {"authenticationMode": "API"}})
    stub.add_response("describe_update", _update("InProgress"), {"name": "c", "updateId": "u-1"})
    stub.add_response("describe_update", _update("Successful"), {"name": "c", "updateId": "u-1"})
    slept = []
    ae.set_mode(client, "c", "API", sleep=slept.append)
    assert slept == [5]  # the first poll right away


def test_set_mode_reports_a_failed_update(eks):
    client, stub = eks
    stub.add_response("update_cluster_config", _update("Failed", [{"errorCode": "Unknown", "errorMessage": "boom"}]),
                      {"name": "c", "accessConfig": {"authenticationMode": "API"}})
    with pytest.raises(ae.AccessEntryError, match="authentication_mode: the update of cluster c to API Failed: boom"):
        ae.set_mode(client, "c", "API", sleep=lambda _s: None)


def test_unknown_policies_are_named_with_the_valid_ones(eks):
    client, stub = eks
    policies = [{"name": n, "arn": f"arn:aws:eks::aws:cluster-access-policy/{n}"} for n in ("AmazonEKSViewPolicy", "AmazonEKSAdminPolicy")]
    stub.add_response("list_access_policies", {"accessPolicies": policies[:1], "nextToken": "t"}, {})
    stub.add_response("list_access_policies", {"accessPolicies": policies[1:]}, {"nextToken": "t"})
    available = ae.available_policies(client)
    entries = [{"principal_arn": "arn:aws:iam::123456789012:role/a", "access_policies": [
        {"policy_arn": "AmazonEKSViewPolicy"}, {"policy_arn": "AmazonEKSReadOnlyPolicy"}]}]
    assert ae.unknown_policies(entries, available) == [
        "entries[0].access_policies[1].policy_arn: AmazonEKSReadOnlyPolicy is not an EKS access policy; "
        "valid names: AmazonEKSAdminPolicy, AmazonEKSViewPolicy"]
