"""irsa_plan_errors: the irsa role's input refused with a message that starts with the field."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.filter.irsa_plan import FilterModule

FILTERS = FilterModule().filters()
CLUSTER = {"name": "lab", "partition": "aws", "account_id": "123456789012",
           "oidc_issuer": "https://oidc.eks.us-west-2.amazonaws.com/id/ABC"}


def test_valid_entries_have_no_errors_and_plan():
    accounts = [{"namespace": "kube-system", "service_account": "app", "policies": []}]
    assert FILTERS["irsa_plan_errors"](accounts, CLUSTER) == []
    assert FILTERS["irsa_plan"](accounts, CLUSTER)[0]["role_name"]


def test_errors_start_with_the_field():
    accounts = [{"namespace": "Kube_System", "service_account": "app", "policies": []}]
    errors = FILTERS["irsa_plan_errors"](accounts, CLUSTER)
    assert len(errors) == 1 and errors[0].startswith("irsa_service_accounts[0].namespace: 'Kube_System'")


def test_an_unknown_key_is_named_as_such():
    errors = FILTERS["irsa_plan_errors"]([{"namespace": "a", "service_account": "b", "polices": []}], CLUSTER)
    assert errors == ["irsa_service_accounts[0].polices: unknown key"]


def test_an_unknown_key_in_a_policy_entry_is_named_not_taken_for_a_missing_arn():
    accounts = [{"namespace": "a", "service_account": "b", "policies": [{"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]}]
    errors = FILTERS["irsa_plan_errors"](accounts, CLUSTER)
    assert len(errors) == 1 and errors[0].startswith("irsa_service_accounts[0].policies[0].policy_arn: unknown key")
