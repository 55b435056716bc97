"""asg_tags and discovery_tags against the lab: check mode predicts and writes nothing, the real run
writes in batches, the re-run reads only; stale tags are purged, nobody else's are touched.

One lifecycle for the file (the ``life`` fixture): both modules go through the same playbook runs, absent ->
check (untouched) -> real -> re-run with the bad-label refusal (untouched) -> asg_tags with propagation ->
back to the defaults with throttled writes, each module call with its own AWS calls
(``support.snapshots.with_call_log``); the tests read its results.
"""
from __future__ import annotations

import json
import urllib.request

import pytest

from support import labenv
from support import playbook as runner
from support.snapshots import calls_by_task, untouched_run, with_call_log, writes_by_task

pytestmark = pytest.mark.lab
CA = "k8s.io/cluster-autoscaler/"
NT = CA + "node-template/"
BAD = "tags-bad-labels"


def _task(name: str, module: str, **args) -> dict:
    return {"name": name, f"nodeless.eks.{module}": args}


def _play(tasks: list) -> list:
    return [{"name": "tagging test", "hosts": "lab", "gather_facts": False, "tasks": with_call_log(tasks)}]


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


def _subnets() -> dict:
    ec2 = labenv.boto3_client("ec2")
    return {s["SubnetId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])}
            for s in ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["lab-public-*", "lab-private-*"]}])["Subnets"]}


def _cluster_sg() -> str:
    return labenv.boto3_client("eks").describe_cluster(name="lab")["cluster"]["resourcesVpcConfig"]["clusterSecurityGroupId"]


def _run(plays: list, **kwargs):
    labenv.aws_calls(reset=True)
    return runner.run(plays, **kwargs)


def _bad_cluster(eks) -> None:
    """A cluster whose node group has a label Kubernetes refuses."""
    info = eks.describe_cluster(name="lab")["cluster"]
    eks.create_cluster(name=BAD, roleArn=info["roleArn"], resourcesVpcConfig={"subnetIds": info["resourcesVpcConfig"]["subnetIds"]})
    eks.create_nodegroup(clusterName=BAD, nodegroupName="bad", nodeRole=info["roleArn"],
                         subnets=info["resourcesVpcConfig"]["subnetIds"], labels={"bad key!": "x"})


def _delete_bad_cluster(eks) -> None:
    if BAD not in eks.list_clusters()["clusters"]:
        return
    for group in eks.list_nodegroups(clusterName=BAD)["nodegroups"]:
        eks.delete_nodegroup(clusterName=BAD, nodegroupName=group)
    eks.delete_cluster(name=BAD)


@pytest.fixture(scope="module")
def life(lab):
    eks = labenv.boto3_client("eks")
    subnets, sg = _subnets(), _cluster_sg()
    discovery = {"cluster_name": "lab", "subnet_ids": sorted(subnets), "security_group_ids": [sg]}
    public = sorted(s for s, t in subnets.items() if "-public-" in t["Name"])
    out = {"public": public, "sg": sg}
    workers = None
    try:
        out["absent"] = _run(_play([_task("asg_tags", "asg_tags", cluster_name="lab", state="absent"),
                                    _task("discovery_tags", "discovery_tags", state="absent", **discovery)]))
        workers = out["workers"] = [n for n in _asgs() if n.startswith("eks-workers-")][0]
        _asg_tag(workers, NT + "label/stale", "x")
        _asg_tag(workers, CA + "other-cluster", "owned")
        labenv.boto3_client("ec2").create_tags(Resources=[public[0]], Tags=[{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}])
        out["asgs_before"] = sorted(_asgs())

        both = [_task("asg_tags", "asg_tags", cluster_name="lab"), _task("discovery_tags", "discovery_tags", **discovery)]
        out["check"], out["check_untouched"] = untouched_run(runner.run, _play(both), check=True, diff=True)
        out["apply"] = _run(_play(both))
        out["asgs_applied"], out["subnets_applied"] = _asgs(), _subnets()

        _bad_cluster(eks)
        out["again"], out["again_untouched"] = untouched_run(runner.run, _play([
            _task("asg_tags again", "asg_tags", cluster_name="lab"), _task("discovery_tags again", "discovery_tags", **discovery),
            dict(_task("bad labels", "asg_tags", cluster_name=BAD, names=list(_asgs())[:1]), ignore_errors=True)]))
        _delete_bad_cluster(eks)

        out["propagate"] = _run(_play([_task("propagate", "asg_tags", cluster_name="lab", propagate_at_launch=True,
                                             node_templates=False, purge=False)]))
        out["asgs_propagated"] = _asgs()
        rules = {"rules": [{"service": "autoscaling", "action": "CreateOrUpdateTags", "count": 2, "status": 400}]}
        request = urllib.request.Request(f"{lab['aws_endpoint']}/_lab/faults", data=json.dumps(rules).encode(), method="POST")
        urllib.request.urlopen(request, timeout=5).read()  # noqa: S310 - loopback
        out["restore"] = _run(_play([_task("restore", "asg_tags", cluster_name="lab")]))
        out["asgs_restored"] = _asgs()
        yield out
    finally:
        _delete_bad_cluster(eks)
        if workers:
            _asg_tag(workers, CA + "other-cluster", None)


def test_asg_tags_predicts_applies_in_one_batch_and_purges_only_its_own(life):
    check, apply, again, workers = life["check"], life["apply"], life["again"], life["workers"]
    assert life["absent"].rc == 0, life["absent"].failure_text()
    assert check.rc == 0 and life["check_untouched"] is None, (check.failure_text(), life["check_untouched"])
    predicted = check.task("asg_tags")
    assert predicted["changed"]
    assert sorted(c["resource"] for c in predicted["changes"]) == sorted(f"aws:asg/{n}" for n in life["asgs_before"])
    detail = next(c["detail"] for c in predicted["changes"] if workers in c["resource"])
    assert f"+{NT}taint/dedicated=workers:NoSchedule" in detail
    assert f"-{NT}label/stale" in detail
    assert predicted["diff"]["before"][workers][NT + "label/stale"] == "x"
    assert NT + "label/stale" not in predicted["diff"]["after"][workers]

    assert apply.rc == 0 and apply.task("asg_tags")["changed"], apply.failure_text()
    assert sorted(writes_by_task(apply)["asg_tags"]) == ["CreateOrUpdateTags", "DeleteTags"]
    tags = life["asgs_applied"][workers]
    assert tags[CA + "enabled"] == ("true", False)
    assert tags[CA + "lab"] == ("owned", False)
    assert tags[NT + "resources/cpu"] == ("2", False)
    assert tags[NT + "resources/memory"] == ("8192Mi", False)
    assert tags[NT + "label/workload"] == ("general", False)
    assert NT + "label/stale" not in tags
    assert tags[CA + "other-cluster"] == ("owned", False), "another cluster's tag must survive purge"
    assert apply.task("asg_tags")["tags"][workers] == {k: value for k, (value, _propagate) in tags.items()}

    assert again.rc == 0 and life["again_untouched"] is None, (again.failure_text(), life["again_untouched"])
    assert not again.task("asg_tags again")["changed"] and again.task("asg_tags again")["changes"] == []
    assert writes_by_task(again)["asg_tags again"] == []


def test_asg_tags_rewrites_a_tag_whose_propagation_differs(life):
    assert life["propagate"].rc == 0, life["propagate"].failure_text()
    assert all(tags[CA + "enabled"] == ("true", True) for tags in life["asgs_propagated"].values())
    assert all(tags[NT + "resources/cpu"][1] is False for tags in life["asgs_propagated"].values()), "node templates were not asked for"
    assert life["restore"].rc == 0, life["restore"].failure_text()
    assert all(tags[CA + "enabled"] == ("true", False) for tags in life["asgs_restored"].values())


def test_asg_tags_retries_throttled_writes(life):
    """The run back to the defaults met two throttled CreateOrUpdateTags calls and still converged."""
    restore = life["restore"]
    assert restore.rc == 0, restore.failure_text()
    injected = [c for c in calls_by_task(restore)["restore"] if c[-1] == "injected"]
    assert injected == [["autoscaling", "CreateOrUpdateTags", 400, "injected"]] * 2
    assert all(tags[CA + "enabled"][0] == "true" for tags in life["asgs_restored"].values())


def test_discovery_tags_classifies_by_route_table_and_tags_in_one_call_per_tag_set(life):
    check, apply, again, public, sg = life["check"], life["apply"], life["again"], life["public"], life["sg"]
    assert check.rc == 0 and life["check_untouched"] is None, (check.failure_text(), life["check_untouched"])
    predicted = check.task("discovery_tags")
    assert predicted["changed"]
    assert len(predicted["changes"]) == 7
    assert {k for k, v in predicted["subnets"].items() if v == "public"} == set(public)
    first = next(c["detail"] for c in predicted["changes"] if public[0] in c["resource"])
    assert "-kubernetes.io/role/internal-elb" in first and "+kubernetes.io/role/elb=1" in first
    assert next(c for c in predicted["changes"] if c["resource"] == f"aws:security-group/{sg}")["detail"] == "+karpenter.sh/discovery=lab"

    assert apply.rc == 0, apply.failure_text()
    assert sorted(writes_by_task(apply)["discovery_tags"]) == ["CreateTags", "CreateTags", "CreateTags", "DeleteTags"]
    for subnet, tags in life["subnets_applied"].items():
        kind = "public" if subnet in public else "private"
        assert tags["kubernetes.io/cluster/lab"] == "shared"
        assert ("kubernetes.io/role/elb" in tags) == (kind == "public")
        assert ("kubernetes.io/role/internal-elb" in tags) == (kind == "private")
        assert tags.get("karpenter.sh/discovery") == (None if kind == "public" else "lab")

    assert again.rc == 0 and life["again_untouched"] is None, (again.failure_text(), life["again_untouched"])
    assert not again.task("discovery_tags again")["changed"] and writes_by_task(again)["discovery_tags again"] == []


def test_invalid_node_group_label_fails_before_any_write(life):
    again = life["again"]
    assert life["again_untouched"] is None, life["again_untouched"]  # the refused call wrote nothing
    refused = again.task("bad labels")
    assert refused["failed"]
    assert "nodegroups[bad].labels: key 'bad key!' is not a valid Kubernetes label key" in refused["msg"]
    assert writes_by_task(again)["bad labels"] == []
