"""The convergence record and the gate (#23) on two capabilities: discovery_tags (AWS: subnet, security group and ASG
tags, route tables) and overprovisioning (Kubernetes: PriorityClasses, namespace, pause Deployment).

One converge of both roles; a gated re-run that reads and writes nothing else; then out-of-band edits (a tag removed
from a subnet with boto3, the pause Deployment's spec edited, then deleted, a labelled PriorityClass added) after which
the gate falls through and the role repairs what it manages. The bad records (newer version, nonsense, unreadable) in
one run of the module itself."""
from __future__ import annotations

import json
import time

import pytest
import yaml

from support import labenv, playbook as runner
from support.snapshots import aws_write_calls, write_names

pytestmark = pytest.mark.lab
BOTH = [{"name": "gated capabilities", "hosts": "lab", "gather_facts": False,
         "roles": [{"role": "nodeless.eks.discovery_tags"}, {"role": "nodeless.eks.overprovisioning"}]}]
ELB = "kubernetes.io/role/elb"
CAPABILITIES = ("discovery_tags: ", "overprovisioning: ")


def _apis():
    from kubernetes import client

    api = labenv.k8s_client()
    return client.CoreV1Api(api), client.SchedulingV1Api(api), client.AppsV1Api(api)


def _run(playbook, **kwargs) -> dict:
    """One run of both roles with what it cost: result, AWS calls, API writes, the gates' lines."""
    labenv.aws_calls(reset=True)
    offset = labenv.k8s_writes()[0]
    started = time.monotonic()
    result = playbook(BOTH, **kwargs)
    lines = [res["msg"] for name, _host, res in result.tasks()
             if name.split(" : ", 1)[-1].startswith("Compare the") and str(res.get("msg")).startswith(CAPABILITIES)]
    return {"result": result, "calls": labenv.aws_calls(), "writes": labenv.k8s_writes(offset)[1], "lines": lines,
            "seconds": time.monotonic() - started}


def _record(capability: str) -> dict:
    core, _unused, _unused = _apis()
    name = "nodeless-eks-" + capability.replace("_", "-")
    return json.loads(core.read_namespaced_config_map(name, "nodeless-eks").data["record.json"])


def _public_subnet(ec2, record: dict) -> str:
    ids = [e["id"] for e in record["aws"] if e["type"] == "subnet"]
    return next(s["SubnetId"] for s in ec2.describe_subnets(SubnetIds=ids)["Subnets"]
                if any(t["Key"] == ELB for t in s.get("Tags") or []))


@pytest.fixture(scope="module")
def drift(lab):
    """Converge, re-run gated, then three out-of-band edits, each followed by one run; what each saw and did."""
    from kubernetes import client

    core, sched, apps = _apis()
    ec2 = labenv.boto3_client("ec2")
    playbook = runner.run
    out = {"converge": _run(playbook)}
    assert out["converge"]["result"].rc == 0, out["converge"]["result"].failure_text()
    out["records"] = {c: _record(c) for c in ("discovery_tags", "overprovisioning")}
    out["gated"] = _run(playbook)
    # 1. a subnet tag removed (AWS) and the Deployment's spec edited (Kubernetes), in one run
    out["subnet"] = _public_subnet(ec2, out["records"]["discovery_tags"])
    ec2.delete_tags(Resources=[out["subnet"]], Tags=[{"Key": ELB}])
    apps.patch_namespaced_deployment("overprovisioning", "overprovisioning", {"spec": {"replicas": 3}})
    out["edited"] = _run(playbook)
    out["after_edit"] = {"tags": {t["Key"]: t["Value"] for t in ec2.describe_subnets(SubnetIds=[out["subnet"]])["Subnets"][0]["Tags"]},
                         "replicas": apps.read_namespaced_deployment("overprovisioning", "overprovisioning").spec.replicas}
    # 2. the Deployment deleted
    apps.delete_namespaced_deployment("overprovisioning", "overprovisioning")
    out["deleted"] = _run(playbook)
    out["after_delete"] = apps.read_namespaced_deployment("overprovisioning", "overprovisioning").spec.replicas
    # 3. an object added with the role's labels
    labels = {"app.kubernetes.io/name": "overprovisioning", "app.kubernetes.io/instance": "overprovisioning"}
    sched.create_priority_class(client.V1PriorityClass(metadata=client.V1ObjectMeta(name="gate-test-added", labels=labels), value=-5))
    try:
        out["added"] = _run(playbook)
        out["adopted"] = _record("overprovisioning")
    finally:
        sched.delete_priority_class("gate-test-added")
    return out


def test_gated_rerun_reads_once_per_type_and_writes_nothing(drift):
    converge, gated = drift["converge"], drift["gated"]
    assert gated["result"].rc == 0 and gated["result"].total_changed() == 0, gated["result"].changed()
    assert not aws_write_calls(gated["calls"]) and not gated["writes"], write_names(gated["writes"])
    records = drift["records"]
    assert gated["lines"] == [f"discovery_tags: in sync (record {records['discovery_tags']['written_at']}, 10 objects)",
                              f"overprovisioning: in sync (record {records['overprovisioning']['written_at']}, 4 objects)"]
    # the gate's reads: one describe per resource type (DescribeCluster/DescribeNodegroup are the common role's)
    reads = sorted(c[1] for c in gated["calls"] if c[0] in ("ec2", "autoscaling"))
    assert reads == ["DescribeAutoScalingGroups", "DescribeRouteTables", "DescribeSecurityGroups", "DescribeSubnets"], reads
    print(f"\nFIGURE gate: converge {converge['seconds']:.1f}s, gated re-run {gated['seconds']:.1f}s "
          f"({len(gated['calls'])} AWS calls, 0 writes)")


def test_discovery_tags_converged_tag_subnets_security_group_and_node_group_asgs(drift):
    """What the discovery_tags role (defaults) left, read after the fixture's runs repaired every edit (was
    molecule/discovery_tags/verify.yml, a second converge of the same role): both node-group ASGs carry the
    cluster-autoscaler discovery tags, the workers' their taint and size for scale-from-zero; public subnets are
    tagged for internet-facing load balancers, private ones for internal ones and Karpenter; the cluster security
    group for Karpenter."""
    ca, cluster = "k8s.io/cluster-autoscaler", labenv.state()["cluster_name"]
    autoscaling, ec2 = labenv.boto3_client("autoscaling"), labenv.boto3_client("ec2")
    groups = [g for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
              if g["AutoScalingGroupName"].startswith(("eks-system-", "eks-workers-"))]
    assert sorted(g["AutoScalingGroupName"].split("-")[1] for g in groups) == ["system", "workers"]
    for group in groups:
        tags = {t["Key"]: t["Value"] for t in group["Tags"]}
        role = group["AutoScalingGroupName"].split("-")[1]
        assert (tags[f"{ca}/enabled"], tags[f"{ca}/{cluster}"], tags[f"{ca}/node-template/label/role"]) == ("true", "owned", role)
        if role == "workers":
            assert (tags[f"{ca}/node-template/taint/dedicated"], tags[f"{ca}/node-template/resources/cpu"],
                    tags[f"{ca}/node-template/resources/memory"]) == ("workers:NoSchedule", "2", "8192Mi")
    vpc_config = labenv.boto3_client("eks").describe_cluster(name=cluster)["cluster"]["resourcesVpcConfig"]
    subnets = ec2.describe_subnets(SubnetIds=vpc_config["subnetIds"])["Subnets"]
    assert len(subnets) == 6
    for subnet in subnets:
        tags = {t["Key"]: t["Value"] for t in subnet["Tags"]}
        public = "-public-" in tags["Name"]
        assert tags[f"kubernetes.io/cluster/{cluster}"] == "shared", subnet["SubnetId"]
        assert (tags.get(ELB, ""), tags.get("kubernetes.io/role/internal-elb", ""), tags.get("karpenter.sh/discovery", "")) == (
            ("1", "", "") if public else ("", "1", cluster)), tags
    (group,) = ec2.describe_security_groups(GroupIds=[vpc_config["clusterSecurityGroupId"]])["SecurityGroups"]
    assert {t["Key"]: t["Value"] for t in group["Tags"]}["karpenter.sh/discovery"] == cluster


def test_record_is_readable_json_naming_what_it_covers(drift):
    tags, over = drift["records"]["discovery_tags"], drift["records"]["overprovisioning"]
    assert (tags["schema"], tags["version"], tags["capability"]) == (1, "0.1.0", "discovery_tags")
    assert tags["inputs"].startswith("sha256:") and not tags["kubernetes"]
    assert sorted({e["type"] for e in tags["aws"]}) == ["autoscaling_group", "route_tables", "security_group", "subnet"]
    assert sorted((e["kind"], e.get("namespace"), e["name"]) for e in over["kubernetes"]) == [
        ("Deployment", "overprovisioning", "overprovisioning"), ("Namespace", None, "overprovisioning"),
        ("PriorityClass", None, "default"), ("PriorityClass", None, "overprovisioning")]
    deployment = next(e for e in over["kubernetes"] if e["kind"] == "Deployment")
    assert "generation" in deployment and "resourceVersion" not in deployment


def test_subnet_tag_removed_and_deployment_edited_are_found_and_repaired(drift):
    edited = drift["edited"]
    assert edited["result"].rc == 0, edited["result"].failure_text()
    assert edited["lines"] == [f"discovery_tags: not in sync, full path (aws subnet {drift['subnet']}: sha256 changed)",
                               "overprovisioning: not in sync, full path (Deployment overprovisioning/overprovisioning: generation changed)"]
    assert drift["after_edit"]["tags"][ELB] == "1" and drift["after_edit"]["replicas"] == 1
    assert [c[1] for c in aws_write_calls(edited["calls"])] == ["CreateTags"]
    # the repaired tags are the recorded ones: the record's content is unchanged (no write); the Deployment's
    # generation moved, so its record was written again
    assert [w for w in write_names(edited["writes"]) if "configmaps" in w] == ["patch configmaps/nodeless-eks-overprovisioning"]


def test_deleted_deployment_is_found_and_created_again(drift):
    deleted = drift["deleted"]
    assert deleted["result"].rc == 0, deleted["result"].failure_text()
    assert deleted["lines"] == ["discovery_tags: in sync (record {}, 10 objects)".format(drift["records"]["discovery_tags"]["written_at"]),
                                "overprovisioning: not in sync, full path (Deployment overprovisioning/overprovisioning: gone)"]
    assert drift["after_delete"] == 1 and not aws_write_calls(deleted["calls"])


def test_added_labelled_object_is_found_and_adopted_into_the_record(drift):
    """The role does not prune: the full path runs (and would repair what it manages), and the record then covers the
    object that carries its labels, so the next run is in sync again."""
    added = drift["added"]
    assert added["result"].rc == 0 and added["result"].total_changed() == 1, added["result"].changed()
    assert added["lines"][1] == "overprovisioning: not in sync, full path (PriorityClass gate-test-added: not in the record)"
    assert "gate-test-added" in [e["name"] for e in drift["adopted"]["kubernetes"]]


def test_newer_nonsense_and_unreadable_records_take_the_full_path(playbook, tmp_path):
    """A record from a newer collection is not trusted and one that is not a record is ignored (each said once, as a
    warning); a read that fails (API server unreachable) is never in sync."""
    from kubernetes import client

    core, _unused, _unused = _apis()
    newer = dict(_record("overprovisioning"), version="9.0.0", capability="gate-test-newer")
    for name, text in (("gate-test-newer", json.dumps(newer)), ("gate-test-nonsense", "{\"schema\": 1, \"kubernetes\": 3}")):
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"nodeless-eks-{name}"), data={"record.json": text})
        try:
            core.create_namespaced_config_map("nodeless-eks", body)
        except client.ApiException:
            core.replace_namespaced_config_map(f"nodeless-eks-{name}", "nodeless-eks", body)
    kubeconfig = yaml.safe_load(open(labenv.state()["kubeconfig"], encoding="utf-8"))
    for cluster in kubeconfig["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:1"
    down = tmp_path / "down.kubeconfig"
    down.write_text(yaml.safe_dump(kubeconfig))
    tasks = [{"name": name, "nodeless.eks.convergence_record": dict({"capability": name, "inputs": {}}, **extra),
              "register": name.replace("-", "_")} for name, extra in (
        ("gate-test-newer", {}), ("gate-test-nonsense", {}), ("gate-test-down", {"kubeconfig": str(down)}))]
    result = playbook([{"name": "bad records", "hosts": "lab", "gather_facts": False, "tasks": tasks}])
    assert result.rc == 0, result.failure_text()
    found = {name: res for name, _host, res in result.tasks()}
    assert [found[n]["in_sync"] for n in ("gate-test-newer", "gate-test-nonsense", "gate-test-down")] == [False] * 3
    assert found["gate-test-newer"]["reasons"] == ["record written by nodeless.eks 9.0.0, newer than this 0.1.0: full path"]
    warnings = {name: [w for w in found[name].get("warnings", []) if w.startswith(name)] for name in found}
    assert warnings["gate-test-newer"] == ["gate-test-newer: record written by nodeless.eks 9.0.0, newer than this 0.1.0: full path"]
    assert warnings["gate-test-nonsense"] == ["gate-test-nonsense: the convergence record is not one nodeless.eks wrote "
                                              "(missing version, capability, written_at, inputs, aws, helm); ignored: full path"]
    assert len(found["gate-test-down"]["reasons"]) == 1 and found["gate-test-down"]["reasons"][0].startswith("read failed: ")
    assert "Connection refused" in found["gate-test-down"]["reasons"][0]
    for name in ("gate-test-newer", "gate-test-nonsense"):
        core.delete_namespaced_config_map(f"nodeless-eks-{name}", "nodeless-eks")
