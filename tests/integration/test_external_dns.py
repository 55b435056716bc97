"""ExternalDNS role against the lab: exact flags, Available Deployment, policy limited to the zone's ARN; then the upstream
ExternalDNS (v0.19.0, the role's version, built by the lab) run with the args of the Deployment the role wrote, as its
ServiceAccount with its IRSA role, against moto's Route 53 (``nodeless_lab.controllers``).

One converge (module fixture) serves both: the role's own checks, and the controller's run."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from support import labenv
from support.playbook import counted
from support.playbook import run as run_playbook
from support.snapshots import untouched, write_names
from support.waiting import until

pytestmark = pytest.mark.lab

DOMAIN = "internal.lab.example.com"
OWNER = "lab-it"
PLAY = [{"hosts": "lab", "gather_facts": False, "roles": [{"role": "nodeless.eks.external_dns", "vars": {
    "external_dns_domains": [DOMAIN], "external_dns_zone_type": "private",
    "external_dns_policy": "sync", "external_dns_txt_owner_id": OWNER,
    # Sync on a Service / Ingress change (at most every 5 s) instead of only once a minute.
    "external_dns_extra_args": ["--events"]}}]}]
NAMESPACE = "external-dns-it"
ROLE_ARN = "eks.amazonaws.com/role-arn"
TIMEOUT = 60
# Another cluster's record in our zone, with its TXT ownership record (registry format of ExternalDNS 0.19).
FOREIGN = {"name": f"taken.{DOMAIN}.", "ip": "192.0.2.99",
           "txt": '"heritage=external-dns,external-dns/owner=another-cluster,external-dns/resource=service/other/taken"'}


def _delete_k8s_objects():
    """Start from a cluster without ExternalDNS (an earlier run may have left one)."""
    from kubernetes import client

    api = labenv.k8s_client()
    for call, args in ((client.AppsV1Api(api).delete_namespaced_deployment, ("external-dns", "kube-system")),
                       (client.RbacAuthorizationV1Api(api).delete_cluster_role_binding, ("external-dns",)),
                       (client.RbacAuthorizationV1Api(api).delete_cluster_role, ("external-dns",))):
        try:
            call(*args)
        except client.exceptions.ApiException as exc:
            assert exc.status == 404


def _zone_id(name: str, private: bool) -> str:
    zones = labenv.boto3_client("route53").list_hosted_zones()["HostedZones"]
    return next(z["Id"].rsplit("/", 1)[1] for z in zones if z["Name"] == f"{name}." and z["Config"]["PrivateZone"] == private)


def _record() -> dict:
    from kubernetes import client

    config_map = client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("nodeless-eks-external-dns", "nodeless-eks")
    return json.loads(config_map.data["record.json"])


def _gate_lines(result) -> list[str]:
    """What the role's gate said (#23): in sync, or why the full path runs."""
    return [res["msg"] for name, _host, res in result.tasks() if name.endswith("with the convergence record") and "in_sync" in res]


def _role_arn_annotation() -> str | None:
    from kubernetes import client

    sa = client.CoreV1Api(labenv.k8s_client()).read_namespaced_service_account("external-dns", "kube-system")
    return (sa.metadata.annotations or {}).get(ROLE_ARN)


@pytest.fixture(scope="module")
def converged(lab):  # noqa: ARG001 - the lab must be up
    """Check mode first (writes nothing), then the one real converge; then drift (#23): the ServiceAccount's IRSA
    annotation removed out of band, and one run, whose gate must fall through and whose role must put it back."""
    from kubernetes import client

    _delete_k8s_objects()
    with untouched():
        check = run_playbook(PLAY, check=True, diff=True)
    run = run_playbook(PLAY)
    drift = {"record": _record(), "annotation": _role_arn_annotation()}
    client.CoreV1Api(labenv.k8s_client()).patch_namespaced_service_account(
        "external-dns", "kube-system", {"metadata": {"annotations": {ROLE_ARN: None}}})
    drift["removed"] = _role_arn_annotation()
    drift["run"] = run_playbook(PLAY)
    drift["restored"], drift["record_after"] = _role_arn_annotation(), _record()
    return {"check": check, "run": run, "zone_id": _zone_id(DOMAIN, private=True), "drift": drift}


def test_external_dns_check_then_converge_then_nothing(converged, playbook):
    check, run, zone_id = converged["check"], converged["run"], converged["zone_id"]
    assert check.rc == 0, check.stdout[-3000:]
    assert any("RBAC and Deployment" in t for t in check.changed()), check.changed()
    assert run.rc == 0, run.stdout[-3000:]

    from kubernetes import client
    dep = client.AppsV1Api(labenv.k8s_client()).read_namespaced_deployment("external-dns", "kube-system")
    assert dep.spec.template.spec.containers[0].args == [
        "--source=service", "--source=ingress", "--provider=aws", "--registry=txt", f"--txt-owner-id={OWNER}",
        "--policy=sync", f"--domain-filter={DOMAIN}", "--aws-zone-type=private", f"--zone-id-filter={zone_id}", "--events"]
    assert [c.status for c in dep.status.conditions if c.type == "Available"] == ["True"]

    iam = labenv.boto3_client("iam")
    sa = client.CoreV1Api(labenv.k8s_client()).read_namespaced_service_account("external-dns", "kube-system")
    assert sa.metadata.annotations["eks.amazonaws.com/role-arn"] == iam.get_role(RoleName="lab-kube-system-external-dns")["Role"]["Arn"]
    arn = next(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="lab-kube-system-external-dns")["AttachedPolicies"])
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    writes = [s for s in doc["Statement"] if "route53:ChangeResourceRecordSets" in s["Action"]]
    resources = [r for s in writes for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert resources == [f"arn:aws:route53:::hostedzone/{zone_id}"], "the policy must list only the given zone's ARN"

    again = counted(PLAY)
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert again.aws_writes == []
    # Every write counts, the irsa role's ServiceAccount apply included: a re-run writes nothing. It goes through the
    # gate (#23); the full path's re-run is test_site.py's (nodeless_eks_full_check).
    assert write_names(again.k8s_writes) == []
    record = converged["drift"]["record_after"]
    assert _gate_lines(again) == [f"external_dns: in sync (record {record['written_at']}, {len(record['kubernetes']) + len(record['aws'])} objects)"]


def test_removed_service_account_annotation_is_found_by_the_gate_and_put_back(converged):
    """#23 drift: the record of the converge no longer holds once the IRSA annotation was removed out of band."""
    drift = converged["drift"]
    assert _gate_lines(converged["run"])[0].startswith("external_dns: not in sync, full path ("), _gate_lines(converged["run"])
    assert drift["annotation"] and drift["removed"] is None
    assert drift["run"].rc == 0, drift["run"].failure_text()
    assert _gate_lines(drift["run"]) == ["external_dns: not in sync, full path (ServiceAccount kube-system/external-dns: resourceVersion changed)"]
    assert drift["restored"] == drift["annotation"]
    assert sorted((e["kind"], e.get("namespace"), e["name"]) for e in drift["record_after"]["kubernetes"]) == [
        ("ClusterRole", None, "external-dns"), ("ClusterRoleBinding", None, "external-dns"),
        ("Deployment", "kube-system", "external-dns"), ("ServiceAccount", "kube-system", "external-dns")]
    assert sorted(e["type"] for e in drift["record_after"]["aws"]) == ["iam_oidc_provider", "iam_policy", "iam_role"]
    assert [e["id"] for e in drift["record_after"]["aws"] if e["type"] == "iam_role"] == ["lab-kube-system-external-dns"]
    service_accounts = [[e["resourceVersion"] for e in r["kubernetes"] if e["kind"] == "ServiceAccount"]
                        for r in (drift["record"], drift["record_after"])]
    assert service_accounts[0] != service_accounts[1], "the record must be rewritten with the repaired ServiceAccount"


# --- the upstream controller on what the role deployed ----------------------------------------------------------------

def _records(zone_id: str) -> dict[tuple[str, str], list[str]]:
    sets = labenv.boto3_client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(s["Name"], s["Type"]): sorted(r["Value"] for r in s.get("ResourceRecords", [])) for s in sets
            if s["Type"] not in ("SOA", "NS")}


def _wait(what: str, check, timeout: float = TIMEOUT):
    return until(what, check, timeout, hint="see the lab's logs/external-dns.log")


def _foreign(zone_id: str, action: str) -> None:
    r53 = labenv.boto3_client("route53")
    changes = [{"Action": action, "ResourceRecordSet": {"Name": FOREIGN["name"], "Type": "A", "TTL": 300,
                                                        "ResourceRecords": [{"Value": FOREIGN["ip"]}]}},
               {"Action": action, "ResourceRecordSet": {"Name": f"a-{FOREIGN['name']}", "Type": "TXT", "TTL": 300,
                                                        "ResourceRecords": [{"Value": FOREIGN["txt"]}]}}]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def _service(name: str, hostname: str) -> dict:
    return {"metadata": {"name": name, "annotations": {"external-dns.alpha.kubernetes.io/hostname": hostname}},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]}}


@pytest.fixture
def controller(converged, lab):
    """ExternalDNS running with the Deployment's args, in a namespace of this test; stopped and cleaned after."""
    from kubernetes import client

    from nodeless_lab import controllers

    assert converged["run"].rc == 0, converged["run"].failure_text()
    api = labenv.k8s_client()
    core = client.CoreV1Api(api)
    log = Path(lab["dir"]) / "logs" / "external-dns.log"
    offset = log.stat().st_size if log.exists() else 0
    labenv.aws_calls(reset=True)
    started = time.monotonic()
    controllers.start_external_dns(lab)
    print(f"\n[external-dns] controller up, first sync done in {time.monotonic() - started:.1f}s")
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    _foreign(converged["zone_id"], "CREATE")
    try:
        yield {"core": core, "net": client.NetworkingV1Api(api), "log": log, "offset": offset}
    finally:
        print(f"\n[external-dns] controller process CPU: {controllers.cpu_seconds(lab, controllers.EXTERNAL_DNS)}s (user + system)")
        controllers.stop_external_dns(lab)
        _foreign(converged["zone_id"], "DELETE")
        core.delete_namespace(NAMESPACE)
        # Namespace deletion finishes in the background: the next test's snapshot must not see it go.
        _wait(f"namespace {NAMESPACE} gone", lambda: NAMESPACE not in {n.metadata.name for n in core.list_namespace().items})


def test_records_follow_services_and_ingresses_in_our_zone_only(controller, converged):
    core, net, zone_id = controller["core"], controller["net"], converged["zone_id"]
    public_id = _zone_id("lab.example.com", private=False)
    public_before = _records(public_id)
    # Created first, so every sync that sees a later object has seen these: outside the domain filter (in a zone
    # of the account, not ours), and a name another cluster owns.
    for name, hostname, ip in (("outside", "outside.lab.example.com", "192.0.2.30"), ("taken", FOREIGN["name"].rstrip("."), "192.0.2.20"),
                               ("web", f"web.{DOMAIN}", "192.0.2.10")):
        core.create_namespaced_service(NAMESPACE, _service(name, hostname))
        # No load balancer controller in the lab: the status it would write.
        core.patch_namespaced_service_status(name, NAMESPACE, {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
    net.create_namespaced_ingress(NAMESPACE, {
        "metadata": {"name": "app", "annotations": {"external-dns.alpha.kubernetes.io/hostname": f"app.{DOMAIN}"}},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})
    net.patch_namespaced_ingress_status("app", NAMESPACE, {"status": {"loadBalancer": {"ingress": [{"hostname": "lb-app.example.net"}]}}})

    ours = {(f"web.{DOMAIN}.", "A"), (f"a-web.{DOMAIN}.", "TXT"), (f"app.{DOMAIN}.", "CNAME"), (f"cname-app.{DOMAIN}.", "TXT")}
    theirs = {(FOREIGN["name"], "A"), (f"a-{FOREIGN['name']}", "TXT")}

    def published():
        records = _records(zone_id)
        return records if ours <= set(records) else None

    records = _wait("the records of web and app", published)
    assert set(records) == ours | theirs, records  # nothing else written in our zone
    assert records[(f"web.{DOMAIN}.", "A")] == ["192.0.2.10"]
    assert records[(f"app.{DOMAIN}.", "CNAME")] == ["lb-app.example.net"]
    for key in ((f"a-web.{DOMAIN}.", "TXT"), (f"cname-app.{DOMAIN}.", "TXT")):  # ownership: our owner id, the source object
        assert [v for v in records[key] if f"external-dns/owner={OWNER}," in v and f"/{NAMESPACE}/" in v] == records[key], key
    # Another cluster's record is left as it was (owner id honoured).
    assert records[(FOREIGN["name"], "A")] == [FOREIGN["ip"]]
    # A hostname outside the domain filter gets nothing, even with a zone for it in the account.
    assert _records(public_id) == public_before
    assert [c for c in labenv.aws_calls() if c[1] == "AssumeRoleWithWebIdentity"], "ExternalDNS must call AWS as its IRSA role"

    # Policy sync: deleting the sources deletes their records, and only ours.
    core.delete_namespaced_service("web", NAMESPACE)
    net.delete_namespaced_ingress("app", NAMESPACE)
    core.delete_namespaced_service("taken", NAMESPACE)

    def withdrawn():
        records = _records(zone_id)
        return records if not ours & set(records) else None

    left = _wait("web's and app's records deleted", withdrawn)
    assert left == {(FOREIGN["name"], "A"): [FOREIGN["ip"]], (f"a-{FOREIGN['name']}", "TXT"): [FOREIGN["txt"]]}, left

    text = controller["log"].read_bytes()[controller["offset"]:].decode(errors="replace")
    errors = [line for line in text.splitlines() if re.search(r"level=(error|fatal|panic)", line)]
    assert errors == [], errors
