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


POD_CLUSTER = {"name": "lab", "partition": "aws", "account_id": "123456789012", "oidc_issuer": None,
               "arn": "arn:aws:eks:us-west-2:123456789012:cluster/lab"}


def test_pod_identity_plan_trusts_the_pod_identity_service_for_this_cluster_only_and_needs_no_issuer():
    accounts = [{"namespace": "kube-system", "service_account": "app", "policies": []},
                {"namespace": "kube-system", "service_account": "ebs-csi-controller-sa", "policies": [], "associate": False}]
    assert FILTERS["irsa_plan_errors"](accounts, POD_CLUSTER) == [
        "nodeless_eks_cluster_name: EKS cluster 'lab' has no OIDC issuer; IRSA needs one (EKS Pod Identity does not: irsa_mode pod_identity)"]
    plan = FILTERS["irsa_plan"](accounts, POD_CLUSTER, identity="pod_identity")
    assert plan[0]["trust"]["Statement"] == [{
        "Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"},
                      "ArnEquals": {"aws:SourceArn": "arn:aws:eks:us-west-2:123456789012:cluster/lab"}}}]
    assert plan[0]["fact"] == {"role_name": "lab-kube-system-app", "role_arn": "arn:aws:iam::123456789012:role/lab-kube-system-app",
                               "identity": "pod_identity", "managed_policy_arns": [], "provider_arn": None}
    assert [p["associate"] for p in plan] == [True, False]
    assert FILTERS["irsa_associations"](plan) == [
        {"namespace": "kube-system", "service_account": "app", "role_arn": "arn:aws:iam::123456789012:role/lab-kube-system-app"}]
    assert not any(p["associate"] for p in FILTERS["irsa_plan"](accounts, dict(POD_CLUSTER, oidc_issuer=CLUSTER["oidc_issuer"])))


def test_unknown_identity_and_a_cluster_without_arn_are_refused_naming_the_field():
    accounts = [{"namespace": "kube-system", "service_account": "app", "policies": []}]
    assert FILTERS["irsa_plan_errors"](accounts, POD_CLUSTER, identity="kiam") == [
        "irsa_mode: 'kiam' is not one of irsa, pod_identity"]
    assert FILTERS["irsa_plan_errors"](accounts, dict(POD_CLUSTER, arn="arn:aws:eks:us-west-2:999999999999:cluster/lab"),
                                       identity="pod_identity") == [
        "nodeless_eks_cluster.cluster_arn: arn:aws:eks:us-west-2:999999999999:cluster/lab is in account 999999999999, not 123456789012"]


def test_annotation_removal_patches_only_the_irsa_annotations_present():
    metadata = {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/x", "team": "a",
                                "eks.amazonaws.com/sts-regional-endpoints": "true"}}
    assert FILTERS["irsa_annotation_removal"](metadata) == [
        {"op": "remove", "path": "/metadata/annotations/eks.amazonaws.com~1role-arn"},
        {"op": "remove", "path": "/metadata/annotations/eks.amazonaws.com~1sts-regional-endpoints"}]
    assert FILTERS["irsa_annotation_removal"]({"annotations": {"team": "a"}}) == []
    assert FILTERS["irsa_annotation_removal"]({}) == []


def test_record_targets_cover_provider_roles_created_policies_and_the_annotated_accounts_only():
    accounts = [{"namespace": "kube-system", "service_account": "b", "policies": ["cluster_autoscaler", "arn:aws:iam::aws:policy/ReadOnlyAccess"]},
                {"namespace": "kube-system", "service_account": "a", "policies": [], "path": "/x/"},
                {"namespace": "dns", "service_account": "c", "policies": []}]
    cluster = dict(CLUSTER, region="us-west-2")
    plan = FILTERS["irsa_plan"](accounts, cluster)
    assert FILTERS["irsa_record_targets"](plan, cluster) == {
        "aws": [{"type": "iam_oidc_provider", "ids": ["arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"]},
                {"type": "iam_role", "ids": ["lab-dns-c", "lab-kube-system-a", "lab-kube-system-b"]},
                {"type": "iam_policy", "ids": ["arn:aws:iam::123456789012:policy/lab-kube-system-b-cluster-autoscaler"]}],
        "kubernetes": [{"api_version": "v1", "kind": "ServiceAccount", "namespace": "dns", "names": ["c"]},
                       {"api_version": "v1", "kind": "ServiceAccount", "namespace": "kube-system", "names": ["a", "b"]}]}
    assert FILTERS["irsa_record_targets"]([], CLUSTER)["aws"][1:] == []
