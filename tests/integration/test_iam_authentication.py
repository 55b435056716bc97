"""IAM authentication against the lab's real API server: ``k8s-aws-v1.`` tokens checked by the lab's token-review
webhook (tests/lab/nodeless_lab/iam_authn.py) against moto's STS and mapped by access entries and ``aws-auth``.

One setup shared by every assertion: a cluster of the test's own in moto (its authentication mode moves only forward;
the lab's one API server answers for it, picked by the token's signed ``x-k8s-aws-id``), three IAM users with access
keys (``viewer`` gets an access entry with AmazonEKSViewPolicy, ``nobody`` nothing, ``mapped`` only an aws-auth
``mapUsers`` entry) and a role (``editor``: an entry with AmazonEKSEditPolicy scoped to namespace ``default``) used
through the collection's ``exec`` kubeconfig with ``--role-arn``. The cluster walks CONFIG_MAP -> API_AND_CONFIG_MAP ->
API; each phase makes real requests with fresh tokens. The cluster, the IAM principals, the aws-auth entry and the
test's ClusterRoleBinding are removed at the end.
"""
from __future__ import annotations

import base64
import json
import shutil
import ssl
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid

import botocore.session
import pytest
import yaml

from nodeless_lab import iam_authn
from support import labenv

pytestmark = pytest.mark.lab

ACCOUNT = "123456789012"
POLICY = "arn:aws:eks::aws:cluster-access-policy/{}"
# `aws eks get-token` for a machine without the AWS CLI: botocore's presigner as aws-iam-authenticator documents it.
AWS_SHIM = textwrap.dedent("""\
    #!{python}
    import argparse, datetime, json, sys
    sys.path.insert(0, {lab!r})
    import botocore.session
    from nodeless_lab import iam_authn
    parser = argparse.ArgumentParser()
    parser.add_argument("--region")
    parser.add_argument("service")
    parser.add_argument("command")
    parser.add_argument("--cluster-name")
    parser.add_argument("--output")
    parser.add_argument("--role-arn")
    args = parser.parse_args()
    assert (args.service, args.command) == ("eks", "get-token"), sys.argv
    session = botocore.session.Session()
    if args.role_arn:
        creds = session.create_client("sts", region_name=args.region).assume_role(
            RoleArn=args.role_arn, RoleSessionName="EKSGetTokenAuth")["Credentials"]
        session = botocore.session.Session()
        session.set_credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=14)
    print(json.dumps({{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {{}},
                      "status": {{"expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 "token": iam_authn.presign(session, args.cluster_name, args.region)}}}}))
""")


def _session(key: dict) -> botocore.session.Session:
    session = botocore.session.Session()
    session.set_credentials(key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))
    return session


def _request(token: str, method: str, path: str, body: dict | None = None) -> int:
    state = labenv.state()
    ctx = ssl.create_default_context(cafile=state["pki"]["ca"])
    req = urllib.request.Request(state["api_endpoint"] + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:  # noqa: S310 - the lab API server
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _whoami(token: str) -> dict:
    state = labenv.state()
    ctx = ssl.create_default_context(cafile=state["pki"]["ca"])
    req = urllib.request.Request(state["api_endpoint"] + "/apis/authentication.k8s.io/v1/selfsubjectreviews", method="POST",
                                 data=b'{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}',
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:  # noqa: S310
        return json.loads(resp.read())["status"]["userInfo"]


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "authn-probe"},
       "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}


def _probe(token: str) -> dict:
    """What a token may do: list pods, create a pod (server-side dry run), create a ConfigMap in default / kube-system."""
    out = {"list": _request(token, "GET", "/api/v1/namespaces/default/pods")}
    if out["list"] != 401:
        out["create_pod"] = _request(token, "POST", "/api/v1/namespaces/default/pods?dryRun=All", POD)
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "authn-probe"}}
        out["cm_default"] = _request(token, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All", cm)
        out["cm_kube_system"] = _request(token, "POST", "/api/v1/namespaces/kube-system/configmaps?dryRun=All", cm)
    return out


def _exec_kubeconfig(playbook, path, cluster: str, role_arn: str):
    state = labenv.state()
    with open(state["pki"]["ca"], "rb") as ca_file:
        ca = base64.b64encode(ca_file.read()).decode()
    result = playbook([{"name": "exec", "hosts": "lab", "gather_facts": False, "roles": [{
        "role": "nodeless.eks.kubeconfig", "vars": {"kubeconfig_mode": "exec", "kubeconfig_path": str(path),
                                                    "nodeless_eks_cluster_name": cluster,
                                                    # the throwaway cluster's endpoint in moto is no server: the lab's one
                                                    "kubeconfig_server": state["api_endpoint"], "kubeconfig_ca_data": ca,
                                                    "kubeconfig_exec_role_arn": role_arn}}]}])
    assert result.rc == 0, result.failure_text()


def _exec_token(path, env: dict) -> str:
    """Run the kubeconfig's exec command as kubectl would, and return the token it prints."""
    import subprocess

    user = yaml.safe_load(path.read_text())["users"][0]["user"]["exec"]
    extra = {e["name"]: e["value"] for e in user.get("env") or []}
    proc = subprocess.run([user["command"], *user["args"]], env=dict(env, **extra), capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    cred = json.loads(proc.stdout)
    assert cred["kind"] == "ExecCredential"
    return cred["status"]["token"]


@pytest.fixture(scope="module")
def walked(lab, tmp_path_factory):
    from kubernetes import client

    from support import playbook as runner

    state = labenv.state()
    eks, iam = labenv.boto3_client("eks"), labenv.boto3_client("iam")
    core, rbac = client.CoreV1Api(labenv.k8s_client()), client.RbacAuthorizationV1Api(labenv.k8s_client())
    prefix = f"authn-{uuid.uuid4().hex[:6]}"
    cluster, region = prefix, state["region"]
    base = eks.describe_cluster(name="lab")["cluster"]
    eks.create_cluster(name=cluster, version=base["version"], roleArn=base["roleArn"],
                       resourcesVpcConfig={"subnetIds": base["resourcesVpcConfig"]["subnetIds"]})
    keys = {}
    for name in ("viewer", "nobody", "mapped"):
        iam.create_user(UserName=f"{prefix}-{name}")
        keys[name] = iam.create_access_key(UserName=f"{prefix}-{name}")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                     "Action": "sts:AssumeRole"}]}
    editor = iam.create_role(RoleName=f"{prefix}-editor", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    arn = {name: f"arn:aws:iam::{ACCOUNT}:user/{prefix}-{name}" for name in keys}
    group = f"{prefix}-readers"
    mapping = yaml.safe_dump([{"userarn": arn["mapped"], "username": f"{prefix}-mapped", "groups": [group]}])
    try:
        created_cm = core.read_namespaced_config_map("aws-auth", "kube-system")
        before = dict(created_cm.data or {})
        created_cm = False
    except client.ApiException as exc:
        assert exc.status == 404
        before, created_cm = {}, True
    out: dict = {"cluster": cluster, "prefix": prefix, "arn": arn, "editor": editor}

    def fresh() -> None:
        # A token is the same string for a second (X-Amz-Date), and kube-apiserver caches a token that authenticated
        # for 10 s: after a change, tokens presigned in a later second, as a client's next `aws eks get-token` would.
        time.sleep(1.05 - time.time() % 1)

    def token(name: str, for_cluster: str = cluster) -> str:
        return iam_authn.presign(_session(keys[name]), for_cluster, region, state["aws_endpoint"])

    bindir = tmp_path_factory.mktemp("authn-bin")
    env = labenv.env()
    if not shutil.which("aws", path=env["PATH"]):
        shim = bindir / "aws"
        shim.write_text(AWS_SHIM.format(python=sys.executable, lab=str(labenv.REPO / "tests" / "lab")))
        shim.chmod(0o755)
        env["PATH"] = f"{bindir}:{env['PATH']}"
    try:
        rbac.create_cluster_role_binding({"metadata": {"name": group}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]})
        data = dict(before, mapUsers=(before.get("mapUsers") or "") + mapping)
        if created_cm:
            core.create_namespaced_config_map("kube-system", {"metadata": {"name": "aws-auth"}, "data": data})
        else:
            core.patch_namespaced_config_map("aws-auth", "kube-system", {"data": data})
        phases = {}
        # CONFIG_MAP: aws-auth only (no access entry can exist yet)
        phases["CONFIG_MAP"] = {name: _probe(token(name)) for name in keys}
        eks.update_cluster_config(name=cluster, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
        eks.create_access_entry(clusterName=cluster, principalArn=arn["viewer"])
        eks.associate_access_policy(clusterName=cluster, principalArn=arn["viewer"], policyArn=POLICY.format("AmazonEKSViewPolicy"),
                                    accessScope={"type": "cluster"})
        eks.create_access_entry(clusterName=cluster, principalArn=editor)
        eks.associate_access_policy(clusterName=cluster, principalArn=editor, policyArn=POLICY.format("AmazonEKSEditPolicy"),
                                    accessScope={"type": "namespace", "namespaces": ["default"]})
        fresh()
        phases["API_AND_CONFIG_MAP"] = {name: _probe(token(name)) for name in keys}
        eks.update_cluster_config(name=cluster, accessConfig={"authenticationMode": "API"})
        fresh()
        phases["API"] = {name: _probe(token(name)) for name in keys}
        out["phases"] = phases
        out["whoami_viewer"] = _whoami(token("viewer"))
        # the same viewer's token for the lab's own cluster (CONFIG_MAP, no mapping there), and a forged signature
        out["viewer_for_lab"] = _request(token("viewer", "lab"), "GET", "/api/v1/namespaces/default/pods")
        good = token("viewer")
        url = base64.urlsafe_b64decode(good[len(iam_authn.PREFIX):] + "==").decode()
        forged = iam_authn.token_for(url[:-4] + ("0000" if not url.endswith("0000") else "1111"))
        out["forged"] = _request(forged, "GET", "/api/v1/namespaces/default/pods")
        # the collection's exec kubeconfig, with the viewer's keys and the editor role
        kubeconfig = tmp_path_factory.mktemp("authn") / "exec.kubeconfig"
        _exec_kubeconfig(runner.run, kubeconfig, cluster, editor)
        exec_env = dict(env, AWS_ACCESS_KEY_ID=keys["viewer"]["AccessKeyId"], AWS_SECRET_ACCESS_KEY=keys["viewer"]["SecretAccessKey"])
        exec_token = _exec_token(kubeconfig, exec_env)
        out["exec"] = _probe(exec_token)
        out["whoami_exec"] = _whoami(exec_token)
        # ... and through a real Kubernetes client reading that kubeconfig (client-go's exec plugin, as kubectl)
        kubectl = shutil.which("kubectl")
        if kubectl:
            import subprocess

            proc = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "json"],
                                  env=exec_env, capture_output=True, text=True, check=False, timeout=60)
            out["kubectl_whoami"] = (proc.returncode, proc.stdout, proc.stderr)
    finally:  # the lab is shared
        eks.delete_cluster(name=cluster)
        if created_cm:
            core.delete_namespaced_config_map("aws-auth", "kube-system")
        else:
            current = core.read_namespaced_config_map("aws-auth", "kube-system").data or {}
            rest = [u for u in yaml.safe_load(current.get("mapUsers") or "[]") or [] if u.get("userarn") != arn["mapped"]]
            patch = {"data": {"mapUsers": yaml.safe_dump(rest) if rest else None}}
            if "mapUsers" in before and not rest:
                patch["data"]["mapUsers"] = before["mapUsers"]
            core.patch_namespaced_config_map("aws-auth", "kube-system", patch)
        try:
            rbac.delete_cluster_role_binding(group)
        except client.ApiException:
            pass
        for name, key in keys.items():
            iam.delete_access_key(UserName=f"{prefix}-{name}", AccessKeyId=key["AccessKeyId"])
            iam.delete_user(UserName=f"{prefix}-{name}")
        iam.delete_role(RoleName=f"{prefix}-editor")
    return out


def test_config_map_mode_maps_aws_auth_only(walked):
    phase = walked["phases"]["CONFIG_MAP"]
    assert phase["mapped"] == {"list": 200, "create_pod": 403, "cm_default": 403, "cm_kube_system": 403}  # group -> view
    assert phase["viewer"] == {"list": 401} and phase["nobody"] == {"list": 401}


def test_api_and_config_map_mode_maps_both(walked):
    phase = walked["phases"]["API_AND_CONFIG_MAP"]
    assert phase["mapped"]["list"] == 200
    assert phase["viewer"] == {"list": 200, "create_pod": 403, "cm_default": 403, "cm_kube_system": 403}
    assert phase["nobody"] == {"list": 401}


def test_api_mode_ignores_aws_auth_and_maps_access_policies(walked):
    phase = walked["phases"]["API"]
    assert phase["viewer"] == {"list": 200, "create_pod": 403, "cm_default": 403, "cm_kube_system": 403}
    assert phase["mapped"] == {"list": 401}  # aws-auth is ignored in API mode
    assert phase["nobody"] == {"list": 401}  # no entry
    who = walked["whoami_viewer"]
    assert who["username"] == walked["arn"]["viewer"]  # an IAM user's entry: its ARN by default
    assert "eks-access-policy:AmazonEKSViewPolicy" in who["groups"] and "system:authenticated" in who["groups"]
    assert who["extra"]["arn"] == [walked["arn"]["viewer"]]


def test_a_token_counts_only_for_its_cluster_and_only_when_signed(walked):
    assert walked["viewer_for_lab"] == 401  # cluster `lab` is in CONFIG_MAP and maps no such user
    assert walked["forged"] == 401


def test_exec_kubeconfig_authenticates_end_to_end(walked):
    # the editor role (assumed by the kubeconfig's `aws eks get-token --role-arn`): AmazonEKSEditPolicy in default only
    assert walked["exec"] == {"list": 200, "create_pod": 201, "cm_default": 201, "cm_kube_system": 403}
    who = walked["whoami_exec"]
    assert who["username"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{walked['prefix']}-editor/")
    assert "eks-access-policy:AmazonEKSEditPolicy:default" in who["groups"]
    if "kubectl_whoami" in walked:
        code, stdout, stderr = walked["kubectl_whoami"]
        assert code == 0, stderr
        assert json.loads(stdout)["status"]["userInfo"]["username"] == who["username"]
