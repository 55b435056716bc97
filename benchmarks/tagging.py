#!/usr/bin/env python
"""Discovery tagging at scale: 200 ASGs + 200 subnets, nodeless.eks modules vs the obvious loop.

The loop is what users write today: `amazon.aws.autoscaling_group` per ASG (tags only, with
`metrics_collection: true` since moto lacks DisableMetricsCollection) and `amazon.aws.ec2_tag` per
subnet. Ours is one `nodeless.eks.asg_tags` and one `nodeless.eks.discovery_tags` task. Both start
from untagged resources and must reach the same tags. Runs in a lab of its own (.lab/tags-bench),
stopped at the end unless --keep-lab.

    .venv/bin/python benchmarks/tagging.py [--asgs 200] [--subnets 200] [--skip-loop-rerun] [--keep-lab] [--strategy ...]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

CLUSTER = "bench"
BENCH_TAG = {"Key": "nodeless-bench", "Value": "tagging"}
CA = "k8s.io/cluster-autoscaler/"
ASG_PAGE = 100
ASG_TAGS_PER_CALL = 500  # module_utils/tags.py ASG_TAGS_PER_CALL


def create_fleet(state: dict, n_asgs: int, n_subnets: int) -> dict:
    """n ASGs tagged nodeless-bench=tagging, and a VPC whose first half of subnets is public."""
    ec2, asg = C.boto3_client(state, "ec2"), C.boto3_client(state, "autoscaling")
    existing = [g["AutoScalingGroupName"] for page in asg.get_paginator("describe_auto_scaling_groups").paginate(
        Filters=[{"Name": f"tag:{BENCH_TAG['Key']}", "Values": [BENCH_TAG["Value"]]}]) for g in page["AutoScalingGroups"]]
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["bench-vpc"]}])["Vpcs"]
    if len(existing) == n_asgs and vpcs:
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
        if len(subnets) == n_subnets:
            return {"asgs": sorted(existing), "subnets": _classes(subnets)}
        raise SystemExit("the bench lab holds a different fleet; run with a fresh lab (lab --name tags-bench down)")
    lt = ec2.create_launch_template(LaunchTemplateName="bench", LaunchTemplateData={"InstanceType": "m5.large", "ImageId": "ami-12c6146b"})
    lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "bench-vpc"}]}])
    vpc_id = vpc["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    public_rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    classes = {}
    for i in range(n_subnets):
        sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"{state['region']}{'abc'[i % 3]}",
                                TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": f"bench-{i:03}"}]}])["Subnet"]["SubnetId"]
        if i < n_subnets // 2:  # the rest use the VPC's main route table: local routes only, private
            ec2.associate_route_table(RouteTableId=public_rt, SubnetId=sid)
        classes[sid] = "public" if i < n_subnets // 2 else "private"
    names = [f"bench-asg-{i:03}" for i in range(n_asgs)]
    for name in names:
        asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=3, DesiredCapacity=0,
                                      LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "$Latest"},
                                      AvailabilityZones=[f"{state['region']}a"],
                                      Tags=[dict(BENCH_TAG, PropagateAtLaunch=True)])
    return {"asgs": names, "subnets": classes}


def _classes(subnets: list) -> dict:
    return {s["SubnetId"]: "public" if int(next(t["Value"] for t in s["Tags"] if t["Key"] == "Name")[-3:]) < len(subnets) // 2
            else "private" for s in subnets}


def desired(kind: str) -> dict:
    tags = {f"kubernetes.io/cluster/{CLUSTER}": "shared"}
    tags["kubernetes.io/role/elb" if kind == "public" else "kubernetes.io/role/internal-elb"] = "1"
    if kind == "private":
        tags["karpenter.sh/discovery"] = CLUSTER
    return tags


def end_state(state: dict, fleet: dict) -> dict:
    asg, ec2 = C.boto3_client(state, "autoscaling"), C.boto3_client(state, "ec2")
    snap = {}
    for page in asg.get_paginator("describe_auto_scaling_groups").paginate(AutoScalingGroupNames=fleet["asgs"]):
        for g in page["AutoScalingGroups"]:
            snap[g["AutoScalingGroupName"]] = sorted((t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in g["Tags"])
    for s in ec2.describe_subnets(SubnetIds=list(fleet["subnets"]))["Subnets"]:
        snap[s["SubnetId"]] = sorted((t["Key"], t["Value"]) for t in s["Tags"])
    return snap


def untag(state: dict, fleet: dict) -> None:
    """Back to the starting point between the two sides (calls not counted)."""
    asg, ec2 = C.boto3_client(state, "autoscaling"), C.boto3_client(state, "ec2")
    entries = [{"ResourceId": n, "ResourceType": "auto-scaling-group", "Key": k} for n in fleet["asgs"] for k in (CA + "enabled", CA + CLUSTER)]
    for i in range(0, len(entries), 400):
        asg.delete_tags(Tags=entries[i:i + 400])
    keys = ["kubernetes.io/role/elb", "kubernetes.io/role/internal-elb", f"kubernetes.io/cluster/{CLUSTER}", "karpenter.sh/discovery"]
    ec2.delete_tags(Resources=list(fleet["subnets"]), Tags=[{"Key": k} for k in keys])


def write_playbooks(fleet: dict, build: Path) -> tuple[Path, Path]:
    build.mkdir(parents=True, exist_ok=True)
    items = [{"id": sid, "tags": desired(kind)} for sid, kind in sorted(fleet["subnets"].items())]
    loop = [{"name": "The obvious loop", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Tag each ASG for cluster-autoscaler", "amazon.aws.autoscaling_group": {
            "name": "{{ item }}", "metrics_collection": True, "purge_tags": False,
            "tags": [{CA + "enabled": "true", "propagate_at_launch": False}, {CA + CLUSTER: "owned", "propagate_at_launch": False}]},
         "loop": fleet["asgs"]},
        {"name": "Tag each subnet", "amazon.aws.ec2_tag": {"resource": "{{ item.id }}", "tags": "{{ item.tags }}", "purge_tags": False},
         "loop": items, "loop_control": {"label": "{{ item.id }}"}}]}]
    ours = [{"name": "nodeless.eks batched tagging", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Tag every ASG for cluster-autoscaler", "nodeless.eks.asg_tags": {
            "cluster_name": CLUSTER, "nodegroups": False, "filters": {BENCH_TAG["Key"]: BENCH_TAG["Value"]}}},
        {"name": "Tag every subnet", "nodeless.eks.discovery_tags": {
            "cluster_name": CLUSTER, "subnet_ids": sorted(fleet["subnets"])}}]}]
    paths = build / "tagging-loop.yml", build / "tagging-ours.yml"
    for path, plays in zip(paths, (loop, ours)):
        path.write_text(json.dumps(plays, indent=1))  # JSON is YAML
    return paths


def minimum_calls(fleet: dict) -> tuple[int, int]:
    """(reads, writes) the job cannot do with fewer: one paginated read per resource kind (ASGs,
    subnets, route tables), one CreateOrUpdateTags per batch, one CreateTags per distinct tag set."""
    reads = math.ceil(len(fleet["asgs"]) / ASG_PAGE) + 1 + 1
    writes = math.ceil(2 * len(fleet["asgs"]) / ASG_TAGS_PER_CALL) + len(set(fleet["subnets"].values()))
    return reads, writes


def side(state: dict, path: Path, label: str, strategy: str) -> dict:
    wall, seconds, calls = C.run_playbook(state, path, strategy=strategy)
    reads, writes = C.split_calls(calls)
    print(f"  {label:<26} tasks {seconds:8.2f} s  (process {wall:7.2f} s)  {len(calls):5d} calls ({reads} reads, {writes} writes)",
          flush=True)
    return {"seconds": seconds, "wall": wall, "calls": len(calls), "reads": reads, "writes": writes}


def compare(state: dict, fleet: dict, args, loop_path: Path, ours_path: Path, strategy: str) -> bool:
    """Both sides under STRATEGY, from untagged resources; True when they agree and our re-run writes nothing."""
    print(f"\n== strategy: {strategy} ==", flush=True)
    untag(state, fleet)
    loop = side(state, loop_path, "loop (amazon.aws)", strategy)
    loop_state = end_state(state, fleet)
    loop_rerun = None if args.skip_loop_rerun else side(state, loop_path, "loop, idempotent re-run", strategy)
    untag(state, fleet)
    ours = side(state, ours_path, "ours (nodeless.eks)", strategy)
    ours_state = end_state(state, fleet)
    ours_rerun = side(state, ours_path, "ours, idempotent re-run", strategy)
    min_reads, min_writes = minimum_calls(fleet)
    same = loop_state == ours_state
    print(f"same end state: {'yes' if same else 'NO'}")
    print(f"[{strategy}] speed-up (tagging tasks): {loop['seconds'] / ours['seconds']:.1f}x "
          f"(loop {loop['seconds']:.1f} s / ours {ours['seconds']:.2f} s; {'goal >= 100x' if strategy == 'linear' else 'the goal is set under linear'})")
    print(f"speed-up (whole ansible-playbook processes, incl. equal start-up): {loop['wall'] / ours['wall']:.1f}x "
          f"(loop {loop['wall']:.1f} s / ours {ours['wall']:.2f} s)")
    print(f"API calls: loop {loop['calls']}, ours {ours['calls']}, minimum {min_reads + min_writes} "
          f"({min_reads} reads + {min_writes} writes); ours / minimum = {ours['calls'] / (min_reads + min_writes):.2f} (goal <= 1.5)")
    if loop_rerun:
        print(f"re-run: loop {loop_rerun['calls']} calls ({loop_rerun['writes']} writes, {loop_rerun['seconds']:.1f} s)")
    print(f"re-run: ours {ours_rerun['calls']} calls ({ours_rerun['reads']} reads, {ours_rerun['writes']} writes, {ours_rerun['seconds']:.2f} s)")
    return same and ours_rerun["writes"] == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asgs", type=int, default=200)
    parser.add_argument("--subnets", type=int, default=200)
    parser.add_argument("--skip-loop-rerun", action="store_true", help="skip the loop's idempotent re-run (as slow as its first run)")
    parser.add_argument("--keep-lab", action="store_true")
    C.add_strategy_option(parser)
    args = parser.parse_args()
    lab_dir, state = C.start_lab("tags-bench")
    try:
        fleet = create_fleet(state, args.asgs, args.subnets)
        loop_path, ours_path = write_playbooks(fleet, C.REPO / ".build" / "benchmarks")
        print(f"tagging {len(fleet['asgs'])} ASGs + {len(fleet['subnets'])} subnets (lab {lab_dir})")
        results = [compare(state, fleet, args, loop_path, ours_path, strategy) for strategy in C.strategies(args.strategy)]
        return 0 if all(results) else 1
    finally:
        if not args.keep_lab:
            C.stop_lab(lab_dir)


if __name__ == "__main__":
    sys.exit(main())
