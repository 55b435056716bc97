"""Access entries: moto has no access-entry API, so the I/O path runs against botocore's Stubber."""
import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import access_entries as ae

ADMIN = "arn:aws:iam::123456789012:role/admin"
AUDITOR = "arn:aws:iam::123456789012:role/auditor"
OLD = "arn:aws:iam::123456789012:role/old"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def test_validate_expands_policy_names_and_scopes():
    got = ae.validate([{"principal_arn": AUDITOR, "access_policies": [
        {"policy_arn": "AmazonEKSViewPolicy", "access_scope": {"type": "namespace", "namespaces": ["b", "a"]}}]}], "aws-cn")
    assert got[0]["access_policies"] == {"arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy":
                                         {"type": "namespace", "namespaces": ["a", "b"]}}
    assert got[0]["type"] == "STANDARD"


@pytest.mark.parametrize("entries,field", [
    ([{"principal_arn": "bob"}], "entries[0].principal_arn"),
    ([{"principal_arn": ADMIN}, {"principal_arn": ADMIN}], "entries[1].principal_arn"),
    ([{"principal_arn": ADMIN, "type": "ROOT"}], "entries[0].type"),
    ([{"principal_arn": ADMIN, "kubernetes_groups": ["system:masters"]}], "entries[0].kubernetes_groups"),
    ([{"principal_arn": ADMIN, "access_policies": [{"policy_arn": "arn:aws:iam::aws:policy/x"}]}],
     "entries[0].access_policies[0].policy_arn"),
    ([{"principal_arn": ADMIN, "access_policies": [{"policy_arn": "AmazonEKSViewPolicy", "access_scope": {"type": "namespace"}}]}],
     "entries[0].access_policies[0].access_scope"),
    ([{"principal_arn": ADMIN, "type": "EC2_LINUX", "access_policies": [{"policy_arn": "AmazonEKSViewPolicy"}]}],
     "entries[0].access_policies"),
])
def test_validate_names_the_bad_field(entries, field):
    with pytest.raises(ae.AccessEntryError) as err:
        ae.validate(entries)
    assert str(err.value).startswith(field + ":")


def _describe(stub, arn, owner, groups=(), policies=()):
    tags = {ae.OWNER_TAG: owner} if owner else {}
    stub.add_response("describe_access_entry", {"accessEntry": {
        "clusterName": "prod", "principalArn": arn, "kubernetesGroups": list(groups), "type": "STANDARD",
        "username": arn, "tags": tags}}, {"clusterName": "prod", "principalArn": arn})
    stub.add_response("list_associated_access_policies", {"clusterName": "prod", "principalArn": arn, "associatedAccessPolicies": [
        {"policyArn": p, "accessScope": {"type": "cluster"}} for p in policies]}, {"clusterName": "prod", "principalArn": arn})


def test_read_then_apply_creates_associates_and_deletes_only_our_entries(eks):
    client, stub = eks
    stub.add_response("list_access_entries", {"accessEntries": [ADMIN, OLD, "arn:aws:iam::123456789012:role/eks-node"]},
                      {"clusterName": "prod"})
    _describe(stub, ADMIN, "access", policies=[VIEW])
    _describe(stub, OLD, "access")
    _describe(stub, "arn:aws:iam::123456789012:role/eks-node", None, groups=["nodes"])
    current = ae.read(client, "prod")
    desired = ae.validate([{"principal_arn": ADMIN, "access_policies": [{"policy_arn": "AmazonEKSClusterAdminPolicy"}]},
                           {"principal_arn": AUDITOR, "kubernetes_groups": ["auditors"],
                            "access_policies": [{"policy_arn": "AmazonEKSViewPolicy"}]}])
    actions = ae.plan(desired, current, "access")
    assert [action[:2] for action in actions] == [("associate", ADMIN), ("disassociate", ADMIN), ("create", AUDITOR),
                                                  ("associate", AUDITOR), ("delete", OLD)]
    stub.add_response("associate_access_policy", {}, {"clusterName": "prod", "principalArn": ADMIN, "policyArn": ADMIN_POLICY,
                                                      "accessScope": {"type": "cluster"}})
    stub.add_response("disassociate_access_policy", {}, {"clusterName": "prod", "principalArn": ADMIN, "policyArn": VIEW})
    stub.add_response("create_access_entry", {}, {"clusterName": "prod", "principalArn": AUDITOR, "type": "STANDARD",
                                                  "kubernetesGroups": ["auditors"], "tags": {ae.OWNER_TAG: "access"}})
    stub.add_response("associate_access_policy", {}, {"clusterName": "prod", "principalArn": AUDITOR, "policyArn": VIEW,
                                                      "accessScope": {"type": "cluster"}})
    stub.add_response("delete_access_entry", {}, {"clusterName": "prod", "principalArn": OLD})
    ae.apply(client, "prod", "access", actions)


def test_rerun_with_matching_state_plans_nothing(eks):
    client, stub = eks
    stub.add_response("list_access_entries", {"accessEntries": [AUDITOR]}, {"clusterName": "prod"})
    _describe(stub, AUDITOR, "access", groups=["auditors"], policies=[VIEW])
    desired = ae.validate([{"principal_arn": AUDITOR, "kubernetes_groups": ["auditors"],
                            "access_policies": [{"policy_arn": "AmazonEKSViewPolicy"}]}])
    assert ae.plan(desired, ae.read(client, "prod"), "access") == []


def test_entries_of_others_are_never_taken_over():
    current = {ADMIN: {"owner": None, "type": "STANDARD", "kubernetes_groups": [], "username": None, "access_policies": {}},
               AUDITOR: {"owner": "karpenter", "type": "STANDARD", "kubernetes_groups": [], "username": None, "access_policies": {}}}
    with pytest.raises(ae.AccessEntryError, match=r"^entries\[0\].principal_arn: .* EKS, by hand"):
        ae.plan(ae.validate([{"principal_arn": ADMIN}]), current, "access")
    with pytest.raises(ae.AccessEntryError, match="owner 'karpenter'"):
        ae.plan(ae.validate([{"principal_arn": AUDITOR}]), current, "access")
    assert ae.plan([], current, "access") == []


def test_update_when_groups_change_and_type_cannot_change():
    current = {ADMIN: {"owner": "access", "type": "STANDARD", "kubernetes_groups": ["a"], "username": None, "access_policies": {}}}
    assert ae.plan(ae.validate([{"principal_arn": ADMIN, "kubernetes_groups": ["b"]}]), current, "access")[0][0] == "update"
    with pytest.raises(ae.AccessEntryError, match=r"^entries\[0\].type:"):
        ae.plan(ae.validate([{"principal_arn": ADMIN, "type": "EC2_LINUX"}]), current, "access")


def test_a_node_entry_as_eks_returns_it_is_not_updated():
    """EKS gives an EC2_LINUX entry the group system:nodes and the node username, and refuses to update either."""
    current = {ADMIN: {"owner": "karpenter", "type": "EC2_LINUX", "kubernetes_groups": ["system:nodes"],
                       "username": "system:node:{{EC2PrivateDNSName}}", "access_policies": {}}}
    assert ae.plan(ae.validate([{"principal_arn": ADMIN, "type": "EC2_LINUX"}]), current, "karpenter") == []
