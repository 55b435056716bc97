"""The irsa role's preflight over its plan (module_utils/irsa_preflight.py, filters irsa_preflight_reads and
irsa_preflight_errors): the reads and every message as the role's vars Jinja gave them before."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.filter.irsa_preflight import irsa_preflight_errors, irsa_preflight_reads


def entry(index, namespace, service_account, create=True, arns=()):
    return {"index": index, "key": f"{namespace}/{service_account}", "namespace": namespace, "service_account": service_account,
            "create_service_account": create,
            "attach": [{"arn": arn, "field": f"irsa_service_accounts[{index}].policies[{i}]"} for i, arn in enumerate(arns)]}


PLAN = [entry(0, "apps", "a"), entry(1, "kube-system", "b", create=False, arns=["arn:aws:iam::123456789012:policy/p"]),
        entry(2, "apps", "c", arns=["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/p"]),
        entry(3, "tools", "d")]


def test_reads_namespaces_to_create_then_service_accounts_per_namespace_each_once():
    assert irsa_preflight_reads(PLAN) == [
        {"kind": "Namespace", "name": "apps"}, {"kind": "Namespace", "name": "tools"},
        {"kind": "ServiceAccount", "namespace": "apps"}, {"kind": "ServiceAccount", "namespace": "kube-system"},
        {"kind": "ServiceAccount", "namespace": "tools"}]
    assert irsa_preflight_reads([]) == []


def test_nothing_missing_no_errors():
    accounts = [{"namespace": "kube-system", "name": "b"}]
    assert irsa_preflight_errors(PLAN, [], False, [], accounts) == []


def test_missing_policies_are_named_by_their_field_in_plan_order():
    got = irsa_preflight_errors(PLAN, ["arn:aws:iam::123456789012:policy/p"], True, [], [{"namespace": "kube-system", "name": "b"}])
    assert got == ["irsa_service_accounts[1].policies[0]: policy arn:aws:iam::123456789012:policy/p does not exist",
                   "irsa_service_accounts[2].policies[1]: policy arn:aws:iam::123456789012:policy/p does not exist"]


def test_missing_namespaces_are_errors_only_without_irsa_create_namespace_naming_the_first_entry():
    accounts = [{"namespace": "kube-system", "name": "b"}]
    assert irsa_preflight_errors(PLAN, [], True, ["apps", "tools"], accounts) == []
    assert irsa_preflight_errors(PLAN, [], False, ["apps", "tools"], accounts) == [
        "irsa_service_accounts[0].namespace: namespace apps does not exist and irsa_create_namespace is false; "
        "create it first or set irsa_create_namespace",
        "irsa_service_accounts[3].namespace: namespace tools does not exist and irsa_create_namespace is false; "
        "create it first or set irsa_create_namespace"]


def test_a_service_account_only_annotated_must_exist_in_its_namespace():
    message = ("irsa_service_accounts[1].create_service_account: ServiceAccount kube-system/b does not exist and "
               "create_service_account is false")
    assert irsa_preflight_errors(PLAN, [], True, [], []) == [message]
    assert irsa_preflight_errors(PLAN, [], True, [], [{"namespace": "apps", "name": "b"}]) == [message]


def test_every_kind_at_once_policies_then_namespaces_then_service_accounts():
    got = irsa_preflight_errors(PLAN, ["arn:aws:iam::aws:policy/ReadOnlyAccess"], False, ["tools"], [])
    assert [m.split(":")[0] for m in got] == ["irsa_service_accounts[2].policies[0]", "irsa_service_accounts[3].namespace",
                                              "irsa_service_accounts[1].create_service_account"]
