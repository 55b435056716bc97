"""asg_tags and discovery_tags against the lab: check mode predicts and writes nothing, the real run
writes in batches, the re-run reads only; stale tags are purged, nobody else's are touched."""
from __future__ import annotations

import json
import urllib.request

import pytest

from support import labenv
from support.snapshots import aws_write_calls, untouched

pytestmark = pytest.mark.lab
CA = "k8s.io/cluster-autoscaler/"
NT = CA + "node-template/"


def _task(module: str, **args) -> list:
    return [{"name": f"tagging test {module}", "hosts": "lab", "gather_facts": False,
             "tasks": [{"name": module, f"nodeless.eks.{module}": args, "register": "out"}]}]


def _result(run) -> dict:
    results = [res for name, _host, res in run.tasks() if name in ("asg_tags", "discovery_tags")]
    assert results, run.stdout[-2000:]
    return results[-1]


def _asgs() -> dict:
    client = labenv.boto3_client("autoscaling")
    return {g["AutoScalingGroupName"]: {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in g["Tags"]}
            for g in client.describe_auto_scaling_groups()["AutoScalingGroups"] if g["AutoScalingGroupName"].startswith("eks-")}


def _asg_tag(name: str, key: str, value: str | None) -> None:
    client = labenv.boto3_client("autoscaling")
    tag = {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key}
    if value is None:
        client.delete_tags(Tags=[tag])
    else:
        client.create_or_update_tags(Tags=[dict(tag, Value=value, PropagateAtLaunch=False)])


def _writes() -> list:
    return sorted(c[1] for c in aws_write_calls(labenv.aws_calls()))


def test_asg_tags_predicts_applies_in_one_batch_and_purges_only_its_own(lab, playbook):
    assert playbook(_task("asg_tags", cluster_name="lab", state="absent")).rc == 0
    workers = next(n for n in _asgs() if n.startswith("eks-workers-"))
    _asg_tag(workers, NT + "label/stale", "x")
    _asg_tag(workers, CA + "other-cluster", "owned")
    try:
        with untouched():
            check = playbook(_task("asg_tags", cluster_name="lab"), check=True, diff=True)
        predicted = _result(check)
        assert check.rc == 0 and predicted["changed"]
        assert sorted(c["resource"] for c in predicted["changes"]) == sorted(f"aws:asg/{n}" for n in _asgs())
        detail = next(c["detail"] for c in predicted["changes"] if workers in c["resource"])
        assert f"+{NT}taint/dedicated=workers:NoSchedule" in detail
        assert f"-{NT}label/stale" in detail
        assert predicted["diff"]["before"][workers][NT + "label/stale"] == "x"
        assert NT + "label/stale" not in predicted["diff"]["after"][workers]

        labenv.aws_calls(reset=True)
        applied = playbook(_task("asg_tags", cluster_name="lab"))
        assert applied.rc == 0 and _result(applied)["changed"]
        assert _writes() == ["CreateOrUpdateTags", "DeleteTags"]
        tags = _asgs()[workers]
        assert tags[CA + "enabled"] == ("true", False)
        assert tags[CA + "lab"] == ("owned", False)
        assert tags[NT + "resources/cpu"] == ("2", False)
        assert tags[NT + "resources/memory"] == ("8192Mi", False)
        assert tags[NT + "label/workload"] == ("general", False)
        assert NT + "label/stale" not in tags
        assert tags[CA + "other-cluster"] == ("owned", False), "another cluster's tag must survive purge"
        assert _result(applied)["tags"][workers] == {k: value for k, (value, _propagate) in tags.items()}

        labenv.aws_calls(reset=True)
        again = playbook(_task("asg_tags", cluster_name="lab"))
        assert again.total_changed() == 0 and _result(again)["changes"] == []
        assert _writes() == []
    finally:
        _asg_tag(workers, CA + "other-cluster", None)


def test_asg_tags_rewrites_a_tag_whose_propagation_differs(lab, playbook):
    assert playbook(_task("asg_tags", cluster_name="lab")).rc == 0
    run = playbook(_task("asg_tags", cluster_name="lab", propagate_at_launch=True, node_templates=False, purge=False))
    assert run.rc == 0
    assert all(tags[CA + "enabled"] == ("true", True) for tags in _asgs().values())
    assert all(tags[NT + "resources/cpu"][1] is False for tags in _asgs().values()), "node templates were not asked for"
    assert playbook(_task("asg_tags", cluster_name="lab")).rc == 0
    assert all(tags[CA + "enabled"] == ("true", False) for tags in _asgs().values())


def test_asg_tags_retries_throttled_writes(lab, playbook):
    assert playbook(_task("asg_tags", cluster_name="lab", state="absent")).rc == 0
    rules = {"rules": [{"service": "autoscaling", "action": "CreateOrUpdateTags", "count": 2, "status": 400}]}
    request = urllib.request.Request(f"{lab['aws_endpoint']}/_lab/faults", data=json.dumps(rules).encode(), method="POST")
    urllib.request.urlopen(request, timeout=5).read()  # noqa: S310 - loopback
    run = playbook(_task("asg_tags", cluster_name="lab"))
    assert run.rc == 0, run.failure_text()
    assert all(tags[CA + "enabled"][0] == "true" for tags in _asgs().values())


def _subnets() -> dict:
    ec2 = labenv.boto3_client("ec2")
    return {s["SubnetId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])}
            for s in ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["lab-public-*", "lab-private-*"]}])["Subnets"]}


def _cluster_sg() -> str:
    return labenv.boto3_client("eks").describe_cluster(name="lab")["cluster"]["resourcesVpcConfig"]["clusterSecurityGroupId"]


def test_discovery_tags_classifies_by_route_table_and_tags_in_one_call_per_tag_set(lab, playbook):
    subnets, sg = _subnets(), _cluster_sg()
    args = {"cluster_name": "lab", "subnet_ids": sorted(subnets), "security_group_ids": [sg]}
    assert playbook(_task("discovery_tags", state="absent", **args)).rc == 0
    public = sorted(s for s, t in subnets.items() if "-public-" in t["Name"])
    labenv.boto3_client("ec2").create_tags(Resources=[public[0]], Tags=[{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}])

    with untouched():
        check = playbook(_task("discovery_tags", **args), check=True, diff=True)
    predicted = _result(check)
    assert check.rc == 0 and predicted["changed"]
    assert len(predicted["changes"]) == 7
    assert {k for k, v in predicted["subnets"].items() if v == "public"} == set(public)
    first = next(c["detail"] for c in predicted["changes"] if public[0] in c["resource"])
    assert "-kubernetes.io/role/internal-elb" in first and "+kubernetes.io/role/elb=1" in first
    assert next(c for c in predicted["changes"] if c["resource"] == f"aws:security-group/{sg}")["detail"] == "+karpenter.sh/discovery=lab"

    labenv.aws_calls(reset=True)
    assert playbook(_task("discovery_tags", **args)).rc == 0
    assert _writes() == ["CreateTags", "CreateTags", "CreateTags", "DeleteTags"]
    for subnet, tags in _subnets().items():
        kind = "public" if subnet in public else "private"
        assert tags["kubernetes.io/cluster/lab"] == "shared"
        assert ("kubernetes.io/role/elb" in tags) == (kind == "public")
        assert ("kubernetes.io/role/internal-elb" in tags) == (kind == "private")
        assert tags.get("karpenter.sh/discovery") == (None if kind == "public" else "lab")

    labenv.aws_calls(reset=True)
    again = playbook(_task("discovery_tags", **args))
    assert again.total_changed() == 0 and _writes() == []


def test_invalid_node_group_label_fails_before_any_write(lab, playbook):
    eks = labenv.boto3_client("eks")
    info = eks.describe_cluster(name="lab")["cluster"]
    eks.create_cluster(name="tags-bad-labels", roleArn=info["roleArn"], resourcesVpcConfig={"subnetIds": info["resourcesVpcConfig"]["subnetIds"]})
    try:
        eks.create_nodegroup(clusterName="tags-bad-labels", nodegroupName="bad", nodeRole=info["roleArn"],
                             subnets=info["resourcesVpcConfig"]["subnetIds"], labels={"bad key!": "x"})
        with untouched():
            run = playbook(_task("asg_tags", cluster_name="tags-bad-labels", names=[next(iter(_asgs()))]))
        assert run.rc != 0
        assert "nodegroups[bad].labels: key 'bad key!' is not a valid Kubernetes label key" in run.failure_text()
    finally:
        for group in eks.list_nodegroups(clusterName="tags-bad-labels")["nodegroups"]:
            eks.delete_nodegroup(clusterName="tags-bad-labels", nodegroupName=group)
        eks.delete_cluster(name="tags-bad-labels")
