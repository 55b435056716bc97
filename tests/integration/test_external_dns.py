"""ExternalDNS role against the lab: exact flags, Available Deployment, policy limited to the zone's ARN."""
from __future__ import annotations

import pytest

from support import labenv
from support.snapshots import aws_write_calls, untouched, write_names

pytestmark = pytest.mark.lab

PLAY = [{"hosts": "lab", "gather_facts": False, "roles": [{"role": "nodeless.eks.external_dns", "vars": {
    "external_dns_domains": ["internal.lab.example.com"], "external_dns_zone_type": "private",
    "external_dns_policy": "sync", "external_dns_txt_owner_id": "lab-it"}}]}]


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


def test_external_dns_check_then_converge_then_nothing(playbook):
    _delete_k8s_objects()
    r53 = labenv.boto3_client("route53")
    zone = next(z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "internal.lab.example.com.")
    zone_id = zone["Id"].rsplit("/", 1)[1]

    with untouched():
        check = playbook(PLAY, check=True, diff=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert any("RBAC and Deployment" in t for t in check.changed()), check.changed()

    run = playbook(PLAY)
    assert run.rc == 0, run.stdout[-3000:]

    from kubernetes import client
    dep = client.AppsV1Api(labenv.k8s_client()).read_namespaced_deployment("external-dns", "kube-system")
    assert dep.spec.template.spec.containers[0].args == [
        "--source=service", "--source=ingress", "--provider=aws", "--registry=txt", "--txt-owner-id=lab-it",
        "--policy=sync", "--domain-filter=internal.lab.example.com", "--aws-zone-type=private", f"--zone-id-filter={zone_id}"]
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

    labenv.aws_calls(reset=True)
    offset, _unused = labenv.k8s_writes()
    again = playbook(PLAY)
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert aws_write_calls(labenv.aws_calls()) == []
    # Every write counts, the irsa role's ServiceAccount apply included: a re-run writes nothing.
    assert write_names(labenv.k8s_writes(offset)[1]) == []
