"""nodeless.eks.access (aws-auth mode) against the lab's real API server.

EKS access entries are not covered here: moto has no access-entry API. That path is unit-tested
with botocore's Stubber (tests/unit/plugins/module_utils/test_access_entries.py).
"""
from __future__ import annotations

import json
import uuid

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import aws_auth
from support import labenv
from support.snapshots import untouched

pytestmark = pytest.mark.lab

OWNERS = "nodeless.eks/aws-auth-owners"  # the annotation naming each owner's ARNs
HAND_MADE = "- rolearn: arn:aws:iam::123456789012:role/{name}\n  username: hand\n  groups: [hand-made]\n"


def _play(**role_vars) -> list:
    return [{"name": "access", "hosts": "lab", "gather_facts": False,
             "roles": [{"role": "nodeless.eks.access", "vars": role_vars}]}]


def _cm():
    from kubernetes import client

    return client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("aws-auth", "kube-system")


@pytest.fixture
def hand_made():
    """A mapRoles entry written by hand (no owner), prepended to whatever aws-auth holds; removed after."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(labenv.k8s_client())
    name = f"hand-{uuid.uuid4().hex[:6]}"
    entry = HAND_MADE.format(name=name)
    try:
        cm = core.read_namespaced_config_map("aws-auth", "kube-system")
        data = dict(cm.data or {})
        data["mapRoles"] = entry + (data.get("mapRoles") or "")
        core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": data})
    except ApiException as exc:
        if exc.status != 404:
            raise
        core.create_namespaced_config_map("kube-system", {"metadata": {"name": "aws-auth"}, "data": {"mapRoles": entry}})
    yield name, entry
    data = dict(_cm().data or {})
    kept = [r for r in yaml.safe_load(data["mapRoles"]) or [] if not r["rolearn"].endswith("/" + name)]
    data["mapRoles"] = yaml.safe_dump(kept, sort_keys=False) if kept else ""
    core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": data})


def _map_roles_as(owner: str, roles: list):
    """Write OWNER's mapRoles and owner annotation as nodeless.eks.aws_auth does (module_utils.aws_auth.merge)."""
    from kubernetes import client

    core = client.CoreV1Api(labenv.k8s_client())
    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
    annotation = (cm.metadata.annotations or {}).get(OWNERS)
    plan = aws_auth.merge(cm.data, annotation, owner, roles, [])
    core.patch_namespaced_config_map("aws-auth", "kube-system", {
        "metadata": {"annotations": {OWNERS: plan["annotation"]}},
        "data": {"mapRoles": plan["data"].get("mapRoles") or ""}})


def _owners() -> dict:
    return json.loads((_cm().metadata.annotations or {}).get(OWNERS) or "{}")


@pytest.fixture
def other_owner(hand_made):
    """A mapRoles entry of another owner, appended to aws-auth with its owner annotation; removed after."""
    name = f"other-{uuid.uuid4().hex[:6]}"
    entry = {"rolearn": f"arn:aws:iam::123456789012:role/{name}", "username": "other", "groups": ["other-team"]}
    _map_roles_as(name, [entry])
    yield name, entry
    _map_roles_as(name, [])


def test_aws_auth_merge_keeps_foreign_entries_and_is_idempotent(playbook, hand_made, other_owner):
    hand_name, hand_entry = hand_made
    other_name, other_entry = other_owner
    owner = f"test-{uuid.uuid4().hex[:6]}"
    node = {"rolearn": f"arn:aws:iam::123456789012:role/{owner}-node", "username": "system:node:{{EC2PrivateDNSName}}",
            "groups": ["system:bootstrappers", "system:nodes"]}
    admin = {"rolearn": f"arn:aws:iam::123456789012:role/{owner}-admin", "username": "admin", "groups": ["platform-admins"]}
    user = {"userarn": f"arn:aws:iam::123456789012:user/{owner}-alice", "username": "alice", "groups": ["viewers"]}
    # Playbook vars are templated: escape the braces aws-auth needs literally.
    escaped = dict(node, username="system:node:{{ '{{' }}EC2PrivateDNSName{{ '}}' }}")
    role = {"access_owner": owner, "access_aws_auth_roles": [escaped, admin], "access_aws_auth_users": [user]}

    with untouched():
        check = playbook(_play(**role), check=True, diff=True)
    assert check.rc == 0 and check.total_changed() == 1, check.failure_text()
    predicted = [c["resource"] for _name, _host, res in check.tasks() for c in res.get("changes", [])]
    assert len(predicted) == 3

    try:
        real = playbook(_play(**role))
        assert real.rc == 0 and real.total_changed() == 1, real.failure_text()
        data = _cm().data
        roles = yaml.safe_load(data["mapRoles"])
        assert roles[0] == yaml.safe_load(hand_entry)[0], "the hand-made entry was changed or moved"
        assert node in roles and admin in roles
        assert user in yaml.safe_load(data["mapUsers"])
        arns = [r["rolearn"] for r in roles]
        assert arns.count(node["rolearn"]) == 1 and arns.count(admin["rolearn"]) == 1
        assert other_entry in roles, "another owner's entry was changed or removed"
        owners = _owners()
        assert owners[owner] == {"mapRoles": sorted([node["rolearn"], admin["rolearn"]]), "mapUsers": [user["userarn"]]}
        assert owners[other_name] == {"mapRoles": [other_entry["rolearn"]]}, "another owner's record was changed"

        offset = labenv.k8s_writes()[0]
        again = playbook(_play(**role))
        assert again.rc == 0 and again.total_changed() == 0
        assert labenv.k8s_writes(offset)[1] == []

        fewer = playbook(_play(**{**role, "access_aws_auth_roles": [admin]}))
        assert fewer.rc == 0 and fewer.total_changed() == 1
        roles = yaml.safe_load(_cm().data["mapRoles"])
        assert node not in roles and admin in roles and any(r["rolearn"].endswith(hand_name) for r in roles)
        assert other_entry in roles
    finally:
        assert playbook(_play(access_owner=owner)).rc == 0
    assert owner not in (_cm().metadata.annotations or {}).get(OWNERS, "")
    owners = _owners()
    assert owners[other_name] == {"mapRoles": [other_entry["rolearn"]]} and other_entry in yaml.safe_load(_cm().data["mapRoles"])


def test_mapping_an_arn_made_by_hand_with_other_groups_fails_and_writes_nothing(playbook, hand_made):
    hand_name = hand_made[0]
    role = {"access_owner": "conflict", "access_aws_auth_roles": [
        {"rolearn": f"arn:aws:iam::123456789012:role/{hand_name}", "username": "hand", "groups": ["system:masters"]}]}
    with untouched():
        result = playbook(_play(**role))
    assert result.rc != 0
    text = result.failure_text()
    assert "access_aws_auth_roles[0].rolearn" in text and "by hand or another tool" in text and "hand-made" in text
