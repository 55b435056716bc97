import json

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import aws_auth as aa

NODE = {"rolearn": "arn:aws:iam::123456789012:role/node", "username": "system:node:{{EC2PrivateDNSName}}",
        "groups": ["system:bootstrappers", "system:nodes"]}
ADMIN = {"rolearn": "arn:aws:iam::123456789012:role/admin", "username": "admin", "groups": ["system:masters"]}
HAND_MADE = "- rolearn: arn:aws:iam::123456789012:role/eks-managed\n  username: x\n  groups: [system:nodes]  # by hand\n"


def _roles(data):
    return yaml.safe_load(data["mapRoles"])


def test_adds_ours_and_keeps_hand_made_entries_byte_for_byte_on_rerun():
    plan = aa.merge({"mapRoles": HAND_MADE}, None, "karpenter", [NODE], [])
    assert plan["changed"] and plan["actions"] == [("mapRoles", "add", NODE["rolearn"])]
    assert [r["rolearn"] for r in _roles(plan["data"])] == ["arn:aws:iam::123456789012:role/eks-managed", NODE["rolearn"]]
    again = aa.merge(plan["data"], plan["annotation"], "karpenter", [NODE], [])
    assert not again["changed"] and again["actions"] == [] and again["data"] == plan["data"]


def test_removing_from_our_list_removes_only_our_entry():
    first = aa.merge({"mapRoles": HAND_MADE}, None, "access", [NODE, ADMIN], [])
    second = aa.merge(first["data"], first["annotation"], "access", [ADMIN], [])
    assert second["actions"] == [("mapRoles", "remove", NODE["rolearn"])]
    assert sorted(r["rolearn"] for r in _roles(second["data"])) == sorted(
        ["arn:aws:iam::123456789012:role/eks-managed", ADMIN["rolearn"]])


def test_owners_do_not_remove_each_others_entries():
    a = aa.merge({}, None, "karpenter", [NODE], [])
    b = aa.merge(a["data"], a["annotation"], "access", [ADMIN], [])
    c = aa.merge(b["data"], b["annotation"], "access", [], [])
    assert [r["rolearn"] for r in _roles(c["data"])] == [NODE["rolearn"]]
    assert json.loads(c["annotation"]) == {"karpenter": {"mapRoles": [NODE["rolearn"]]}}


def test_changed_groups_are_updated_in_place():
    a = aa.merge({}, None, "access", [ADMIN, NODE], [])
    b = aa.merge(a["data"], a["annotation"], "access", [dict(ADMIN, groups=["viewers"]), NODE], [])
    assert b["actions"] == [("mapRoles", "change", ADMIN["rolearn"])]
    assert _roles(b["data"])[0] == dict(ADMIN, groups=["viewers"])


def test_an_arn_mapped_by_someone_else_with_other_groups_is_refused():
    with pytest.raises(aa.AwsAuthError) as err:
        aa.merge({"mapRoles": HAND_MADE}, None, "access",
                 [{"rolearn": "arn:aws:iam::123456789012:role/eks-managed", "username": "x", "groups": ["admins"]}], [])
    assert str(err.value).startswith("map_roles[0].rolearn:") and "by hand or another tool" in str(err.value)


def test_an_arn_of_another_owner_is_refused_naming_that_owner():
    a = aa.merge({}, None, "karpenter", [NODE], [])
    with pytest.raises(aa.AwsAuthError, match="by owner 'karpenter'"):
        aa.merge(a["data"], a["annotation"], "access", [dict(NODE, groups=["x"])], [])


def test_an_identical_foreign_entry_is_left_alone_and_not_taken_over():
    a = aa.merge({}, None, "karpenter", [NODE], [])
    b = aa.merge(a["data"], a["annotation"], "access", [NODE], [])
    assert not b["changed"] and "access" not in json.loads(b["annotation"])


def test_validate_names_duplicates_with_different_groups():
    with pytest.raises(aa.AwsAuthError) as err:
        aa.validate([NODE, dict(NODE, groups=["other"])], "map_roles", "rolearn", "role")
    assert str(err.value).startswith("map_roles[1].rolearn:") and "map_roles[0]" in str(err.value)
    assert aa.validate([NODE, dict(NODE)], "map_roles", "rolearn", "role") == [NODE]


@pytest.mark.parametrize("entry,field", [
    ({"rolearn": "arn:aws:iam::123456789012:user/bob"}, "map_roles[0].rolearn"),
    ({"rolearn": "arn:aws:iam::1:role/x"}, "map_roles[0].rolearn"),
    ({"rolearn": NODE["rolearn"], "groups": "system:nodes"}, "map_roles[0].groups"),
    ({"rolearn": NODE["rolearn"], "username": ""}, "map_roles[0].username"),
    ({"rolearn": NODE["rolearn"], "grups": []}, "map_roles[0]"),
    ("arn", "map_roles[0]"),
])
def test_validate_rejects_bad_entries_naming_the_field(entry, field):
    with pytest.raises(aa.AwsAuthError) as err:
        aa.validate([entry], "map_roles", "rolearn", "role")
    assert str(err.value).startswith(field + ":")


def test_users_map_is_merged_like_roles():
    user = {"userarn": "arn:aws:iam::123456789012:user/alice", "username": "alice", "groups": ["devs"]}
    plan = aa.merge({}, None, "access", [], aa.validate([user], "map_users", "userarn", "user"))
    assert yaml.safe_load(plan["data"]["mapUsers"]) == [user] and "mapRoles" not in plan["data"]


def test_unparsable_existing_map_is_reported_not_overwritten():
    with pytest.raises(aa.AwsAuthError, match="aws-auth mapRoles"):
        aa.merge({"mapRoles": "- [unclosed"}, None, "access", [NODE], [])
    with pytest.raises(aa.AwsAuthError, match="not a list"):
        aa.merge({"mapRoles": "a: b"}, None, "access", [NODE], [])
