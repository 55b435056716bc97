"""nodeless.eks.kubeconfig against the lab's real API server: RBAC is enforced, tokens stay secret.

Covers: check mode writes nothing; a view token lists pods and gets 403 creating one; the file is
0600 and a -vvv run never prints the token; a re-run is changed=0 with no API write; a
namespace-scoped token gets 403 elsewhere; an expired token gets 401 and the role renews it; the
legacy Secret is filled by the real token controller (its token held to its RBAC); the break-glass
binding is cluster-admin and a revoked break-glass account gets 403; exec files carry role and profile.
"""
from __future__ import annotations

import base64
import json
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


@pytest.fixture
def outdir(tmp_path) -> Path:
    path = tmp_path / "kubeconfigs"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def namespace():
    """A namespace of the test's own, deleted after (with the ClusterRoleBindings the role made for it)."""
    from kubernetes import client

    name = f"kc-{uuid.uuid4().hex[:6]}"
    yield name
    api = labenv.k8s_client()
    rbac = client.RbacAuthorizationV1Api(api)
    for crb in rbac.list_cluster_role_binding(label_selector="app.kubernetes.io/managed-by=nodeless.eks").items:
        if any(s.namespace == name for s in crb.subjects or []):
            rbac.delete_cluster_role_binding(crb.metadata.name)
    client.CoreV1Api(api).delete_namespace(name)


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


def _eventually(probe, expected, timeout: float = 15) -> bool:
    """The API server learns of deleted bindings, accounts and Secrets through informers: allow their lag."""
    deadline = time.monotonic() + timeout
    while (got := probe()) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert got == expected, f"got {got}, expected {expected} within {timeout}s"
    return True


def _pod(ns: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "denied", "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}


def test_view_token_check_mode_rbac_secrecy_and_idempotence(playbook, outdir, namespace):
    path = outdir / "view.kubeconfig"
    role = {"kubeconfig_service_account": "viewer", "kubeconfig_namespace": namespace, "kubeconfig_path": str(path)}

    with untouched():
        check = playbook(_play(**role), check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    assert check.total_changed() >= 3 and not path.exists()  # namespace, account+RBAC, token, file predicted

    real = playbook(_play(**role), verbosity=3, json_output=False)
    assert real.rc == 0, real.stdout[-3000:]
    token = _token(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert token not in real.stdout + real.stderr, "the token appeared in the -vvv output"
    assert token[-24:] not in real.stdout + real.stderr

    core = _core(path)
    assert _status(lambda: core.list_namespaced_pod("kube-system")) == 200
    assert _status(lambda: core.create_namespaced_pod(namespace, _pod(namespace))) == 403

    offset = labenv.k8s_writes()[0]
    again = playbook(_play(**role))
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert labenv.k8s_writes(offset)[1] == [], "a re-run with a valid token wrote to the API server"
    assert _token(path) == token

    check_again = playbook(_play(**role), check=True, diff=True)
    assert check_again.rc == 0 and check_again.total_changed() == 0, check_again.changed()


def test_namespace_scoped_token_is_refused_elsewhere(playbook, outdir, namespace):
    path = outdir / "edit.kubeconfig"
    result = playbook(_play(kubeconfig_service_account="editor", kubeconfig_namespace=namespace,
                            kubeconfig_cluster_role="edit", kubeconfig_rbac_namespaces=[namespace],
                            kubeconfig_path=str(path)))
    assert result.rc == 0, result.failure_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    core = _core(path)
    assert _status(lambda: core.list_namespaced_config_map(namespace)) == 200
    assert _status(lambda: core.list_namespaced_config_map("default")) == 403
    assert _status(lambda: core.list_namespaced_pod("kube-system")) == 403


def _expired_copy(token: str) -> str:
    """The same claims with exp in the past, signed with the lab's service-account key: a real expired token."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header, payload = token.split(".")[:2]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = int(time.time())
    claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}".encode()
    key = serialization.load_pem_private_key((Path(labenv.state()["dir"]) / "pki" / "sa.key").read_bytes(), None)
    return f"{signing_input.decode()}.{b64(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))}"


def test_expired_token_gets_401_and_is_renewed(playbook, outdir, namespace):
    path = outdir / "view.kubeconfig"
    role = {"kubeconfig_service_account": "viewer", "kubeconfig_namespace": namespace, "kubeconfig_path": str(path),
            "kubeconfig_token_expiration": 600, "kubeconfig_token_renew_before": 60}
    assert playbook(_play(**role)).rc == 0
    good = _token(path)
    expired = _expired_copy(good)
    path.write_text(path.read_text().replace(good, expired))
    assert _status(lambda: _core(path).list_namespaced_pod("kube-system")) == 401

    renewed = playbook(_play(**role))
    assert renewed.rc == 0 and renewed.total_changed() >= 2, renewed.changed()
    assert _token(path) not in (good, expired)
    assert _status(lambda: _core(path).list_namespaced_pod("kube-system")) == 200


def test_legacy_secret_filled_by_the_token_controller(playbook, outdir, namespace):
    from kubernetes import client

    path = outdir / "legacy.kubeconfig"
    role = {"kubeconfig_service_account": "legacy", "kubeconfig_namespace": namespace, "kubeconfig_path": str(path),
            "kubeconfig_token_type": "legacy_secret"}
    assert playbook(_play(**role)).rc == 0
    secret = client.CoreV1Api(labenv.k8s_client()).read_namespaced_secret("legacy-token", namespace)
    assert secret.type == "kubernetes.io/service-account-token"
    assert base64.b64decode(secret.data["token"]).decode() == _token(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _status(lambda: _core(path).list_namespaced_pod("kube-system")) == 200
    assert _status(lambda: _core(path).create_namespaced_pod(namespace, _pod(namespace))) == 403  # view only
    assert playbook(_play(**role)).total_changed() == 0


def test_break_glass_works_then_revoked_gets_403_then_absent_gets_401(playbook, outdir):
    path = outdir / "break-glass.kubeconfig"
    account = f"bg-{uuid.uuid4().hex[:6]}"
    role = {"kubeconfig_mode": "break_glass", "kubeconfig_break_glass_enabled": True, "kubeconfig_path": str(path),
            "kubeconfig_break_glass_service_account": account}
    try:
        result = playbook(_play(**role), verbosity=3, json_output=False)
        assert result.rc == 0, result.stdout[-3000:]
        token = _token(path)
        assert token not in result.stdout + result.stderr
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert _status(lambda: _core(path).list_node()) == 200
        binding = _rbac(path).read_cluster_role_binding(f"nodeless-kubeconfig-kube-system-{account}")
        assert (binding.role_ref.kind, binding.role_ref.name) == ("ClusterRole", "cluster-admin")
        assert [(s.kind, s.namespace, s.name) for s in binding.subjects] == [("ServiceAccount", "kube-system", account)]

        assert playbook(_play(**role, kubeconfig_state="revoked")).rc == 0
        assert _eventually(lambda: _status(lambda: _core(path).list_node()), 403)

        assert playbook(_play(**role, kubeconfig_state="absent")).rc == 0
        assert not path.exists()
        cluster = {"server": labenv.state()["api_endpoint"], "insecure-skip-tls-verify": True}
        path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "x",
                                        "clusters": [{"name": "x", "cluster": cluster}],
                                        "users": [{"name": "x", "user": {"token": token}}],
                                        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
        assert _eventually(lambda: _status(lambda: _core(path).list_node()), 401)
    finally:
        playbook(_play(**role, kubeconfig_state="absent"))


def test_exec_kubeconfig_and_fact(playbook, outdir):
    path = outdir / "exec.kubeconfig"
    result = playbook([{"name": "exec", "hosts": "lab", "gather_facts": False,
                        "roles": [{"role": "nodeless.eks.kubeconfig",
                                   "vars": {"kubeconfig_mode": "exec", "kubeconfig_path": str(path), "kubeconfig_set_fact": True,
                                            "kubeconfig_exec_role_arn": "arn:aws:iam::123456789012:role/admins",
                                            "kubeconfig_exec_profile": "ops"}}],
                        "tasks": [{"name": "fact equals file", "ansible.builtin.assert": {
                            "that": [f"kubeconfig_content == lookup('ansible.builtin.file', '{path}') + '\\n'"]}}]}])
    assert result.rc == 0, result.failure_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = yaml.safe_load(path.read_text())
    ex = doc["users"][0]["user"]["exec"]
    assert ex["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert ex["command"] == "aws" and ex["args"][:7] == ["--region", "us-west-2", "eks", "get-token", "--cluster-name", "lab", "--output"]
    assert ex["args"][-2:] == ["--role-arn", "arn:aws:iam::123456789012:role/admins"]
    assert ex["env"] == [{"name": "AWS_PROFILE", "value": "ops"}]
    assert doc["clusters"][0]["cluster"]["server"] == labenv.state()["api_endpoint"]
