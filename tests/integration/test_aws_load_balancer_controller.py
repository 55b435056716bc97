"""AWS Load Balancer Controller role against the lab, with the STAND-IN chart (tests/support/charts).

Check mode first; CRDs exist before the release; ServiceAccount annotated; values carry region and
vpcId; second run writes nothing of its own; a chart upgrade upgrades the CRDs too. The chart carries
CRDs the tests generate (support.charts.aws_load_balancer_controller.synthetic_crds: the controller's kinds,
names, scopes and versions), so the test runs in any clone; the upstream v3.5.0 crds.yaml, which no
package registry here serves, is an extra comparison when ../shared is present (tests/skips.yml).
"""
from __future__ import annotations

import json

import pytest
import yaml

from support import labenv
from support import playbook as runner
from support.charts import aws_load_balancer_controller as chart
from support.snapshots import untouched, write_names

pytestmark = pytest.mark.lab
CRD_GROUPS = ("elbv2.k8s.aws", "aga.k8s.aws")


def _play(chart_dir, version):
    return [{"hosts": "lab", "gather_facts": False, "roles": [{"role": "nodeless.eks.aws_load_balancer_controller", "vars": {
        "aws_load_balancer_controller_chart_ref": str(chart_dir), "aws_load_balancer_controller_chart_version": version}}]}]


def _start_clean():
    """No release and no LBC CRDs, as on a fresh cluster (an earlier run may have installed them)."""
    from kubernetes import client

    labenv.helm("uninstall", "aws-load-balancer-controller", "-n", "kube-system", "--wait", check=False)
    ext = client.ApiextensionsV1Api(labenv.k8s_client())
    for crd in ext.list_custom_resource_definition().items:
        if crd.spec.group in CRD_GROUPS:
            ext.delete_custom_resource_definition(crd.metadata.name)


def _release_status() -> str:
    return json.loads(labenv.helm("status", "aws-load-balancer-controller", "-n", "kube-system", "-o", "json"))["info"]["status"]


def _record() -> dict:
    from kubernetes import client

    configmap = client.CoreV1Api(labenv.k8s_client()).read_namespaced_config_map("nodeless-eks-aws-load-balancer-controller", "nodeless-eks")
    return json.loads(configmap.data["record.json"])


def _count(record: dict) -> int:
    return sum(len(record[part]) for part in ("kubernetes", "aws", "helm"))


def _gate_lines(result) -> list[str]:
    return [res["msg"] for name, _host, res in result.tasks()
            if name.split(" : ", 1)[-1].startswith("Compare the release") and "msg" in res]


def test_lbc_check_converge_idempotent_and_crd_upgrade(playbook, tmp_path):
    crds = chart.synthetic_crds()
    v1 = chart.build(tmp_path / "v1", "3.5.0", crds)
    _start_clean()

    with untouched():
        check = playbook(_play(v1, "3.5.0"), check=True, diff=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert any("CRDs" in t for t in check.changed()) and any("release" in t for t in check.changed()), check.changed()

    offset, _unused = labenv.k8s_writes()
    run = playbook(_play(v1, "3.5.0"))
    assert run.rc == 0, run.stdout[-3000:]
    events = labenv.k8s_writes(offset)[1]
    first_crd = min(i for i, e in enumerate(events) if e["objectRef"].get("resource") == "customresourcedefinitions")
    first_release = min(i for i, e in enumerate(events) if e["objectRef"].get("resource") == "deployments")
    assert first_crd < first_release, "the CRDs must be applied before the release"

    from kubernetes import client
    api = labenv.k8s_client()
    sa = client.CoreV1Api(api).read_namespaced_service_account("aws-load-balancer-controller", "kube-system")
    role = labenv.boto3_client("iam").get_role(RoleName="lab-kube-system-aws-load-balancer-controller")["Role"]
    assert sa.metadata.annotations["eks.amazonaws.com/role-arn"] == role["Arn"]
    values = yaml.safe_load(labenv.helm("get", "values", "aws-load-balancer-controller", "-n", "kube-system", "-o", "yaml"))
    facts = labenv.boto3_client("eks").describe_cluster(name="lab")["cluster"]
    assert values["region"] == "us-west-2" and values["vpcId"] == facts["resourcesVpcConfig"]["vpcId"]
    assert values["serviceAccount"] == {"create": False, "name": "aws-load-balancer-controller"}
    assert values["clusterName"] == "lab" and values["replicaCount"] == 2
    assert _release_status() == "deployed"
    names = {c.metadata.name for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items}
    assert {"targetgroupbindings.elbv2.k8s.aws", "ingressclassparams.elbv2.k8s.aws"} <= names
    # The role returns once the release's pods are Ready and the webhook service has ready endpoints.
    deployment = client.AppsV1Api(api).read_namespaced_deployment("aws-load-balancer-controller", "kube-system")
    assert deployment.status.available_replicas == 2
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        "kube-system", label_selector="kubernetes.io/service-name=aws-load-balancer-webhook-service").items
    assert [e for s in slices for e in s.endpoints or [] if e.conditions and e.conditions.ready], "no ready webhook endpoint"
    # Subnet discovery: the controller picks public subnets for internet-facing and private ones for internal.
    subnets = labenv.boto3_client("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [facts["resourcesVpcConfig"]["vpcId"]]}])
    roles = {}
    for subnet in subnets["Subnets"]:
        tags = {t["Key"]: t["Value"] for t in subnet.get("Tags", [])}
        kind = tags.get("Name", "").split("-")[1] if tags.get("Name", "").startswith(("lab-public-", "lab-private-")) else None
        if kind:  # the lab's own subnets (tests may add others)
            roles.setdefault(kind, set()).add((tags.get("kubernetes.io/role/elb"), tags.get("kubernetes.io/role/internal-elb"),
                                               tags.get("kubernetes.io/cluster/lab") in ("shared", "owned")))
    assert roles == {"public": {("1", None, True)}, "private": {(None, "1", True)}}, roles

    record = _record()
    assert {(e["kind"], e["name"]) for e in record["kubernetes"]} >= {
        ("Deployment", "aws-load-balancer-controller"), ("CustomResourceDefinition", "targetgroupbindings.elbv2.k8s.aws"),
        ("CustomResourceDefinition", "ingressclassparams.elbv2.k8s.aws"), ("Secret", "sh.helm.release.v1.aws-load-balancer-controller.v1")}
    assert {e["type"] for e in record["aws"]} >= {"iam_role", "iam_policy", "subnet"}
    assert ("ServiceAccount", "aws-load-balancer-controller") in {(e["kind"], e["name"]) for e in record["kubernetes"]}

    # The re-run goes through the gate (the full path's re-run writing nothing is test_site's full-check re-run).
    again = runner.counted(_play(v1, "3.5.0"))
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert _gate_lines(again) == [f"aws_load_balancer_controller: in sync (record {record['written_at']}, {_count(record)} objects)"]
    assert again.aws_writes == []
    assert write_names(again.k8s_writes) == []

    # Drift (#23): the Deployment's args edited out of band. Helm alone would keep the edit (the chart and the values
    # are the release's); the gate falls through, the role re-applies the release, the record is written again.
    apps = client.AppsV1Api(api)
    edited = apps.read_namespaced_deployment("aws-load-balancer-controller", "kube-system")
    args = list(edited.spec.template.spec.containers[0].args)
    apps.patch_namespaced_deployment("aws-load-balancer-controller", "kube-system", {"spec": {"template": {"spec": {"containers": [
        {"name": "aws-load-balancer-controller", "args": args + ["--ingress-class=drifted"]}]}}}})
    repair = playbook(_play(v1, "3.5.0"))
    assert repair.rc == 0, repair.failure_text()
    assert _gate_lines(repair) == ["aws_load_balancer_controller: not in sync, full path "
                                   "(Deployment kube-system/aws-load-balancer-controller: generation changed)"]
    repaired = apps.read_namespaced_deployment("aws-load-balancer-controller", "kube-system")
    assert repaired.spec.template.spec.containers[0].args == args
    rewritten = _record()
    deployment = next(e for e in rewritten["kubernetes"] if e["kind"] == "Deployment")
    assert deployment["generation"] == repaired.metadata.generation and rewritten["written_at"] >= record["written_at"]
    assert "sh.helm.release.v1.aws-load-balancer-controller.v2" in [e["name"] for e in rewritten["kubernetes"]]

    # A newer chart whose TargetGroupBinding CRD gained a printer column: Helm alone would keep the old CRD.
    docs = list(yaml.safe_load_all(crds))
    tgb = next(d for d in docs if d and d["metadata"]["name"] == "targetgroupbindings.elbv2.k8s.aws")
    for version in tgb["spec"]["versions"]:
        version.setdefault("additionalPrinterColumns", []).append({"name": "UPGRADED", "type": "string", "jsonPath": ".spec.targetType"})
    v2 = chart.build(tmp_path / "v2", "3.5.1", yaml.safe_dump_all(docs))
    upgrade = playbook(_play(v2, "3.5.1"))
    assert upgrade.rc == 0, upgrade.stdout[-3000:]
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("targetgroupbindings.elbv2.k8s.aws")
    assert all("UPGRADED" in [c.name for c in v.additional_printer_columns or []] for v in crd.spec.versions)
    release = labenv.helm("list", "-n", "kube-system", "-o", "json")
    assert "aws-load-balancer-controller-3.5.1" in release


@pytest.mark.upstream
def test_upstream_crds_hold_the_generated_kinds_and_the_lab_accepts_them(lab, upstream):
    """Drift: the generated CRDs name kinds upstream v3.5.0 ships, with the same scope and storage version;
    the API server accepts upstream's own CRDs (server-side apply, dry run: nothing stored or changed)."""
    from kubernetes import client

    theirs = [d for d in yaml.safe_load_all((upstream / "aws-load-balancer-controller" / "v3.5.0" / "crds.yaml").read_text()) if d]
    ours = [d for d in yaml.safe_load_all(chart.synthetic_crds()) if d]

    def shape(doc):
        storage = next(v["name"] for v in doc["spec"]["versions"] if v["storage"])
        return doc["spec"]["names"]["kind"], doc["spec"]["scope"], storage

    upstream_shapes = {d["metadata"]["name"]: shape(d) for d in theirs}
    assert {d["metadata"]["name"]: shape(d) for d in ours}.items() <= upstream_shapes.items(), upstream_shapes
    ext = client.ApiextensionsV1Api(labenv.k8s_client())
    for doc in theirs:
        accepted = ext.patch_custom_resource_definition(doc["metadata"]["name"], doc, dry_run="All", force=True,
                                                        field_manager="nodeless-eks-drift-test",
                                                        _content_type="application/apply-patch+yaml")
        assert accepted.spec.group == doc["spec"]["group"]
