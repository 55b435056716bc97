"""aws-auth -> access entries: what each mapping becomes, and what is reported instead (pure planning, no I/O)."""
import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import access_migration as am

ACCOUNT = "123456789012"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE = {"rolearn": f"arn:aws:iam::{ACCOUNT}:role/ng", "username": "system:node:{{EC2PrivateDNSName}}",
        "groups": ["system:bootstrappers", "system:nodes"]}


def _role(name):
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def _user(name):
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def _data(roles=(), users=(), accounts=None):
    data = {"mapRoles": yaml.safe_dump(list(roles)), "mapUsers": yaml.safe_dump(list(users))}
    if accounts is not None:
        data["mapAccounts"] = yaml.safe_dump(accounts)
    return data


def _one(mapping, kind="role"):
    key = "rolearn" if kind == "role" else "userarn"
    data = _data(roles=[mapping] if kind == "role" else [], users=[mapping] if kind == "user" else [])
    row = am.plan(data, {}, {}, "mig")["rows"][0]
    assert row["principal_arn"] == mapping[key]
    return row


def test_system_masters_becomes_the_cluster_admin_policy_and_other_groups_stay_groups():
    row = _one({"rolearn": _role("admin"), "username": "admin", "groups": ["system:masters", "ops"]})
    assert row["outcome"] == "entry"
    assert row["entry"] == {"principal_arn": _role("admin"), "type": "STANDARD", "username": "admin", "kubernetes_groups": ["ops"],
                            "access_policies": {ADMIN_POLICY: {"type": "cluster"}}}
    assert am.describe(row) == (f"aws_auth.mapRoles[0] {_role('admin')} -> STANDARD access entry, Kubernetes groups ['ops'], "
                                "username admin, access policy AmazonEKSClusterAdminPolicy (cluster)")


def test_users_keep_their_groups_and_username():
    row = _one({"userarn": _user("alice"), "username": "alice", "groups": ["readers"]}, "user")
    assert row["entry"] == {"principal_arn": _user("alice"), "type": "STANDARD", "username": "alice", "kubernetes_groups": ["readers"],
                            "access_policies": {}}


@pytest.mark.parametrize("groups,kind", [
    (["system:bootstrappers", "system:nodes"], "EC2_LINUX"),
    (["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"], "EC2_WINDOWS"),
    (["system:bootstrappers", "system:nodes", "system:node-proxier"], "FARGATE_LINUX"),
])
def test_node_mappings_become_node_entries_without_groups_or_username(groups, kind):
    username = am.NODE_USERNAME[kind]
    row = _one({"rolearn": _role("nodes"), "username": username, "groups": groups})
    assert row["outcome"] == "entry"
    assert row["entry"] == {"principal_arn": _role("nodes"), "type": kind, "kubernetes_groups": [], "username": None, "access_policies": {}}


def test_managed_node_group_and_fargate_roles_are_left_to_eks_and_counted_once_present():
    fargate = {"rolearn": _role("fargate"), "username": "system:node:{{SessionName}}",
               "groups": ["system:bootstrappers", "system:nodes", "system:node-proxier"]}
    data = _data(roles=[NODE, fargate])
    managed = {NODE["rolearn"]: "EC2_LINUX", _role("fargate"): "FARGATE_LINUX"}
    before = am.plan(data, {}, managed, "mig")
    assert [r["outcome"] for r in before["rows"]] == ["eks", "eks"] and before["desired"] == []
    assert before["eks"] == managed
    current = {NODE["rolearn"]: {"owner": None, "type": "EC2_LINUX"}, _role("fargate"): {"owner": None, "type": "FARGATE_LINUX"}}
    after = am.plan(data, current, managed, "mig")
    assert [r["outcome"] for r in after["rows"]] == ["exists", "exists"] and after["eks"] == {}


def test_a_managed_role_mapped_as_something_else_is_reported():
    row = am.plan(_data(roles=[{"rolearn": NODE["rolearn"], "groups": ["system:masters"]}]), {}, {NODE["rolearn"]: "EC2_LINUX"}, "mig")
    assert row["blocking"][0]["reason"].startswith("the role of a managed node group or Fargate profile")


@pytest.mark.parametrize("username,entry_username", [
    ("deployer:{{SessionName}}", "deployer:{{SessionName}}"),
    ("a:b-{{SessionNameRaw}}", "a:b-{{SessionNameRaw}}"),
    ("ops-{{AccountID}}", f"ops-{ACCOUNT}"),  # the principal's account: known now, the same for every request
])
def test_username_templates_access_entries_can_express(username, entry_username):
    row = _one({"rolearn": _role("deployer"), "username": username, "groups": ["deployers"]})
    assert row["outcome"] == "entry" and row["entry"]["username"] == entry_username


@pytest.mark.parametrize("mapping,kind,reason", [
    ({"rolearn": _role("x"), "username": "x-{{AccessKeyID}}", "groups": ["g"]}, "role", "access entries have no {{AccessKeyID}} template"),
    ({"rolearn": _role("x"), "username": "x-{{SessionName}}", "groups": ["g"]}, "role", "only after a colon"),
    ({"userarn": _user("x"), "username": "x:{{SessionName}}", "groups": ["g"]}, "user", "an IAM user has none"),
    ({"rolearn": _role("x"), "username": "{{EC2PrivateDNSName}}", "groups": ["g"]}, "role", "no {{EC2PrivateDNSName}} template"),
    ({"rolearn": _role("x"), "username": "system:x", "groups": ["g"]}, "role", "cannot start with system:"),
    ({"rolearn": _role("x"), "groups": ["system:monitoring"]}, "role", "groups ['system:monitoring']: an access entry takes no system: group"),
    ({"rolearn": _role("x"), "groups": ["system:bootstrappers", "system:nodes", "ops"]}, "role", "other groups ['ops']"),
    ({"rolearn": _role("x"), "username": "node-{{EC2PrivateDNSName}}", "groups": ["system:bootstrappers", "system:nodes"]}, "role",
     "username is always system:node:{{EC2PrivateDNSName}}"),
    ({"userarn": _user("x"), "groups": ["system:bootstrappers", "system:nodes"]}, "user", "node entries take roles only"),
    ({"userarn": f"arn:aws:iam::{ACCOUNT}:role/x", "groups": ["g"]}, "user", "is not an IAM user ARN"),
])
def test_what_access_entries_cannot_express_is_reported_not_dropped(mapping, kind, reason):
    row = _one(mapping, kind)
    assert row["outcome"] == "unmigrated" and row["entry"] is None
    assert reason in row["reason"]
    assert am.describe(row).endswith(f"NOT MIGRATED (blocks API): {row['reason']}")


def test_account_mappings_and_pathed_roles_are_reported():
    data = _data(roles=[{"rolearn": _role("team/x"), "groups": ["g"]}], accounts=["210987654321"])
    result = am.plan(data, {}, {}, "mig")
    assert [(r["source"], r["outcome"]) for r in result["rows"]] == [("aws_auth.mapRoles[0]", "inert"), ("aws_auth.mapAccounts[0]", "unmigrated")]
    assert "grants nothing today" in result["rows"][0]["reason"]
    assert result["blocking"] == [result["rows"][1]] and result["desired"] == []
    message = am.blocking_message(result["blocking"])
    assert message.startswith("authentication_mode: API would lock out") and "aws_auth.mapAccounts[0] (210987654321)" in message


def test_a_principal_mapped_twice_is_one_entry_or_reported():
    same = {"rolearn": _role("a"), "groups": ["g"]}
    result = am.plan(_data(roles=[same, same, {"rolearn": _role("a"), "groups": ["h"]}]), {}, {}, "mig")
    assert [r["outcome"] for r in result["rows"]] == ["entry", "duplicate", "unmigrated"]
    assert len(result["desired"]) == 1 and "mapped differently at aws_auth.mapRoles[0]" in result["rows"][2]["reason"]


def test_entries_of_others_are_kept_and_ours_are_planned_again():
    data = _data(roles=[{"rolearn": _role("a"), "groups": ["g"]}, {"rolearn": _role("b"), "groups": ["g"]}])
    current = {_role("a"): {"owner": None, "type": "STANDARD"}, _role("b"): {"owner": "mig", "type": "STANDARD"}}
    result = am.plan(data, current, {}, "mig")
    assert [r["outcome"] for r in result["rows"]] == ["exists", "entry"]
    assert "made by EKS, by hand or another tool; left as is" in result["rows"][0]["reason"]
    assert [d["principal_arn"] for d in result["desired"]] == [_role("b")]


@pytest.mark.parametrize("data,field", [
    ({"mapRoles": "- rolearn: [unclosed"}, "aws-auth mapRoles"),
    ({"mapRoles": "- just-a-string"}, "aws_auth.mapRoles[0]: must be a mapping"),
    ({"mapUsers": "- {userarn: x, groups: g}"}, "aws_auth.mapUsers[0].groups"),
    ({"mapAccounts": "[unclosed"}, "aws_auth.mapAccounts"),
])
def test_a_configmap_that_cannot_be_read_names_the_field(data, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        am.parse(data)


def test_an_empty_or_absent_configmap_plans_nothing():
    assert am.plan({}, {}, {}, "mig") == {"rows": [], "desired": [], "eks": {}, "blocking": []}
    assert am.plan(None, {}, {}, "mig")["rows"] == []


def test_an_entry_is_made_under_the_owner_that_mapped_it_in_aws_auth():
    karpenter = {"rolearn": _role("karpenter-node"), "username": "system:node:{{EC2PrivateDNSName}}", "groups": sorted(am.NODE_GROUPS)}
    data = _data(roles=[karpenter, {"rolearn": _role("ci"), "groups": ["g"]}])
    owners = '{"karpenter": {"mapRoles": ["%s"]}, "broken": "x"}' % _role("karpenter-node")
    result = am.plan(data, {}, {}, "mig", owners=owners)
    assert [d.get("owner") for d in result["desired"]] == ["karpenter", None]  # None: the migration's own owner
    assert am.describe(result["rows"][0]).endswith("EC2_LINUX access entry, owner karpenter (as in aws-auth)")
    made = {_role("karpenter-node"): {"owner": "karpenter", "type": "EC2_LINUX"}}
    again = am.plan(data, made, {}, "mig", owners=owners)  # that owner's entry now: left to it
    assert again["rows"][0]["outcome"] == "exists" and "made by owner karpenter" in again["rows"][0]["reason"]
    assert am.owners_of("not json") == {} and am.owners_of(None) == {}
