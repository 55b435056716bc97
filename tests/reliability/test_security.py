"""Security: no secret in -vvv output, credential files 0600, exact IRSA trust, STRICT mTLS after site.yml."""
from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import pytest
import yaml

from reliability_common import CANARY_SECRET, PLAYBOOKS, SITE, record
from support import labenv
from test_faults import faulted_first_run

pytestmark = pytest.mark.lab
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
SEEDED_ROLES = ("lab-cluster-role", "lab-node-role")


def secrets_of(state: dict) -> list[str]:
    """The canary AWS secret and the admin kubeconfig's client key, raw and base64."""
    config = yaml.safe_load(Path(state["kubeconfig"]).read_text())
    key_b64 = config["users"][0]["user"]["client-key-data"]
    key_pem = base64.b64decode(key_b64).decode()
    body = "".join(key_pem.splitlines()[1:-1])
    return [CANARY_SECRET, key_b64, body[:64]]


def test_no_secret_in_verbose_output(runs):
    """site.yml at -vvv, every role, creating everything in AWS under injected faults (the faulted first run of
    test_faults): the retries' and errors' output too must hold no secret."""
    result = faulted_first_run(runs)["result"]
    text = result.stdout + result.stderr
    leaked = [s[:12] + "..." for s in secrets_of(runs.state) if s in text]
    assert not leaked, f"site.yml -vvv output holds secrets: {leaked}"
    assert not JWT.search(text), f"site.yml -vvv output holds a token: {JWT.search(text).group(0)[:20]}..."
    assert "PRIVATE KEY-----" not in text
    record("security", "site.yml -vvv output (faulted first run)", f"{len(text)} chars, no secret")


def trust_problems(doc: dict) -> list[str]:
    """What is wrong with an IAM trust policy by the collection's rules (empty: fine)."""
    problems = []
    for st in doc.get("Statement", []):
        principal = st.get("Principal")
        if principal == "*" or any(v == "*" or (isinstance(v, list) and "*" in v) for v in (principal or {}).values()):
            problems.append("wildcard principal")
        federated = (principal or {}).get("Federated") if isinstance(principal, dict) else None
        if federated and "oidc-provider/" in str(federated):
            provider = str(federated).split("oidc-provider/", 1)[1]
            cond = st.get("Condition") or {}
            exact = cond.get("StringEquals") or {}
            if any(provider in k for k in (cond.get("StringLike") or {})):
                problems.append("StringLike on the provider's keys")
            sub = exact.get(f"{provider}:sub")
            if not sub or any("*" in s for s in ([sub] if isinstance(sub, str) else sub)):
                problems.append("no exact sub")
            if exact.get(f"{provider}:aud") not in ("sts.amazonaws.com", ["sts.amazonaws.com"]):
                problems.append("aud is not exactly sts.amazonaws.com")
    return problems


def test_trust_checker_catches_what_it_must():
    provider = "oidc.eks.us-west-2.amazonaws.com/id/X"
    good = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                           "Principal": {"Federated": f"arn:aws:iam::1:oidc-provider/{provider}"},
                           "Condition": {"StringEquals": {f"{provider}:sub": "system:serviceaccount:a:b",
                                                          f"{provider}:aud": "sts.amazonaws.com"}}}]}
    assert trust_problems(good) == []
    wild = json.loads(json.dumps(good).replace("system:serviceaccount:a:b", "system:serviceaccount:a:*"))
    assert trust_problems(wild) == ["no exact sub"]
    assert trust_problems({"Statement": [{"Principal": {"AWS": "*"}}]}) == ["wildcard principal"]
    no_aud = json.loads(json.dumps(good).replace(f'"{provider}:aud": "sts.amazonaws.com"', '"x": "y"'))
    assert trust_problems(no_aud) == ["aud is not exactly sts.amazonaws.com"]


def test_every_trust_policy_the_collection_created_is_exact(runs):
    runs.converged(SITE.name)  # every capability site.yml chains; plus any faulted playbook run before
    iam = labenv.boto3_client("iam")
    roles = [r for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]
             if r["RoleName"] not in SEEDED_ROLES and not r["Path"].startswith("/aws-service-role/")]
    assert roles, "site.yml with every capability on created no IAM role"
    bad = {r["RoleName"]: trust_problems(r["AssumeRolePolicyDocument"]) for r in roles}
    bad = {k: v for k, v in bad.items() if v}
    record("security", "IAM trust policies checked", f"{len(roles)} roles, {len(bad)} with problems")
    assert not bad, bad


CREDENTIAL_HINTS = ("client-key-data", "token:", "aws_secret_access_key", "PRIVATE KEY")


def test_written_credential_files_are_0600(runs):
    """Every file a converge run reports writing (dest/path) that holds a credential is mode 0600, and so is
    every file in the directory the demo inventory writes kubeconfigs to (kubeconfig_path)."""
    candidates = set()
    for name in [SITE.name] + [n for n in PLAYBOOKS if n in runs.clean]:
        run = runs.converged(name) if name == SITE.name else runs.converge(name)
        for _task, _host, res in run["result"].tasks():
            candidates.update(res.get(key) for key in ("dest", "path") if isinstance(res.get(key), str))
    kubeconfigs = Path(runs.state["dir"]) / "demo" / "kubeconfigs"
    candidates.update(str(p) for p in kubeconfigs.iterdir())
    checked = []
    for path in sorted(c for c in candidates if Path(c).is_file()):
        text = Path(path).read_text(errors="replace")
        if any(h in text for h in CREDENTIAL_HINTS):
            checked.append((path, oct(stat.S_IMODE(Path(path).stat().st_mode))))
    assert checked, f"site.yml (kubeconfig capability on) wrote no credential file; looked at {sorted(candidates)}"
    record("security", "credential files", f"{len(checked)} checked, {sum(m != '0o600' for _p, m in checked)} not 0600")
    assert all(mode == "0o600" for _path, mode in checked), checked


def test_mesh_wide_peer_authentication_is_strict_after_site(runs):
    """The demo inventory turns Istio on (istio_mtls_mode STRICT, one PERMISSIVE exception for namespace
    legacy): after site.yml the mesh-wide default in istio-system is STRICT."""
    runs.converged(SITE.name)

    dyn = labenv.dynamic_client()
    api = dyn.resources.get(api_version="security.istio.io/v1", kind="PeerAuthentication")
    policies = api.get().to_dict()["items"]
    mesh = [p for p in policies if not (p.get("spec") or {}).get("selector")
            and p["metadata"]["namespace"] == "istio-system"]
    assert len(mesh) == 1 and mesh[0]["spec"]["mtls"]["mode"] == "STRICT", policies
    others = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p["spec"]["mtls"]["mode"]
              for p in policies if p not in mesh}
    record("security", "mesh mTLS after site.yml", f"STRICT ({mesh[0]['metadata']['name']} in istio-system); "
           f"other PeerAuthentications {others}")
