"""playbooks/migrate_to_access_entries.yml from a populated aws-auth to API mode, against the lab's real API server.

One migration converge shared by every assertion: a cluster of the test's own in moto (its mode moves only forward) with
a managed node group and a Fargate profile; aws-auth (the lab's one ConfigMap, replaced for the test and put back
after) maps an admin user (system:masters), a reader user (a group bound to ``view``), a deployer role
(``deployer:{{SessionName}}``, a group bound to ``edit`` in ``default``), a Karpenter node role (no node group;
owner ``karpenter``'s in aws-auth's owner annotation), the node group's role and the Fargate profile's role. Real
requests with each principal's IAM token before the migration (CONFIG_MAP, through aws-auth); then ``--check --diff``
(no write, a plan), the real run to API, the same requests again (now through access entries, aws-auth ignored), and
a re-run with a task asking the mode back, which together write nothing. The cluster, the IAM principals, the
bindings and aws-auth are put back at the end.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest
import yaml

from nodeless_lab import iam_authn
from support import labenv
from support.snapshots import run_counting_aws, untouched

pytestmark = pytest.mark.lab

ACCOUNT = "123456789012"
PLAYBOOK = labenv.REPO / "playbooks" / "migrate_to_access_entries.yml"
TASK = "Give every aws-auth mapping its access entry, then move the authentication mode to API"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "migrate-probe"},
       "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "migrate-probe"}}
NODE_GROUPS = ["system:bootstrappers", "system:nodes"]


def _probe(token: str) -> dict:
    """What a token may do: list pods, create a pod (dry run), create a ConfigMap in default / kube-system (dry run)."""
    import ssl
    import urllib.error
    import urllib.request

    state = labenv.state()
    ctx = ssl.create_default_context(cafile=state["pki"]["ca"])

    def call(method, path, body=None):
        req = urllib.request.Request(state["api_endpoint"] + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:  # noqa: S310 - the lab API server
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    out = {"list": call("GET", "/api/v1/namespaces/default/pods")}
    if out["list"] != 401:
        out["create_pod"] = call("POST", "/api/v1/namespaces/default/pods?dryRun=All", POD)
        out["cm_default"] = call("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", CM)
        out["cm_kube_system"] = call("POST", "/api/v1/namespaces/kube-system/configmaps?dryRun=All", CM)
    return out


def _result(run, name: str) -> dict:
    return next(res for task, _host, res in run.tasks() if task.endswith(name))


@pytest.fixture(scope="module")
def migrated(lab):
    import botocore.session
    from kubernetes import client

    from support import playbook as runner

    state = labenv.state()
    eks, iam, sts = labenv.boto3_client("eks"), labenv.boto3_client("iam"), labenv.boto3_client("sts")
    core, rbac = client.CoreV1Api(labenv.k8s_client()), client.RbacAuthorizationV1Api(labenv.k8s_client())
    prefix = f"migrate-{uuid.uuid4().hex[:6]}"
    cluster, region = prefix, state["region"]
    base = eks.describe_cluster(name="lab")["cluster"]
    subnets = base["resourcesVpcConfig"]["subnetIds"]
    eks.create_cluster(name=cluster, version=base["version"], roleArn=base["roleArn"], resourcesVpcConfig={"subnetIds": subnets})
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                     "Action": "sts:AssumeRole"}]}
    roles = {name: iam.create_role(RoleName=f"{prefix}-{name}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
             for name in ("deployer", "karpenter-node", "ng", "fargate")}
    keys = {}
    for name in ("admin", "reader", "nobody"):
        iam.create_user(UserName=f"{prefix}-{name}")
        keys[name] = iam.create_access_key(UserName=f"{prefix}-{name}")["AccessKey"]
    users = {name: f"arn:aws:iam::{ACCOUNT}:user/{prefix}-{name}" for name in keys}
    eks.create_nodegroup(clusterName=cluster, nodegroupName="ng", subnets=subnets, nodeRole=roles["ng"])
    eks.create_fargate_profile(clusterName=cluster, fargateProfileName="fp", podExecutionRoleArn=roles["fargate"], subnets=subnets,
                               selectors=[{"namespace": "batch"}])
    readers, deployers = f"{prefix}-readers", f"{prefix}-deployers"
    aws_auth = {
        "mapRoles": yaml.safe_dump([
            {"rolearn": roles["deployer"], "username": "deployer:{{SessionName}}", "groups": [deployers]},
            {"rolearn": roles["karpenter-node"], "username": "system:node:{{EC2PrivateDNSName}}", "groups": NODE_GROUPS},
            {"rolearn": roles["ng"], "username": "system:node:{{EC2PrivateDNSName}}", "groups": NODE_GROUPS},
            {"rolearn": roles["fargate"], "username": "system:node:{{SessionName}}", "groups": NODE_GROUPS + ["system:node-proxier"]},
        ], sort_keys=False),
        "mapUsers": yaml.safe_dump([
            {"userarn": users["admin"], "username": f"{prefix}-admin", "groups": ["system:masters"]},
            {"userarn": users["reader"], "username": f"{prefix}-reader", "groups": [readers]},
        ], sort_keys=False),
    }
    try:
        saved = core.read_namespaced_config_map("aws-auth", "kube-system")
    except client.ApiException as exc:
        assert exc.status == 404
        saved = None
    deployer_session = sts.assume_role(RoleArn=roles["deployer"], RoleSessionName="alice")["Credentials"]
    secrets = dict(keys, deployer={"AccessKeyId": deployer_session["AccessKeyId"], "SecretAccessKey": deployer_session["SecretAccessKey"],
                                   "SessionToken": deployer_session["SessionToken"]})

    def probes() -> dict:
        # a token is the same string within a second and the API server caches one that authenticated for 10 s: tokens
        # presigned in a later second, as a client's next `aws eks get-token` would be
        time.sleep(1.05 - time.time() % 1)
        out = {}
        for name, key in secrets.items():
            session = botocore.session.Session()
            session.set_credentials(key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))
            out[name] = _probe(iam_authn.presign(session, cluster, region, state["aws_endpoint"]))
        return out

    extravars = {"nodeless_eks_cluster_name": cluster, "access_migration_authentication_mode": "API"}
    out = {"cluster": cluster, "prefix": prefix, "roles": roles, "users": users}
    try:
        rbac.create_cluster_role_binding({"metadata": {"name": readers}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": readers}]})
        rbac.create_namespaced_role_binding("default", {"metadata": {"name": deployers}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": deployers}]})
        # the karpenter role mapped its node role (nodeless.eks.aws_auth's owner record): its entry is made under that owner
        meta = {"name": "aws-auth", "annotations": {"nodeless.eks/aws-auth-owners": json.dumps({"karpenter": {"mapRoles": [roles["karpenter-node"]]}})}}
        if saved is None:
            core.create_namespaced_config_map("kube-system", {"metadata": meta, "data": aws_auth})
        else:
            core.replace_namespaced_config_map("aws-auth", "kube-system", {"metadata": dict(meta, resourceVersion=saved.metadata.resource_version),
                                                                           "data": aws_auth})
        out["before"] = probes()
        with untouched():
            out["check"] = runner.run(PLAYBOOK, extravars=extravars, check=True, diff=True, plan=True)
        out["apply"], out["apply_writes"], _calls = run_counting_aws(runner.run, PLAYBOOK, extravars=extravars, diff=True, plan=True)
        out["after"] = probes()
        backwards = {"name": "mode backwards", "hosts": "lab", "gather_facts": False, "tasks": [{
            "name": "mode backwards", "ignore_errors": True, "nodeless.eks.access_entries_migration": {
                "cluster_name": cluster, "region": region, "aws_auth": {}, "authentication_mode": "API_AND_CONFIG_MAP"}}]}
        out["again"], out["again_writes"], _calls = run_counting_aws(
            runner.run, [{"import_playbook": str(PLAYBOOK)}, backwards], extravars=extravars)
        out["mode"] = eks.describe_cluster(name=cluster)["cluster"]["accessConfig"]["authenticationMode"]
        out["entries"] = {}
        for arn in eks.list_access_entries(clusterName=cluster)["accessEntries"]:
            entry = eks.describe_access_entry(clusterName=cluster, principalArn=arn)["accessEntry"]
            policies = eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)["associatedAccessPolicies"]
            out["entries"][arn] = (entry["type"], entry["kubernetesGroups"], entry["username"], (entry.get("tags") or {}).get("nodeless.eks/owner"),
                                   {p["policyArn"].rsplit("/", 1)[1]: p["accessScope"]["type"] for p in policies})
    finally:  # the lab is shared: aws-auth as it was, the test's cluster (its entries with it), principals and bindings go
        if saved is None:
            core.delete_namespaced_config_map("aws-auth", "kube-system")
        else:
            current = core.read_namespaced_config_map("aws-auth", "kube-system")
            core.replace_namespaced_config_map("aws-auth", "kube-system", {"metadata": {
                "name": "aws-auth", "resourceVersion": current.metadata.resource_version,
                "annotations": saved.metadata.annotations, "labels": saved.metadata.labels}, "data": saved.data})
        for delete in (lambda: rbac.delete_cluster_role_binding(readers), lambda: rbac.delete_namespaced_role_binding(deployers, "default")):
            try:
                delete()
            except client.ApiException:
                pass
        eks.delete_fargate_profile(clusterName=cluster, fargateProfileName="fp")
        eks.delete_nodegroup(clusterName=cluster, nodegroupName="ng")
        eks.delete_cluster(name=cluster)
        for name, key in keys.items():
            iam.delete_access_key(UserName=f"{prefix}-{name}", AccessKeyId=key["AccessKeyId"])
            iam.delete_user(UserName=f"{prefix}-{name}")
        for name in roles:
            iam.delete_role(RoleName=f"{prefix}-{name}")
    return out


def test_check_mode_plan_equals_what_the_real_run_did(migrated):
    check, apply, cluster, roles, users = (migrated[k] for k in ("check", "apply", "cluster", "roles", "users"))
    assert check.rc == 0, check.failure_text()
    assert apply.rc == 0, apply.failure_text()
    assert check.plan == apply.plan, f"planned, not done: {sorted(check.plan - apply.plan)}; done, not planned: {sorted(apply.plan - check.plan)}"
    assert {(resource, action) for _host, resource, action in apply.plan} == {
        (f"aws:eks-authentication-mode/{cluster}", "change"),
        *((f"aws:access-entry/{arn}", "add") for arn in (*users.values(), *roles.values()) if not arn.endswith("-nobody")),
        (f"aws:access-policy/{users['admin']}/AmazonEKSClusterAdminPolicy", "add"),
    }
    planned, done = _result(check, TASK), _result(apply, TASK)
    assert planned["changes"] == done["changes"]
    assert [c.get("detail") for c in done["changes"] if "authentication-mode" in c["resource"]] == [
        "CONFIG_MAP -> API_AND_CONFIG_MAP", "API_AND_CONFIG_MAP -> API"]
    assert planned["authentication_mode"] == done["authentication_mode"] == "API" and done["blocked"] == ""


def test_each_mapping_is_said_and_becomes_its_entry(migrated):
    lines = _result(migrated["check"], "Say what each aws-auth mapping becomes")["msg"]
    roles, users, prefix = migrated["roles"], migrated["users"], migrated["prefix"]
    assert lines == [
        f"aws_auth.mapRoles[0] {roles['deployer']} -> STANDARD access entry, Kubernetes groups ['{prefix}-deployers'], "
        "username deployer:{{SessionName}}",
        f"aws_auth.mapRoles[1] {roles['karpenter-node']} -> EC2_LINUX access entry, owner karpenter (as in aws-auth)",
        f"aws_auth.mapRoles[2] {roles['ng']} -> EC2_LINUX access entry (made by EKS)",
        f"aws_auth.mapRoles[3] {roles['fargate']} -> FARGATE_LINUX access entry (made by EKS)",
        f"aws_auth.mapUsers[0] {users['admin']} -> STANDARD access entry, username {prefix}-admin, "
        "access policy AmazonEKSClusterAdminPolicy (cluster)",
        f"aws_auth.mapUsers[1] {users['reader']} -> STANDARD access entry, Kubernetes groups ['{prefix}-readers'], username {prefix}-reader",
    ]
    owner = "aws-auth-migration"  # node entries: EKS sets their group system:nodes and their username itself
    assert migrated["mode"] == "API"
    assert migrated["entries"] == {
        roles["deployer"]: ("STANDARD", [f"{prefix}-deployers"], "deployer:{{SessionName}}", owner, {}),
        roles["karpenter-node"]: ("EC2_LINUX", ["system:nodes"], "system:node:{{EC2PrivateDNSName}}", "karpenter", {}),
        roles["ng"]: ("EC2_LINUX", ["system:nodes"], "system:node:{{EC2PrivateDNSName}}", None, {}),  # EKS's, untagged
        roles["fargate"]: ("FARGATE_LINUX", ["system:nodes"], "system:node:{{SessionName}}", None, {}),
        users["admin"]: ("STANDARD", [], f"{prefix}-admin", owner, {"AmazonEKSClusterAdminPolicy": "cluster"}),
        users["reader"]: ("STANDARD", [f"{prefix}-readers"], f"{prefix}-reader", owner, {}),
    }


def test_the_real_run_writes_exactly_the_plan_in_order(migrated):
    cluster, writes = migrated["cluster"], [w[1] for w in migrated["apply_writes"]]
    assert writes[0] == f"POST /clusters/{cluster}/update-config" and writes[-1] == f"POST /clusters/{cluster}/update-config"
    assert sorted(writes[1:-1]) == sorted([f"POST /clusters/{cluster}/access-entries"] * 4 + [
        f"POST /clusters/{cluster}/access-entries/{migrated['users']['admin']}/access-policies"])


def test_principals_get_the_same_answers_through_their_entries_in_api_mode(migrated):
    before, after = migrated["before"], migrated["after"]
    assert before["reader"] == {"list": 200, "create_pod": 403, "cm_default": 403, "cm_kube_system": 403}  # view, through aws-auth
    assert before["deployer"] == {"list": 200, "create_pod": 201, "cm_default": 201, "cm_kube_system": 403}  # edit in default
    assert before["admin"] == {"list": 200, "create_pod": 201, "cm_default": 201, "cm_kube_system": 201}  # system:masters
    for name in ("reader", "deployer", "admin"):
        assert after[name] == before[name], name  # API mode ignores aws-auth: these answers come from the access entries


def test_a_principal_without_an_entry_is_refused_in_api_mode(migrated):
    assert migrated["before"]["nobody"] == migrated["after"]["nobody"] == {"list": 401}


def test_a_second_run_changes_nothing_and_a_backwards_mode_is_refused(migrated):
    again = migrated["again"]
    assert migrated["again_writes"] == [], migrated["again_writes"]
    res = _result(again, TASK)
    assert res["changed"] is False and res["changes"] == [] and res["authentication_mode"] == "API"
    refused = _result(again, "mode backwards")
    assert refused["failed"] is True
    assert refused["msg"].startswith("authentication_mode: the cluster is in API, and EKS moves the authentication mode only forward")
    assert again.total_changed() == 0
