"""The irsa role against the lab: check mode writes nothing, a real run, a second run with no writes,
and the contract with the real API server: a TokenRequest token satisfies exactly the trust written."""
from __future__ import annotations

import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils.kubeconfig import jwt_claims
from support import labenv
from support import playbook as runner
from support.snapshots import untouched, write_names

pytestmark = pytest.mark.lab

NS = "irsa-it"
ACCOUNTS = [
    {"namespace": NS, "service_account": "cluster-autoscaler", "policies": ["cluster_autoscaler"]},
    {"namespace": NS, "service_account": "external-dns",
     "policies": [{"name": "external_dns", "vars": {"hosted_zone_ids": ["Z0123456789TEST"]}},
                  "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]},
]
# The per-entry role options, converged (and re-run) with the two add-ons' accounts.
BOUNDARY = "arn:aws:iam::aws:policy/PowerUserAccess"
OPTIONS = {"namespace": NS, "service_account": "options", "path": "/irsa-it/", "permissions_boundary": BOUNDARY,
           "max_session_duration": 7200, "policies": ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]}
CONVERGED = ACCOUNTS + [OPTIONS]
CA_POLICY = f"lab-{NS}-cluster-autoscaler-cluster-autoscaler"


def _play(accounts, **extra):
    vars_ = {"irsa_service_accounts": accounts, "irsa_create_namespace": True}
    vars_.update(extra)
    return [{"name": "irsa", "hosts": "lab", "gather_facts": False,
             "roles": [{"role": "nodeless.eks.irsa", "vars": vars_}],
             "tasks": [{"name": "show irsa_roles", "ansible.builtin.debug": {"var": "irsa_roles"}}]}]


def _token(namespace: str, name: str) -> str:
    from kubernetes import client

    core = client.CoreV1Api(labenv.k8s_client())
    body = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=["sts.amazonaws.com"]))
    return core.create_namespaced_service_account_token(name, namespace, body).status.token


def _trust_allows(trust: dict, provider_arn: str, claims: dict) -> bool:
    """IAM's evaluation of our trust statement for AssumeRoleWithWebIdentity, on the token's claims."""
    host = claims["iss"].removeprefix("https://")
    if not provider_arn.endswith(f":oidc-provider/{host}"):
        return False
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    for stmt in trust["Statement"]:
        if stmt["Principal"].get("Federated") != provider_arn or stmt["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        conditions = stmt["Condition"]
        assert set(conditions) == {"StringEquals"}, "only exact matches are written"
        values = {f"{host}:sub": [claims["sub"]], f"{host}:aud": audiences}
        if all(key in values and expected in values[key] for key, expected in conditions["StringEquals"].items()):
            return True
    return False


def _policy_arn(iam) -> str:
    return next(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == CA_POLICY)


@pytest.fixture(scope="module")
def converged(lab):
    """Check mode first (nothing written), then the real run (both with their plan tables) and a re-run through the gate
    (#23), counted (AWS and API server writes); then IAM's five versions of the cluster-autoscaler policy filled out of
    band, the last one made the default (the shipped document again, under a new version id), and a re-run that the
    gate must send down the full path (the drift test), counted too. The options account's role is deleted after the
    module."""
    from kubernetes import client

    playbook = runner.run
    iam = labenv.boto3_client("iam")
    with untouched():
        check = playbook(_play(CONVERGED), check=True, diff=True, plan=True)
    assert check.rc == 0, check.failure_text()
    assert check.total_changed() > 0, "check mode predicted no change on a fresh lab"
    real = playbook(_play(CONVERGED), diff=True, plan=True)
    assert real.rc == 0, real.failure_text()
    real.check = check

    real.gated = runner.counted(_play(CONVERGED))
    real.record = _record()

    arn = _policy_arn(iam)
    default_id = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=default_id)["PolicyVersion"]["Document"]
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:  # left by an earlier session on this lab
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    for n in range(3):  # fill up to IAM's 5 versions: three non-default ones, then a new default
        extra = dict(doc, Statement=doc["Statement"] + [{"Effect": "Allow", "Action": f"ec2:DescribeTags{n}", "Resource": "*"}])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(extra), SetAsDefault=False)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc), SetAsDefault=True)
    real.versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    real.shipped_doc = doc

    real.again = runner.counted(_play(CONVERGED))
    real.again_record = _record()
    yield real
    name = f"lab-{NS}-options"
    if _role_exists(iam, name):
        for policy in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=name)
    client.CoreV1Api(labenv.k8s_client()).delete_namespaced_service_account("options", NS)


def test_check_mode_predicted_what_the_real_run_did(converged):
    """The check run's plan table lists exactly the resources and actions the real run reports."""
    predicted, done = converged.check.plan, converged.plan
    assert done, "the real run reported no change on a fresh lab"
    assert any(r.startswith("aws:iam_role/") for _h, r, _a in done), done  # the roles it made
    assert predicted == done, f"planned, not done: {sorted(predicted - done)}; done, not planned: {sorted(done - predicted)}"


def _gate_line(run) -> str:
    return next(res["msg"] for _name, _host, res in run.tasks() if str(res.get("msg")).startswith("irsa: "))


def _record() -> dict:
    from kubernetes import client

    return json.loads(client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("nodeless-eks-irsa", "nodeless-eks").data["record.json"])


def test_second_run_changes_nothing_and_writes_nothing(converged):
    """The re-run ends at the gate (#23): the provider, three roles, two created policies and three service accounts are
    those of the record (the full path's re-run is test_site's, with nodeless_eks_full_check)."""
    gated = converged.gated
    assert gated.rc == 0, gated.failure_text()
    assert gated.total_changed() == 0, gated.changed()
    assert converged.gated.aws_writes == []
    assert converged.gated.k8s_writes == []
    assert _gate_line(gated) == f"irsa: in sync (record {converged.record['written_at']}, 9 objects)"
    assert sorted({e["type"] for e in converged.record["aws"]}) == ["iam_oidc_provider", "iam_policy", "iam_role"]


def test_policy_version_set_as_default_out_of_band_is_found(converged):
    """Drift (#23): a version added and made the default outside the role sends the gate down the full path, which
    finds the default document to be the shipped one (nothing to repair in IAM) and rewrites the record."""
    again, arn = converged.again, _policy_arn(labenv.boto3_client("iam"))
    assert again.rc == 0, again.failure_text()
    assert _gate_line(again) == f"irsa: not in sync, full path (aws iam_policy {arn}: sha256 changed)"
    assert [n.split(" : ", 1)[-1] for n in again.changed()] == [
        "Record what the role converged to (written only when it differs from the stored record)"]
    assert write_names(converged.again.k8s_writes) == ["patch configmaps/nodeless-eks-irsa"]
    policy = next(e for e in converged.again_record["aws"] if e["id"] == arn)
    assert policy != next(e for e in converged.record["aws"] if e["id"] == arn)


def test_two_addons_share_one_provider_and_get_exact_trust(converged, lab):
    iam = labenv.boto3_client("iam")
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    issuer_host = lab["issuer"].removeprefix("https://") if "issuer" in lab else None
    mine = [p for p in providers if issuer_host is None or p["Arn"].endswith(issuer_host)]
    assert len(mine) == 1
    host = lab["issuer"].removeprefix("https://").rstrip("/")  # the cluster's issuer, as IAM keys its conditions
    assert mine[0]["Arn"] == f"arn:aws:iam::123456789012:oidc-provider/{host}"
    for sa in ("cluster-autoscaler", "external-dns"):
        role = iam.get_role(RoleName=f"lab-{NS}-{sa}")["Role"]
        (stmt,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert stmt["Principal"] == {"Federated": mine[0]["Arn"]}
        assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert stmt["Condition"] == {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{NS}:{sa}",
                                                      f"{host}:aud": "sts.amazonaws.com"}}
    attached = iam.list_attached_role_policies(RoleName=f"lab-{NS}-cluster-autoscaler")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == [f"lab-{NS}-cluster-autoscaler-cluster-autoscaler"]
    attached = iam.list_attached_role_policies(RoleName=f"lab-{NS}-external-dns")["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == ["AmazonEKS_CNI_Policy", f"lab-{NS}-external-dns-external-dns"]


def test_each_service_account_is_annotated_with_its_own_role_arn(converged):
    from kubernetes import client

    iam = labenv.boto3_client("iam")
    core = client.CoreV1Api(labenv.k8s_client())
    for sa in ("cluster-autoscaler", "external-dns"):
        arn = iam.get_role(RoleName=f"lab-{NS}-{sa}")["Role"]["Arn"]
        assert arn == f"arn:aws:iam::123456789012:role/lab-{NS}-{sa}"
        assert core.read_namespaced_service_account(sa, NS).metadata.annotations["eks.amazonaws.com/role-arn"] == arn


def test_token_request_satisfies_exactly_the_written_trust(converged):
    from kubernetes import client

    iam = labenv.boto3_client("iam")
    role = iam.get_role(RoleName=f"lab-{NS}-cluster-autoscaler")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    provider_arn = trust["Statement"][0]["Principal"]["Federated"]
    sa = client.CoreV1Api(labenv.k8s_client()).read_namespaced_service_account("cluster-autoscaler", NS)
    assert sa.metadata.annotations["eks.amazonaws.com/role-arn"] == role["Arn"]

    own = jwt_claims(_token(NS, "cluster-autoscaler"))
    assert own["sub"] == f"system:serviceaccount:{NS}:cluster-autoscaler"
    assert _trust_allows(trust, provider_arn, own)
    assert not _trust_allows(trust, provider_arn, jwt_claims(_token(NS, "external-dns")))
    assert not _trust_allows(trust, provider_arn, jwt_claims(_token(NS, "default")))


def test_policy_versions_change_only_on_real_differences_and_prune_at_five(converged, playbook):
    iam = labenv.boto3_client("iam")
    arn = _policy_arn(iam)
    versions, doc = converged.versions, converged.shipped_doc
    assert len(versions) == 5
    # The shipped document is still the default: nothing to do (the module's re-run, with the five versions; only
    # the convergence record is written again, the drift test above).
    same = converged.again
    assert same.rc == 0 and converged.again.aws_writes == [], converged.again.aws_writes
    # A real difference (one more statement) makes a new default and prunes the oldest non-default.
    changed_doc = dict(doc, Statement=doc["Statement"] + [{"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"}])
    accounts = [dict(ACCOUNTS[0], policies=[{"name": "cluster_autoscaler", "document": changed_doc}])]
    run = playbook(_play(accounts))
    assert run.rc == 0, run.failure_text()
    after = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(after) == 5
    default = next(v for v in after if v["IsDefaultVersion"])
    assert default["VersionId"] not in {v["VersionId"] for v in versions}
    new_doc = iam.get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])["PolicyVersion"]["Document"]
    assert new_doc["Statement"][-1]["Action"] == "ec2:DescribeRegions"
    # Restore the shipped document as the default, as the role left it (its version is one of the five kept).
    shipped = next(v["VersionId"] for v in versions if v["IsDefaultVersion"])
    assert shipped in {v["VersionId"] for v in after}
    iam.set_default_policy_version(PolicyArn=arn, VersionId=shipped)


OIDC_URL = "https://oidc.example.test/id/IRSAIT"


def _oidc_task(state: str) -> dict:
    return {"name": "provider", "register": "out",
            "nodeless.eks.oidc_provider": {"url": OIDC_URL, "thumbprints": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
                                           "state": state}}


@pytest.fixture(scope="module")
def oidc_absent(lab):
    """A provider made directly in IAM; then one check run holding both the lab issuer's thumbprint and that provider's
    removal (nothing written), the real removal and its re-run, each with its AWS write calls."""
    from support import playbook as runner

    iam = labenv.boto3_client("iam")
    iam.create_open_id_connect_provider(Url=OIDC_URL, ClientIDList=["sts.amazonaws.com"],
                                        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    thumbprint = {"name": "thumbprint", "nodeless.eks.oidc_provider": {
        "url": lab["issuer"], "compute_thumbprint": True, "issuer_validate_certs": False}, "register": "r"}
    runs = {}
    with untouched():
        runs["check"] = runner.run([{"name": "oidc", "hosts": "lab", "gather_facts": False,
                                     "tasks": [thumbprint, _oidc_task("absent")]}], check=True, diff=True)
    for name in ("real", "again"):
        runs[name] = runner.counted([{"name": "oidc", "hosts": "lab", "gather_facts": False, "tasks": [_oidc_task("absent")]}])
        runs[f"{name}_providers"] = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    return runs


def _task_result(run, task: str) -> dict:
    return next(res for name, _host, res in run.tasks() if name == task)


def test_oidc_provider_thumbprint_is_the_top_certificate_of_the_issuer_chain(lab, oidc_absent):
    import hashlib
    import ssl

    host, port = lab["issuer"].removeprefix("https://").split(":")
    # The lab's API server presents only its serving certificate, so that certificate is the top of the chain.
    expected = hashlib.sha1(ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((host, int(port))))).hexdigest()
    run = oidc_absent["check"]  # check mode, nothing written (untouched)
    assert run.rc == 0, run.failure_text()
    result = _task_result(run, "thumbprint")
    assert (result["thumbprints"], result["thumbprint_source"]) == ([expected], "computed")


def test_role_path_permissions_boundary_and_session_duration_reach_the_role(converged):
    """The per-entry role options (converged with the other accounts; the full re-run that changed nothing in IAM held them too):
    the path is part of the role's ARN (and so of the annotation)."""
    from kubernetes import client

    iam = labenv.boto3_client("iam")
    name = f"lab-{NS}-options"
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == "/irsa-it/" and role["MaxSessionDuration"] == 7200
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    sa = client.CoreV1Api(labenv.k8s_client()).read_namespaced_service_account("options", NS)
    assert sa.metadata.annotations["eks.amazonaws.com/role-arn"] == role["Arn"] == f"arn:aws:iam::123456789012:role/irsa-it/{name}"
    again = converged.again  # the full path (the gate fell through): no IAM write, only the record written again
    assert again.rc == 0 and converged.again.aws_writes == [], converged.again.aws_writes
    assert [n.split(" : ", 1)[-1] for n in again.changed()] == [
        "Record what the role converged to (written only when it differs from the stored record)"]


def _role_exists(iam, name: str) -> bool:
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def test_oidc_provider_absent_is_predicted_then_deleted_once(oidc_absent):
    check, real, again = oidc_absent["check"], oidc_absent["real"], oidc_absent["again"]
    assert check.rc == 0, check.failure_text()
    assert _task_result(check, "provider")["changes"] == [{"resource": "aws:oidc-provider/oidc.example.test/id/IRSAIT",
                                                           "action": "remove"}]
    assert real.rc == 0 and _task_result(real, "provider")["changes"] == _task_result(check, "provider")["changes"]
    assert [w[1] for w in oidc_absent["real"].aws_writes] == ["DeleteOpenIDConnectProvider"]
    assert not any(arn.endswith("/IRSAIT") for arn in oidc_absent["real_providers"])
    assert again.rc == 0 and again.total_changed() == 0 and oidc_absent["again"].aws_writes == []
