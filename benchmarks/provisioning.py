#!/usr/bin/env python
"""100 pending pods: Karpenter (the upstream controller, 3 NodePools) vs the lab's static node group scaled by hand.

Both sides, in one run on a lab of their own (.lab/provisioning, started or reused; stopped at the end unless
--keep-lab), take the same pods (same requests, in 3 Deployments) from created to all Running:

- by hand, the obvious alternative: an operator finds the `workers` node group's ASG, works out how many
  m5.large nodes the pods need from a node's allocatable and its DaemonSet pods, and raises the ASG's desired
  capacity in one call; moto launches the instances and each joins as a Node of the group (the kubelet's part,
  emulated here by the benchmark as `nodeless_lab.nodejoin` does for Karpenter's instances; its reads of the ASG
  and instances are the lab's, listed apart). The pods select `role=workers` and tolerate its taint.
- Karpenter: the karpenter role converged with upstream's chart, 3 NodePools (`nodeless.eks.karpenter_nodepool`),
  the controller running with the Deployment's settings; the pods select one NodePool's label each, no one acts.

Printed for each side: seconds from the Deployments' creation to every pod Running, nodes and instance types, the
AWS calls in that window by action (Karpenter's: everything the controller called; by hand: the operator's), then
the ratios. In the lab no node boots (kwok), so both sides' seconds are the deciding and joining, not an EC2 boot.

    .venv/bin/python benchmarks/provisioning.py [--pods 100] [--pools 3] [--keep-lab] [--strategy linear|mitogen_linear]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

from nodeless_lab import bootstrap, controllers, seed, tools  # noqa: E402  (path set by _common)

LAB = "provisioning"
NAMESPACE = "bench-provisioning"
POD_REQUESTS = {"cpu": "250m", "memory": "256Mi"}
GROUP = "workers"
BENCH_LABEL = "nodeless.eks/bench"
TIMEOUT = 600


def _clients(state: dict):
    from kubernetes import client, config

    api = config.new_client_from_config(state["kubeconfig"])
    return client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)


def _wait(what: str, check, timeout: float = TIMEOUT, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"still waiting for {what} after {timeout:.0f}s")


def _quantity(text: str) -> float:
    """cpu in cores / memory in bytes, for the units these pods and nodes use."""
    units = {"m": 1e-3, "k": 1e3, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * factor
    return float(text)


def setup_playbook(state: dict, pools: int, directory: Path, strategy: str) -> None:
    """The karpenter role with upstream's chart (isolated VPC: moto has no Pricing API) and the bench's NodePools."""
    pool_opts = [{"name": f"bench-p{i}", "node_class_ref": {"name": "default"}, "labels": {BENCH_LABEL: f"p{i}"},
                  "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                                   {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                                   {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m"]},
                                   {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["4"]}],
                  "limits": {"cpu": "200"}, "disruption": {"consolidation_policy": "WhenEmpty", "consolidate_after": "5s"}}
                 for i in range(pools)]
    play = [{"name": "karpenter for the provisioning benchmark", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "nodeless.eks.karpenter", "vars": {"karpenter_chart_ref": state["charts"]["karpenter"],
                                                                   "karpenter_isolated_vpc": True}}],
             "tasks": [{"name": "The benchmark's NodePools", "nodeless.eks.karpenter_nodepool": {"nodepools": pool_opts}}]}]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "provisioning-setup.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    wall, _tasks, _calls = C.run_playbook(state, path, strategy=strategy)
    print(f"setup (strategy {strategy}, not measured): karpenter role (upstream chart {state['charts']['karpenter']}) "
          f"and {pools} NodePools converged in {wall:.1f}s", flush=True)


def _deployments(pods: int, groups: int, selector, tolerations=None) -> list[dict]:
    sizes = [pods // groups + (1 if i < pods % groups else 0) for i in range(groups)]
    out = []
    for i, size in enumerate(sizes):
        spec = {"nodeSelector": selector(i), "containers": [{
            "name": "pause", "image": "public.ecr.aws/eks-distro/kubernetes/pause:3.10", "resources": {"requests": POD_REQUESTS}}]}
        if tolerations:
            spec["tolerations"] = tolerations
        out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"bench-{i}", "namespace": NAMESPACE},
                    "spec": {"replicas": size, "selector": {"matchLabels": {"app": f"bench-{i}"}},
                             "template": {"metadata": {"labels": {"app": f"bench-{i}", "bench": "provisioning"}}, "spec": spec}}})
    return out


def _all_running(core, pods: int):
    items = core.list_namespaced_pod(NAMESPACE, label_selector="bench=provisioning").items
    return items if len(items) == pods and all(p.status.phase == "Running" for p in items) else None


def _fresh_namespace(core) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        core.delete_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status != 404:
            raise
    _wait(f"namespace {NAMESPACE} gone", lambda: NAMESPACE not in {n.metadata.name for n in core.list_namespace().items})
    core.create_namespace({"metadata": {"name": NAMESPACE}})


def _run_pods(state: dict, deployments: list[dict], pods: int) -> tuple[float, list]:
    """Create the Deployments; (seconds until every pod Running, the pods)."""
    core, apps, _custom = _clients(state)
    started = time.monotonic()
    for dep in deployments:
        apps.create_namespaced_deployment(NAMESPACE, dep)
    running = _wait(f"{pods} pods Running", lambda: _all_running(core, pods))
    return time.monotonic() - started, running


def _per_node(core, state: dict, node) -> int:
    """Pods of POD_REQUESTS one node of the group holds: the allocatable a node of the group registers with (its
    instance type's, as the joined nodes get it; not the live Node's, which kwok may have filled with its defaults)
    less the requests of the DaemonSet pods on the group's node."""
    _template, status = next(n for n in bootstrap.nodes(state["region"], state["kube_version"])
                             if n[0]["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] == GROUP)
    allocatable = status["status"]["allocatable"]
    daemons = [p for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node.metadata.name}").items
               if any(o.kind == "DaemonSet" for o in p.metadata.owner_references or [])]
    fits = []
    for resource in ("cpu", "memory"):
        used = sum(_quantity((c.resources.requests or {}).get(resource, "0")) for p in daemons for c in p.spec.containers)
        fits.append(int((_quantity(allocatable[resource]) - used) // _quantity(POD_REQUESTS[resource])))
    fits.append(int(allocatable["pods"]) - len(daemons))
    return min(fits)


def _join(state: dict, instance: dict) -> dict:
    """The Node (with its status) a kubelet of the group registers for INSTANCE, shaped like the lab's static node of
    the group: its labels, taint and capacity, this instance's name, zone and provider ID."""
    instance_type = next(g[1] for g in seed.NODE_GROUPS if g[0] == GROUP)
    template, status = next(n for n in bootstrap.nodes(state["region"], state["kube_version"])
                            if n[0]["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] == GROUP)
    ip, zone = instance["PrivateIpAddress"], instance["Placement"]["AvailabilityZone"]
    name = f"ip-{ip.replace('.', '-')}.{state['region']}.compute.internal"
    template["metadata"]["name"] = name
    template["metadata"]["labels"].update({"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone,
                                           "node.kubernetes.io/instance-type": instance_type})
    template["spec"]["providerID"] = f"aws:///{zone}/{instance['InstanceId']}"
    status["status"]["addresses"] = [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]
    return dict(template, **status)


def by_hand(state: dict, pods: int, groups: int) -> dict:
    core, apps, _custom = _clients(state)
    asg = C.boto3_client(state, "autoscaling")
    ec2 = C.boto3_client(state, "ec2")
    _fresh_namespace(core)
    group_nodes = core.list_node(label_selector=f"eks.amazonaws.com/nodegroup={GROUP}").items
    per_node = _per_node(core, state, group_nodes[0])
    need = math.ceil(pods / per_node)
    deployments = _deployments(pods, groups, lambda i: {"role": "workers"},
                               [{"key": "dedicated", "operator": "Equal", "value": "workers", "effect": "NoSchedule"}])
    C._lab.calls(state, reset=True)
    started = time.monotonic()
    for dep in deployments:
        apps.create_namespaced_deployment(NAMESPACE, dep)
    # the operator: find the group's ASG and raise it by the nodes the pods need (sized for the new pods alone,
    # as a runbook does; the scheduler may still put a few on the group's existing node)
    found = asg.describe_auto_scaling_groups(Filters=[{"Name": "tag:eks:nodegroup-name", "Values": [GROUP]}])["AutoScalingGroups"][0]
    before = {i["InstanceId"] for i in found["Instances"]}
    desired = found["DesiredCapacity"] + need
    asg.update_auto_scaling_group(AutoScalingGroupName=found["AutoScalingGroupName"], DesiredCapacity=desired,
                                  MaxSize=max(found["MaxSize"], desired))
    operator = C._lab.calls(state)
    # the kubelets of the new instances join (emulated: the lab's reads, not the operator's)
    new_ids = _wait(f"{need} new instances in the ASG", lambda: [
        i["InstanceId"] for g in asg.describe_auto_scaling_groups(AutoScalingGroupNames=[found["AutoScalingGroupName"]])[
            "AutoScalingGroups"] for i in g["Instances"] if i["InstanceId"] not in before] or None)
    instances = [i for r in ec2.describe_instances(InstanceIds=new_ids)["Reservations"] for i in r["Instances"]]
    joined = []
    for instance in instances:
        node = _join(state, instance)
        status = {"status": node.pop("status")}
        core.create_node(dict(node, **status))
        core.patch_node_status(node["metadata"]["name"], status)
        joined.append(node["metadata"]["name"])
    running = _wait(f"{pods} pods Running", lambda: _all_running(core, pods))
    seconds = time.monotonic() - started
    lab_reads = C._lab.calls(state)[len(operator):]
    nodes = {p.spec.node_name for p in running}
    result = {"seconds": seconds, "calls": operator, "lab_reads": lab_reads, "nodes": len(nodes), "launched": len(new_ids),
              "vcpus": _vcpus(core, nodes | set(joined)),
              "types": Counter(i["InstanceType"] for i in instances), "per_node": per_node}
    # undo: the pods, the ASG back to its size, the joined Nodes
    core.delete_namespace(NAMESPACE)
    asg.update_auto_scaling_group(AutoScalingGroupName=found["AutoScalingGroupName"], DesiredCapacity=found["DesiredCapacity"],
                                  MaxSize=found["MaxSize"])
    for name in joined:
        core.delete_node(name)
    _wait(f"namespace {NAMESPACE} gone", lambda: NAMESPACE not in {n.metadata.name for n in core.list_namespace().items})
    return result


def karpenter(state: dict, pods: int, pools: int) -> dict:
    core, _apps, custom = _clients(state)
    _fresh_namespace(core)
    deployments = _deployments(pods, pools, lambda i: {BENCH_LABEL: f"p{i}"})
    C._lab.calls(state, reset=True)
    seconds, running = _run_pods(state, deployments, pods)
    calls = C._lab.calls(state)
    nodes = {n.metadata.name: n for n in core.list_node(label_selector="karpenter.sh/nodepool").items
             if n.metadata.labels.get("karpenter.sh/nodepool", "").startswith("bench-p")}
    used = {p.spec.node_name for p in running}
    result = {"seconds": seconds, "calls": calls, "nodes": len(used), "vcpus": _vcpus(core, set(nodes)),
              "types": Counter(n.metadata.labels["node.kubernetes.io/instance-type"] for name, n in nodes.items() if name in used),
              "pools": Counter(n.metadata.labels["karpenter.sh/nodepool"] for name, n in nodes.items() if name in used)}
    started = time.monotonic()
    core.delete_namespace(NAMESPACE)
    _wait("the bench NodePools' nodes consolidated", lambda: not [
        c for c in custom.list_cluster_custom_object("karpenter.sh", "v1", "nodeclaims")["items"]
        if c["metadata"].get("labels", {}).get("karpenter.sh/nodepool", "").startswith("bench-p")])
    result["scale_in"] = time.monotonic() - started
    _wait(f"namespace {NAMESPACE} gone", lambda: NAMESPACE not in {n.metadata.name for n in core.list_namespace().items})
    return result


def _vcpus(core, names: set) -> int:
    """vCPUs of the named nodes (the capacity the side holds for the pods)."""
    return sum(int(n.status.capacity["cpu"]) for n in core.list_node().items if n.metadata.name in names)


def _calls_line(calls: list) -> str:
    by_action = Counter(f"{c[0]}:{c[1]}" for c in calls)
    reads, writes = C.split_calls(calls)
    return f"{len(calls)} ({reads} reads, {writes} writes): " + ", ".join(f"{a} {n}" for a, n in by_action.most_common())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--pools", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running (it is stopped at the end otherwise)")
    parser.add_argument("--strategy", choices=C.STRATEGIES, default="mitogen_linear",
                        help="Ansible strategy of the setup run (not measured)")
    args = parser.parse_args()
    lab_dir, state = C.start_lab(LAB)
    try:
        setup_playbook(state, args.pools, C.REPO / ".build" / "benchmarks", C.strategies(args.strategy)[0])
        print(f"\n{args.pods} pods ({POD_REQUESTS['cpu']} cpu, {POD_REQUESTS['memory']} each) in {args.pools} Deployments, "
              f"created at once against {state['api_endpoint']}", flush=True)
        hand = by_hand(state, args.pods, args.pools)
        print(f"  by hand (ASG of node group {GROUP} raised in one call, nodes joined): {hand['seconds']:6.1f} s to all Running; "
              f"{hand['launched']} m5.large instance(s) launched ({hand['per_node']} pods per node), pods on {hand['nodes']} node(s)")
        print(f"    operator's AWS calls {_calls_line(hand['calls'])}")
        print(f"    (the lab's emulated kubelet join read {_calls_line(hand['lab_reads'])}; counted on neither side)", flush=True)
        _core, _apps, custom = _clients(state)
        started = time.monotonic()
        controllers.start_karpenter(state)
        _wait("EC2NodeClass default Ready", lambda: any(
            c["type"] == "Ready" and c["status"] == "True" for c in (custom.get_cluster_custom_object(
                "karpenter.k8s.aws", "v1", "ec2nodeclasses", "default").get("status") or {}).get("conditions", [])))
        print(f"  (controller up and EC2NodeClass default Ready in {time.monotonic() - started:.1f}s, before the pods; not measured)",
              flush=True)
        ours = karpenter(state, args.pods, args.pools)
        print(f"  Karpenter ({args.pools} NodePools, upstream controller v{tools.KARPENTER_VERSION}): "
              f"{ours['seconds']:6.1f} s to all Running; pods on {ours['nodes']} node(s): "
              + ", ".join(f"{t} x{n}" for t, n in sorted(ours["types"].items()))
              + " (" + ", ".join(f"{p} {n}" for p, n in sorted(ours["pools"].items())) + ")")
        print(f"    Karpenter's AWS calls {_calls_line(ours['calls'])}")
        print(f"    scaled to zero: its nodes consolidated in {ours['scale_in']:.1f}s (by hand: the ASG set back by the operator)",
              flush=True)
        print(f"\npending -> Running: by hand {hand['seconds']:.1f} s, Karpenter {ours['seconds']:.1f} s "
              f"(Karpenter / by hand = {ours['seconds'] / hand['seconds']:.2f}x)")
        print(f"nodes: by hand {hand['nodes']} with pods ({hand['launched']} launched, sized by the operator; "
              f"{hand['vcpus']} vCPU in the nodes launched or used), Karpenter {ours['nodes']} ({ours['vcpus']} vCPU, chosen by Karpenter); "
              f"the pods request {args.pods * _quantity(POD_REQUESTS['cpu']):.0f} vCPU")
        print(f"AWS calls: by hand {len(hand['calls'])} (the operator's), Karpenter {len(ours['calls'])} "
              f"(Karpenter / by hand = {len(ours['calls']) / max(len(hand['calls']), 1):.1f}x); "
              f"CreateFleet {sum(1 for c in ours['calls'] if c[1] == 'CreateFleet')}")
        print(f"controller process CPU over the run: {controllers.cpu_seconds(state)}s (user + system)")
    finally:
        controllers.stop_karpenter(state)
        if not args.keep_lab:
            C.stop_lab(lab_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
