"""EKS Pod Identity: validation, planning and the trust policy (pure), the I/O path against botocore's Stubber."""
from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity as pi

ROLE = "arn:aws:iam::123456789012:role/payments-api"
OTHER = "arn:aws:iam::123456789012:role/other"
CLUSTER_ARN = "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu"
NOW = datetime.datetime(2026, 12, 5, tzinfo=datetime.timezone.utc)


def _assoc(namespace, account, ident, role=ROLE, owner=None, tags_off=False):
    out = {"clusterName": "prod-eu", "namespace": namespace, "serviceAccount": account, "roleArn": role, "associationId": ident,
           "associationArn": f"arn:aws:eks:us-west-2:123456789012:podidentityassociation/prod-eu/{ident}",
           "createdAt": NOW, "modifiedAt": NOW, "disableSessionTags": tags_off, "tags": {}}
    if owner:
        out["ownerArn"] = owner
    return out


def _summary(assoc):
    return {k: assoc[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
            if k in assoc}


def test_trust_policy_is_the_one_the_eks_user_guide_gives():
    assert pi.trust_policy("123456789012", CLUSTER_ARN) == {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}, "ArnEquals": {"aws:SourceArn": CLUSTER_ARN}}}]}
    account_only = pi.trust_policy(123456789012)["Statement"][0]["Condition"]
    assert account_only == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert pi.trusts_pod_identity(pi.trust_policy("123456789012", CLUSTER_ARN))


@pytest.mark.parametrize("account,arn,text", [
    ("12345", None, "account_id: '12345' is not a 12-digit AWS account id"),
    ("123456789012", "arn:aws:eks:eu-west-1:123456789012:nodegroup/prod-eu/x", "is not an EKS cluster ARN"),
    ("123456789012", "arn:aws:eks:eu-west-1:210987654321:cluster/prod-eu", "is in account 210987654321, not 123456789012"),
])
def test_trust_policy_refuses_what_would_trust_nothing_or_another_account(account, arn, text):
    with pytest.raises(pi.PodIdentityError, match=text):
        pi.trust_policy(account, arn)


@pytest.mark.parametrize("document,trusted", [
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": ["pods.eks.amazonaws.com"]}, "Action": "sts:*"}}, True),
    ({"Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}, False),
    ({"Statement": [{"Effect": "Deny", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": list(pi.ACTIONS)}]}, False),
    ({"Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/x"},
                     "Action": "sts:AssumeRoleWithWebIdentity"}]}, False),
    (None, False),
])
def test_trusts_pod_identity_wants_both_actions_for_the_service(document, trusted):
    assert pi.trusts_pod_identity(document) is trusted


def test_validate_reports_every_problem_naming_the_field():
    with pytest.raises(pi.PodIdentityError) as err:
        pi.validate([{"namespace": "payments", "service_account": "api", "role_arn": ROLE},
                     {"namespace": "Payments", "service_account": "api_v2", "role_arn": "payments-api"},
                     {"namespace": "payments", "service_account": "api", "role_arn": OTHER}])
    problems = str(err.value).split("; ")
    assert problems == [
        "associations[1].namespace: 'Payments' is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)",
        "associations[1].service_account: 'api_v2' is not a Kubernetes service account name "
        "(lowercase letters, digits, '-' and '.', at most 253)",
        "associations[1].role_arn: 'payments-api' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
        "associations[2]: service account payments/api is already listed at associations[0] "
        "(EKS allows one Pod Identity association per service account)"]


def test_validate_absent_needs_no_role():
    got = pi.validate([{"namespace": "payments", "service_account": "api", "state": "absent"}])
    assert got[0]["role_arn"] is None and got[0]["key"] == "payments/api"


def test_plan_creates_updates_deletes_only_what_differs_and_refuses_addon_owned():
    wanted = pi.validate([
        {"namespace": "a", "service_account": "new", "role_arn": ROLE},
        {"namespace": "a", "service_account": "same", "role_arn": ROLE},
        {"namespace": "a", "service_account": "moved", "role_arn": OTHER, "disable_session_tags": True},
        {"namespace": "a", "service_account": "gone", "state": "absent"},
        {"namespace": "a", "service_account": "never", "state": "absent"}])
    current = {"a/same": _assoc("a", "same", "a-1"), "a/moved": _assoc("a", "moved", "a-2"), "a/gone": _assoc("a", "gone", "a-3")}
    steps = [(w["key"], verb, differs) for w, verb, differs in pi.plan(wanted, current)]
    assert steps == [("a/new", "create", []), ("a/same", None, []), ("a/moved", "update", ["role_arn", "disable_session_tags"]),
                     ("a/gone", "delete", []), ("a/never", None, [])]
    owned = {"a/same": _assoc("a", "same", "a-1", owner="arn:aws:eks:us-west-2:123456789012:addon/prod-eu/x/1")}
    with pytest.raises(pi.PodIdentityError, match=r"associations\[1\]: the association of a/same belongs to arn:aws:eks:.*addon"):
        pi.plan(wanted, owned)


def test_read_lists_once_and_describes_only_the_listed_service_accounts(eks):
    client, stub = eks
    mine, foreign = _assoc("payments", "api", "a-1"), _assoc("kube-system", "x", "a-2")
    stub.add_response("list_pod_identity_associations", {"associations": [_summary(mine)], "nextToken": "t"},
                      {"clusterName": "prod-eu"})
    stub.add_response("list_pod_identity_associations", {"associations": [_summary(foreign)]},
                      {"clusterName": "prod-eu", "nextToken": "t"})
    stub.add_response("describe_pod_identity_association", {"association": mine}, {"clusterName": "prod-eu", "associationId": "a-1"})
    wanted = pi.validate([{"namespace": "payments", "service_account": "api", "role_arn": ROLE},
                          {"namespace": "payments", "service_account": "worker", "role_arn": ROLE}])
    assert pi.read(client, "prod-eu", wanted) == {"payments/api": mine}


def test_apply_writes_each_step_with_the_association_id(eks):
    client, stub = eks
    wanted = pi.validate([{"namespace": "a", "service_account": "new", "role_arn": ROLE},
                          {"namespace": "a", "service_account": "moved", "role_arn": OTHER},
                          {"namespace": "a", "service_account": "gone", "state": "absent"}])
    current = {"a/moved": _assoc("a", "moved", "a-2"), "a/gone": _assoc("a", "gone", "a-3")}
    stub.add_response("create_pod_identity_association", {"association": _assoc("a", "new", "a-9")},
                      {"clusterName": "c", "namespace": "a", "serviceAccount": "new", "roleArn": ROLE, "disableSessionTags": False})
    stub.add_response("update_pod_identity_association", {"association": _assoc("a", "moved", "a-2", role=OTHER)},
                      {"clusterName": "c", "associationId": "a-2", "roleArn": OTHER, "disableSessionTags": False})
    stub.add_response("delete_pod_identity_association", {"association": _assoc("a", "gone", "a-3")},
                      {"clusterName": "c", "associationId": "a-3"})
    done = pi.apply(client, "c", pi.plan(wanted, current), current)
    assert done["a/new"]["association_id"] == "a-9" and done["a/moved"]["role_arn"] == OTHER and done["a/gone"] is None


def test_predicted_is_what_apply_returns_but_the_new_ids():
    want = pi.validate([{"namespace": "a", "service_account": "moved", "role_arn": OTHER}])[0]
    have = _assoc("a", "moved", "a-2")
    assert pi.predicted(want, have) == dict(pi.view(have), role_arn=OTHER)
    assert pi.predicted(want, None)["association_id"] is None
    assert pi.diff_view(pi.predicted(want, None)) == {"role_arn": OTHER, "disable_session_tags": False}


# --- migration from IRSA ---------------------------------------------------------------------------

_MIG_ROLE = "arn:aws:iam::123456789012:role/lab-payments-api"
_MIG_EBS = "arn:aws:iam::123456789012:role/lab-ebs"


def _sa(namespace, name, role=None, **extra):
    annotations = dict({"eks.amazonaws.com/role-arn": role} if role else {}, **extra)
    return {"namespace": namespace, "name": name, "annotations": annotations}


def _migration_inputs():
    accounts = [_sa("payments", "api", _MIG_ROLE, **{"eks.amazonaws.com/sts-regional-endpoints": "true", "team": "a"}),
                _sa("batch", "worker", "arn:aws:iam::123456789012:role/lab-batch"), _sa("kube-system", "ebs-csi-controller-sa", _MIG_EBS),
                _sa("default", "default")]
    pods = [{"metadata": {"namespace": "batch"}, "spec": {"serviceAccountName": "worker", "schedulerName": "fargate-scheduler"}},
            {"metadata": {"namespace": "payments"}, "spec": {"serviceAccountName": "api", "nodeName": "ip-10-0-1-1"}}]
    addons = [{"name": "aws-ebs-csi-driver", "service_account_role_arn": _MIG_EBS}, {"name": "coredns", "service_account_role_arn": None}]
    return accounts, pods, addons


def test_migration_plan_associates_trusts_and_unannotates_and_keeps_fargate_and_addon_accounts_with_why():
    accounts, pods, addons = _migration_inputs()
    plan = pi.migration_plan(accounts, pods, addons, [])
    assert plan["associations"] == [{"namespace": "payments", "service_account": "api", "role_arn": _MIG_ROLE}]
    assert plan["trust"] == [{"role_arn": _MIG_ROLE, "role_name": "lab-payments-api"}]
    assert plan["unannotate"] == [{"namespace": "payments", "service_account": "api", "patch": [
        {"op": "remove", "path": "/metadata/annotations/eks.amazonaws.com~1role-arn"},
        {"op": "remove", "path": "/metadata/annotations/eks.amazonaws.com~1sts-regional-endpoints"}]}]
    kept = {k["key"]: k["reason"] for k in plan["kept"]}
    assert sorted(kept) == ["batch/worker", "kube-system/ebs-csi-controller-sa"]
    assert "runs on Fargate" in kept["batch/worker"] and "aws eks delete-addon" in kept["kube-system/ebs-csi-controller-sa"]


def test_migration_plan_after_the_migration_is_empty_and_an_existing_same_role_association_is_kept():
    accounts, pods, addons = _migration_inputs()
    same = [{"namespace": "payments", "service_account": "api", "role_arn": _MIG_ROLE, "owner_arn": None}]
    plan = pi.migration_plan(accounts, pods, addons, same)
    assert plan["associations"] == [] and [u["service_account"] for u in plan["unannotate"]] == ["api"]
    moved = [_sa("payments", "api"), _sa("batch", "worker", "arn:aws:iam::123456789012:role/lab-batch")]
    again = pi.migration_plan(moved, pods, [], same)
    assert [again[k] for k in ("associations", "trust", "unannotate")] == [[], [], []]
    assert [k["key"] for k in again["kept"]] == ["batch/worker"]


def test_migration_refuses_a_second_association_a_key_listed_twice_and_one_not_annotated():
    accounts, pods, addons = _migration_inputs()
    other = [{"namespace": "payments", "service_account": "api", "role_arn": "arn:aws:iam::123456789012:role/other", "owner_arn": None}]
    with pytest.raises(pi.PodIdentityError) as err:
        pi.migration_plan(accounts, pods, addons, other)
    assert str(err.value).startswith("payments/api: already has a Pod Identity association to arn:aws:iam::123456789012:role/other, "
                                     f"its IRSA annotation names {_MIG_ROLE}; EKS allows one association per service account")
    with pytest.raises(pi.PodIdentityError) as err:
        pi.migration_plan(accounts, pods, addons, [], ["payments/api", "default/default", "payments/api"])
    assert str(err.value) == (
        "migrate_pod_identity_service_accounts[1]: ServiceAccount default/default does not exist or has no "
        "eks.amazonaws.com/role-arn annotation; migrate_pod_identity_service_accounts[2]: payments/api is already listed at "
        "migrate_pod_identity_service_accounts[0] (EKS allows one Pod Identity association per service account)")


def test_trust_added_keeps_the_irsa_statement_and_adds_pod_identity_once():
    statement = {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/x"},
                 "Action": "sts:AssumeRoleWithWebIdentity"}
    irsa = {"Version": "2012-10-17", "Statement": [statement]}
    cluster = "arn:aws:eks:us-west-2:123456789012:cluster/lab"
    added = pi.with_pod_identity_trust(json.dumps(irsa), "123456789012", cluster)
    assert added["Statement"] == irsa["Statement"] + pi.trust_policy("123456789012", cluster)["Statement"]
    assert pi.with_pod_identity_trust(added, "123456789012", cluster) == added
