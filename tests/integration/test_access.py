"""nodeless.eks.access (aws-auth mode) against the lab's real API server.

EKS access entries are not covered here: moto has no access-entry API. That path is unit-tested
with botocore's Stubber (tests/unit/plugins/module_utils/test_access_entries.py).

One lifecycle for the file (the ``life`` fixture): check (untouched) -> converge -> the re-run and a refused
mapping of the hand-made entry, in one run (untouched) -> fewer roles, aws-auth read, owner removed, in one run;
the tests read its results.
"""
from __future__ import annotations

import json
import uuid

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import aws_auth
from support import labenv
from support import playbook as runner
from support.snapshots import untouched_run

pytestmark = pytest.mark.lab

OWNERS = "nodeless.eks/aws-auth-owners"  # the annotation naming each owner's ARNs
HAND_MADE = "- rolearn: arn:aws:iam::123456789012:role/{name}\n  username: hand\n  groups: [hand-made]\n"


def _play(name: str = "access", **role_vars) -> dict:
    return {"name": name, "hosts": "lab", "gather_facts": False, "roles": [{"role": "nodeless.eks.access", "vars": role_vars}]}


READ_AWS_AUTH = {"name": "read aws-auth", "hosts": "lab", "gather_facts": False, "tasks": [
    {"name": "aws-auth", "kubernetes.core.k8s_info": {"kind": "ConfigMap", "namespace": "kube-system", "name": "aws-auth"}}]}


def _cm():
    from kubernetes import client

    return client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("aws-auth", "kube-system")


@pytest.fixture(scope="module")
def hand_made(lab):
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


def _owners(cm) -> dict:
    return json.loads((cm.metadata.annotations or {}).get(OWNERS) or "{}")


@pytest.fixture(scope="module")
def other_owner(hand_made):
    """A mapRoles entry of another owner, appended to aws-auth with its owner annotation; removed after."""
    name = f"other-{uuid.uuid4().hex[:6]}"
    entry = {"rolearn": f"arn:aws:iam::123456789012:role/{name}", "username": "other", "groups": ["other-team"]}
    _map_roles_as(name, [entry])
    yield name, entry
    _map_roles_as(name, [])


@pytest.fixture(scope="module")
def life(hand_made, other_owner):
    owner = f"test-{uuid.uuid4().hex[:6]}"
    node = {"rolearn": f"arn:aws:iam::123456789012:role/{owner}-node", "username": "system:node:{{EC2PrivateDNSName}}",
            "groups": ["system:bootstrappers", "system:nodes"]}
    admin = {"rolearn": f"arn:aws:iam::123456789012:role/{owner}-admin", "username": "admin", "groups": ["platform-admins"]}
    user = {"userarn": f"arn:aws:iam::123456789012:user/{owner}-alice", "username": "alice", "groups": ["viewers"]}
    # Playbook vars are templated: escape the braces aws-auth needs literally.
    escaped = dict(node, username="system:node:{{ '{{' }}EC2PrivateDNSName{{ '}}' }}")
    role = {"access_owner": owner, "access_aws_auth_roles": [escaped, admin], "access_aws_auth_users": [user]}
    conflict = {"access_owner": "conflict", "access_aws_auth_roles": [
        {"rolearn": f"arn:aws:iam::123456789012:role/{hand_made[0]}", "username": "hand", "groups": ["system:masters"]}]}
    out = {"owner": owner, "node": node, "admin": admin, "user": user}
    removed = False
    try:
        out["check"], out["check_untouched"] = untouched_run(runner.run, [_play(**role)], check=True, diff=True)
        out["real"] = runner.run([_play(**role)])
        out["converged"] = _cm()
        # the re-run, then the refused mapping (its play fails, last): neither writes
        out["again"], out["again_untouched"] = untouched_run(runner.run, [_play(**role), _play("conflict", **conflict)])
        # fewer roles, aws-auth as that left it, then the owner's mappings removed (access_owner alone)
        out["fewer"] = runner.run([_play(**{**role, "access_aws_auth_roles": [admin]}), READ_AWS_AUTH, _play("remove", access_owner=owner)])
        removed = out["fewer"].rc == 0
        out["removed"] = _cm()
        yield out
    finally:
        if not removed:
            assert runner.run([_play(access_owner=owner)]).rc == 0


def _plays(run) -> list[list[tuple[str, dict]]]:
    """Per play: (task name, result) of every task."""
    return [[(t["task"]["name"], res) for t in play["tasks"] for res in t["hosts"].values()] for play in run.data.get("plays", [])]


def _changed(results: list) -> int:
    return sum(1 for _name, res in results if res.get("changed"))


def _failed(results: list) -> list:
    return [(name, res.get("msg")) for name, res in results if res.get("failed")]


def test_aws_auth_merge_keeps_foreign_entries_and_is_idempotent(life, hand_made, other_owner):
    hand_name, hand_entry = hand_made
    other_name, other_entry = other_owner
    owner, node, admin, user = life["owner"], life["node"], life["admin"], life["user"]
    check = life["check"]
    assert check.rc == 0 and check.total_changed() == 1 and life["check_untouched"] is None, (check.failure_text(), life["check_untouched"])
    predicted = [c["resource"] for _name, _host, res in check.tasks() for c in res.get("changes", [])]
    assert len(predicted) == 3

    real = life["real"]
    assert real.rc == 0 and real.total_changed() == 1, real.failure_text()
    data = life["converged"].data
    roles = yaml.safe_load(data["mapRoles"])
    assert roles[0] == yaml.safe_load(hand_entry)[0], "the hand-made entry was changed or moved"
    assert node in roles and admin in roles
    assert user in yaml.safe_load(data["mapUsers"])
    arns = [r["rolearn"] for r in roles]
    assert arns.count(node["rolearn"]) == 1 and arns.count(admin["rolearn"]) == 1
    assert other_entry in roles, "another owner's entry was changed or removed"
    owners = _owners(life["converged"])
    assert owners[owner] == {"mapRoles": sorted([node["rolearn"], admin["rolearn"]]), "mapUsers": [user["userarn"]]}
    assert owners[other_name] == {"mapRoles": [other_entry["rolearn"]]}, "another owner's record was changed"

    # the re-run: nothing changed, no write (untouched: no API server write, the cluster as it was)
    again = _plays(life["again"])[0]
    assert life["again_untouched"] is None, life["again_untouched"]
    assert _failed(again) == [] and _changed(again) == 0

    fewer, read, remove = _plays(life["fewer"])
    assert _failed(fewer) == [] and _changed(fewer) == 1
    roles = yaml.safe_load(read[0][1]["resources"][0]["data"]["mapRoles"])
    assert node not in roles and admin in roles and any(r["rolearn"].endswith(hand_name) for r in roles)
    assert other_entry in roles

    assert life["fewer"].rc == 0 and _failed(remove) == [], life["fewer"].failure_text()
    assert owner not in (life["removed"].metadata.annotations or {}).get(OWNERS, "")
    owners = _owners(life["removed"])
    assert owners[other_name] == {"mapRoles": [other_entry["rolearn"]]} and other_entry in yaml.safe_load(life["removed"].data["mapRoles"])


def test_mapping_an_arn_made_by_hand_with_other_groups_fails_and_writes_nothing(life):
    assert life["again_untouched"] is None, life["again_untouched"]  # the refused run wrote nothing
    assert life["again"].rc != 0
    text = "\n".join(str(msg) for _name, msg in _failed(_plays(life["again"])[1]))
    assert "access_aws_auth_roles[0].rolearn" in text and "by hand or another tool" in text and "hand-made" in text
