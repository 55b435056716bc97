"""nodeless.eks.kubeconfig against the lab's real API server: RBAC is enforced, tokens stay secret.

Covers: check mode writes nothing; a view token lists pods and gets 403 creating one; the file is
0600 and a -vvv run never prints the token; a re-run is changed=0 with no API write, through the
convergence record's gate (view) and through the full path (legacy); a namespace-scoped token gets
403 elsewhere; an expired token written into the file gets 401, the gate finds the file changed and the role renews it; the
legacy Secret is filled by the real token controller (its token held to its RBAC); the break-glass
binding is cluster-admin and a revoked break-glass account gets 403; exec files carry role and profile.
"""
from __future__ import annotations

import base64
import os
import stat
import time
import uuid
from pathlib import Path

import pytest
import yaml

from support import labenv
from support.snapshots import untouched

pytestmark = pytest.mark.lab


def _play(**role_vars) -> list:
    return [{"name": "kubeconfig", "hosts": "lab", "gather_facts": False,
             "roles": [{"role": "nodeless.eks.kubeconfig", "vars": role_vars}]}]


def _plays(roles: dict, *names: str) -> list:
    """One play per named kubeconfig (the play named after it), in one playbook run."""
    return [{**_play(**roles[name])[0], "name": name} for name in names]


def _play_changed(result, name: str) -> int:
    """How many task results of the play NAME changed (what total_changed counts, for that play only)."""
    return sum(1 for play in result.data.get("plays", []) if play["play"]["name"] == name
               for task in play.get("tasks", []) for res in task.get("hosts", {}).values() if res.get("changed"))


def _gate_lines(result, play: str) -> list[str]:
    """What the kubeconfig gate of the play PLAY said."""
    return [res["msg"] for p in result.data.get("plays", []) if p["play"]["name"] == play for task in p.get("tasks", [])
            if task["task"]["name"].endswith("Compare the file, the account and its RBAC with the convergence record")
            for res in task.get("hosts", {}).values() if "msg" in res]


def _token(path: Path) -> str:
    return yaml.safe_load(path.read_text())["users"][0]["user"]["token"]


def _core(path: Path):
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(str(path)))


def _rbac(path: Path):
    from kubernetes import client, config

    return client.RbacAuthorizationV1Api(config.new_client_from_config(str(path)))


def _status(call) -> int:
    from kubernetes.client.exceptions import ApiException

    try:
        call()
    except ApiException as exc:
        return exc.status
    return 200


def _settled(probe, expected, timeout: float = 15):
    """The API server learns of deleted bindings, accounts and Secrets through informers: allow their lag. Returns
    the last answer (EXPECTED, or what it still was after TIMEOUT)."""
    deadline = time.monotonic() + timeout
    while (got := probe()) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return got


def _pod(ns: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "denied", "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}


def _expired_copy(token: str) -> str:
    """The same claims with exp in the past, signed with the lab's service-account key: a real expired token."""
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    key = (Path(labenv.state()["dir"]) / "pki" / "sa.key").read_bytes()
    return jwt.encode(claims, key, algorithm="RS256", headers=jwt.get_unverified_header(token))


@pytest.fixture(scope="module")
def lifecycle(lab, tmp_path_factory):
    """The file's one sequence, read by every test. Six kubeconfigs in a namespace of the file's own: view (token),
    edit (scoped to that namespace), expiring (600 s token), legacy (Secret token), break-glass (in kube-system)
    and exec. Check mode of the view one on the bare namespace; all six in one -vvv run; the view and legacy ones
    re-run (writes counted), the view one in check mode again; the expiring one renewed after its token expired,
    with the break-glass one revoked in the same run; the break-glass one absent. What each step showed is kept
    (API answers with each file, file modes, tokens) for the tests."""
    from kubernetes import client

    from support import playbook as runner

    ns, account = f"kc-{uuid.uuid4().hex[:6]}", f"bg-{uuid.uuid4().hex[:6]}"
    out = tmp_path_factory.mktemp("kubeconfigs")
    out.chmod(0o700)
    paths = {name: out / f"{name}.kubeconfig" for name in ("view", "edit", "expiring", "legacy", "break-glass", "exec")}
    roles = {
        "view": {"kubeconfig_service_account": "viewer"},
        "edit": {"kubeconfig_service_account": "editor", "kubeconfig_cluster_role": "edit", "kubeconfig_rbac_namespaces": [ns]},
        "expiring": {"kubeconfig_service_account": "expiring", "kubeconfig_token_expiration": 600,
                     "kubeconfig_token_renew_before": 60},
        "legacy": {"kubeconfig_service_account": "legacy", "kubeconfig_token_type": "legacy_secret"},
    }
    roles = {name: {**values, "kubeconfig_namespace": ns, "kubeconfig_path": str(paths[name])} for name, values in roles.items()}
    # One convergence record per kubeconfig of the cluster (they share it otherwise, and each takes the full path).
    roles["break-glass"] = {"kubeconfig_mode": "break_glass", "kubeconfig_break_glass_enabled": True,
                            "kubeconfig_path": str(paths["break-glass"]), "kubeconfig_break_glass_service_account": account}
    roles["exec"] = {"kubeconfig_mode": "exec", "kubeconfig_path": str(paths["exec"]), "kubeconfig_set_fact": True,
                     "kubeconfig_exec_role_arn": "arn:aws:iam::123456789012:role/admins", "kubeconfig_exec_profile": "ops"}
    roles = {name: {**values, "kubeconfig_record_name": f"kc-{ns}-{name}"} for name, values in roles.items()}
    seen = {"ns": ns, "account": account, "paths": paths}
    absent_done = False
    try:
        with untouched():
            seen["check"] = runner.run(_play(**roles["view"]), check=True, diff=True)
        seen["view_written_by_check"] = paths["view"].exists()

        plays = _plays(roles, "view", "edit", "expiring", "legacy", "break-glass", "exec")
        plays[-1]["tasks"] = [{"name": "fact equals file", "ansible.builtin.assert": {
            "that": [f"kubeconfig_content == lookup('ansible.builtin.file', '{paths['exec']}') + '\\n'"]}}]
        first = seen["first"] = runner.run(plays, verbosity=3, json_output=False)
        assert first.rc == 0, first.stdout[-3000:]
        seen["output"] = first.stdout + first.stderr
        seen["modes"] = {name: stat.S_IMODE(os.stat(path).st_mode) for name, path in paths.items()}
        seen["tokens"] = {name: _token(paths[name]) for name in ("view", "edit", "expiring", "legacy", "break-glass")}
        view, edit, legacy = _core(paths["view"]), _core(paths["edit"]), _core(paths["legacy"])
        seen["view_status"] = (_status(lambda: view.list_namespaced_pod("kube-system")),
                               _status(lambda: view.create_namespaced_pod(ns, _pod(ns))))
        seen["edit_status"] = (_status(lambda: edit.list_namespaced_config_map(ns)),
                               _status(lambda: edit.list_namespaced_config_map("default")),
                               _status(lambda: edit.list_namespaced_pod("kube-system")))
        secret = client.CoreV1Api(labenv.k8s_client()).read_namespaced_secret("legacy-token", ns)
        seen["legacy_secret"] = (secret.type, base64.b64decode(secret.data["token"]).decode())
        seen["legacy_status"] = (_status(lambda: legacy.list_namespaced_pod("kube-system")),
                                 _status(lambda: legacy.create_namespaced_pod(ns, _pod(ns))))
        seen["break_glass_nodes"] = _status(lambda: _core(paths["break-glass"]).list_node())
        binding = _rbac(paths["break-glass"]).read_cluster_role_binding(f"nodeless-kubeconfig-kube-system-{account}")
        seen["break_glass_binding"] = ((binding.role_ref.kind, binding.role_ref.name),
                                       [(s.kind, s.namespace, s.name) for s in binding.subjects])
        seen["exec"] = yaml.safe_load(paths["exec"].read_text())

        offset = labenv.k8s_writes()[0]
        # view through its record's gate, legacy through the full path (its token read back from the file and reused).
        seen["again"] = runner.run(_plays({**roles, "legacy": {**roles["legacy"], "nodeless_eks_full_check": True}}, "view", "legacy"))
        seen["again_writes"] = labenv.k8s_writes(offset)[1]
        seen["tokens_again"] = {name: _token(paths[name]) for name in ("view", "legacy")}
        seen["check_again"] = runner.run(_play(**roles["view"]), check=True, diff=True)

        good = seen["tokens"]["expiring"]
        seen["expired"] = _expired_copy(good)
        paths["expiring"].write_text(paths["expiring"].read_text().replace(good, seen["expired"]))
        seen["expired_status"] = _status(lambda: _core(paths["expiring"]).list_namespaced_pod("kube-system"))
        renewed = seen["renewed"] = runner.run(_plays({**roles, "break-glass": {**roles["break-glass"], "kubeconfig_state": "revoked"}},
                                                      "expiring", "break-glass"))
        seen["renewed_token"] = _token(paths["expiring"])
        seen["renewed_status"] = _status(lambda: _core(paths["expiring"]).list_namespaced_pod("kube-system"))
        seen["revoked_nodes"] = _settled(lambda: _status(lambda: _core(paths["break-glass"]).list_node()), 403) if renewed.rc == 0 else None

        absent = seen["absent"] = runner.run(_play(**roles["break-glass"], kubeconfig_state="absent"))
        absent_done = absent.rc == 0
        seen["break_glass_file_after_absent"] = paths["break-glass"].exists()
        cluster = {"server": labenv.state()["api_endpoint"], "insecure-skip-tls-verify": True}
        paths["break-glass"].write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "x", "clusters": [{"name": "x", "cluster": cluster}],
            "users": [{"name": "x", "user": {"token": seen["tokens"]["break-glass"]}}],
            "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
        seen["absent_nodes"] = _settled(lambda: _status(lambda: _core(paths["break-glass"]).list_node()), 401)
        yield seen
    finally:
        if not absent_done:
            runner.run(_play(**roles["break-glass"], kubeconfig_state="absent"))
        api = labenv.k8s_client()
        rbac = client.RbacAuthorizationV1Api(api)
        for crb in rbac.list_cluster_role_binding(label_selector="app.kubernetes.io/managed-by=nodeless.eks").items:
            if any(s.namespace == ns for s in crb.subjects or []):
                rbac.delete_cluster_role_binding(crb.metadata.name)
        core = client.CoreV1Api(api)
        core.delete_namespace(ns)
        for record in core.list_namespaced_config_map("nodeless-eks", label_selector="nodeless.eks/capability").items:
            if record.metadata.labels["nodeless.eks/capability"].startswith(f"kc-{ns}-"):
                core.delete_namespaced_config_map(record.metadata.name, "nodeless-eks")


def test_view_token_check_mode_rbac_secrecy_and_idempotence(lifecycle):
    check = lifecycle["check"]
    assert check.rc == 0, check.failure_text()
    assert check.total_changed() >= 3 and not lifecycle["view_written_by_check"]  # namespace, account+RBAC, token, file predicted

    output, tokens = lifecycle["output"], lifecycle["tokens"]
    assert lifecycle["modes"]["view"] == 0o600
    for name, token in tokens.items():  # the -vvv run of all six kubeconfigs
        assert token not in output, f"the {name} token appeared in the -vvv output"
    assert tokens["view"][-24:] not in output
    assert lifecycle["view_status"] == (200, 403)  # list pods in kube-system; create a pod

    again = lifecycle["again"]  # the view and legacy kubeconfigs re-run, their tokens valid
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert lifecycle["again_writes"] == [], "a re-run with a valid token wrote to the API server"
    assert lifecycle["tokens_again"]["view"] == tokens["view"]
    # view ended at its gate: the namespace, ServiceAccount, ClusterRoleBinding and the file are those of its record
    [line] = _gate_lines(again, "view")
    assert line.startswith(f"kc-{lifecycle['ns']}-view: in sync (record ") and line.endswith(", 4 objects)"), line
    assert _gate_lines(again, "legacy") == []  # the full path, its gate skipped

    check_again = lifecycle["check_again"]
    assert check_again.rc == 0 and check_again.total_changed() == 0, check_again.changed()


def test_namespace_scoped_token_is_refused_elsewhere(lifecycle):
    assert lifecycle["modes"]["edit"] == 0o600
    # configmaps in its namespace, in default, pods in kube-system
    assert lifecycle["edit_status"] == (200, 403, 403)


def test_expired_token_gets_401_and_is_renewed(lifecycle):
    assert lifecycle["expired_status"] == 401
    renewed = lifecycle["renewed"]
    assert renewed.rc == 0 and _play_changed(renewed, "expiring") >= 2, renewed.changed()
    # the expired token written into the file out of band: the file is not the recorded one, so the role ran
    assert _gate_lines(renewed, "expiring") == [
        f"kc-{lifecycle['ns']}-expiring: not in sync, full path (file {lifecycle['paths']['expiring']}: sha256 changed)"]
    assert lifecycle["renewed_token"] not in (lifecycle["tokens"]["expiring"], lifecycle["expired"])
    assert lifecycle["renewed_status"] == 200


def test_legacy_secret_filled_by_the_token_controller(lifecycle):
    assert lifecycle["legacy_secret"] == ("kubernetes.io/service-account-token", lifecycle["tokens"]["legacy"])
    assert lifecycle["modes"]["legacy"] == 0o600
    assert lifecycle["legacy_status"] == (200, 403)  # list pods in kube-system; create a pod: view only
    again = lifecycle["again"]
    assert _play_changed(again, "legacy") == 0 and again.total_changed() == 0, again.changed()
    assert lifecycle["tokens_again"]["legacy"] == lifecycle["tokens"]["legacy"]


def test_break_glass_works_then_revoked_gets_403_then_absent_gets_401(lifecycle):
    account = lifecycle["account"]
    assert lifecycle["tokens"]["break-glass"] not in lifecycle["output"]
    assert lifecycle["modes"]["break-glass"] == 0o600
    assert lifecycle["break_glass_nodes"] == 200
    assert lifecycle["break_glass_binding"] == (("ClusterRole", "cluster-admin"), [("ServiceAccount", "kube-system", account)])

    assert lifecycle["renewed"].rc == 0, lifecycle["renewed"].failure_text()  # the revoking run
    assert lifecycle["revoked_nodes"] == 403

    assert lifecycle["absent"].rc == 0, lifecycle["absent"].failure_text()
    assert not lifecycle["break_glass_file_after_absent"]
    assert lifecycle["absent_nodes"] == 401


def test_exec_kubeconfig_and_fact(lifecycle):
    assert lifecycle["first"].rc == 0  # its play asserted kubeconfig_content == the file
    assert lifecycle["modes"]["exec"] == 0o600
    doc = lifecycle["exec"]
    ex = doc["users"][0]["user"]["exec"]
    assert ex["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert ex["command"] == "aws" and ex["args"][:7] == ["--region", "us-west-2", "eks", "get-token", "--cluster-name", "lab", "--output"]
    assert ex["args"][-2:] == ["--role-arn", "arn:aws:iam::123456789012:role/admins"]
    assert ex["env"] == [{"name": "AWS_PROFILE", "value": "ops"}]
    assert doc["clusters"][0]["cluster"]["server"] == labenv.state()["api_endpoint"]
