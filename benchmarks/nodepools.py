"""50 NodePools + 5 EC2NodeClasses: nodeless.eks batch modules vs a kubernetes.core.k8s loop with the same manifests.

Prints, for each side, the tasks' seconds (and the whole process), the API server writes of the first
run and of the re-run, then the ratios; exits 1 when the sides' end states differ or our re-run
writes. Uses the lab .lab/karpenter (started or reused); the objects it creates are deleted before
each side and at the end.

    .venv/bin/python benchmarks/nodepools.py [--pools 50] [--classes 5] [--strategy linear|mitogen_linear|both]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

sys.path.insert(0, str(C.REPO / ".collections"))
from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_objects  # noqa: E402


def manifests(pools: int, classes: int) -> tuple[list, list]:
    """Typed options for our modules and the same objects as v1 manifests for the loop."""
    class_opts = [{"name": f"bench-{i}", "role": "lab-node-role", "ami_selector_terms": [{"alias": "al2023@latest"}],
                   "subnet_selector_terms": [{"tags": {"karpenter.sh/discovery": "lab"}}],
                   "security_group_selector_terms": [{"tags": {"karpenter.sh/discovery": "lab"}}], "tags": {"team": f"t{i}"}}
                  for i in range(classes)]
    pool_opts = [{"name": f"bench-{i}", "node_class_ref": {"name": f"bench-{i % classes}"}, "weight": 1 + i % 100,
                  "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
                                   {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": [str(2 + i % 4)]}],
                  "limits": {"cpu": str(100 + i)}, "disruption": {"consolidation_policy": "WhenEmptyOrUnderutilized", "consolidate_after": "1m"}}
                 for i in range(pools)]
    full = [karpenter_objects.ec2nodeclass_from_options(o) for o in class_opts] + [karpenter_objects.nodepool_from_options(o) for o in pool_opts]
    return [class_opts, pool_opts], full


def write(directory: Path, typed: list, full: list) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    play = {"hosts": "localhost", "gather_facts": False}
    ours = [dict(play, name="ours", tasks=[
        {"name": "EC2NodeClasses", "nodeless.eks.karpenter_ec2nodeclass": {"ec2nodeclasses": typed[0]}},
        {"name": "NodePools", "nodeless.eks.karpenter_nodepool": {"nodepools": typed[1]}}])]
    loop = [dict(play, name="loop", tasks=[
        {"name": "One object per item", "kubernetes.core.k8s": {
            "definition": "{{ item }}", "apply": True, "server_side_apply": {"field_manager": "bench-loop", "force_conflicts": True}},
         "loop": full, "loop_control": {"label": "{{ item.kind }}/{{ item.metadata.name }}"}}])]
    paths = directory / "nodepools-ours.yml", directory / "nodepools-loop.yml"
    for path, data in zip(paths, (ours, loop)):
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return paths


def clean(state: dict) -> None:
    dyn = C._lab.dynamic_client(state)
    for api_version, kind in (("karpenter.sh/v1", "NodePool"), ("karpenter.k8s.aws/v1", "EC2NodeClass")):
        resource = dyn.resources.get(api_version=api_version, kind=kind)
        for item in resource.get().items:
            if item.metadata.name.startswith("bench-"):
                resource.delete(name=item.metadata.name)


def end_state(state: dict) -> dict:
    """The bench objects' specs, by kind and name: both sides must leave the same."""
    dyn = C._lab.dynamic_client(state)
    found = {}
    for api_version, kind in (("karpenter.sh/v1", "NodePool"), ("karpenter.k8s.aws/v1", "EC2NodeClass")):
        for item in dyn.resources.get(api_version=api_version, kind=kind).get().to_dict()["items"]:
            if item["metadata"]["name"].startswith("bench-"):
                found[f"{kind}/{item['metadata']['name']}"] = item["spec"]
    return found


def side(state: dict, label: str, path: Path, strategy: str) -> dict:
    clean(state)
    runs = []
    for run in ("first run", "re-run"):
        offset = C._lab.k8s_writes(state)[0]
        wall, seconds, _calls = C.run_playbook(state, path, strategy=strategy)
        writes = len(C._lab.k8s_writes(state, offset)[1])
        runs.append({"seconds": seconds, "wall": wall, "writes": writes})
        print(f"  {label:<28} {run:<9} tasks {seconds:7.2f} s  (process {wall:6.2f} s)  {writes:4d} API server writes", flush=True)
    return {"first": runs[0], "rerun": runs[1], "state": end_state(state)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--ours-only", action="store_true", help="skip the (slow) loop side; no ratio")
    C.add_strategy_option(parser)
    args = parser.parse_args()
    state = C.start_lab("karpenter")[1]
    typed, full = manifests(args.pools, args.classes)
    ours_path, loop_path = write(C.REPO / ".build" / "benchmarks", typed, full)
    print(f"{args.pools} NodePools + {args.classes} EC2NodeClasses against {state['api_endpoint']}", flush=True)
    results = [compare(state, args, loop_path, ours_path, strategy) for strategy in C.strategies(args.strategy)]
    return 0 if all(results) else 1


def compare(state: dict, args, loop_path: Path, ours_path: Path, strategy: str) -> bool:
    print(f"\n== strategy: {strategy} ==", flush=True)
    try:
        loop = None if args.ours_only else side(state, "kubernetes.core.k8s loop", loop_path, strategy)
        ours = side(state, "nodeless.eks batch modules", ours_path, strategy)
    finally:
        clean(state)
    objects = len(ours["state"])
    print(f"objects: {objects} (expected {args.pools + args.classes})")
    ok = objects == args.pools + args.classes and ours["rerun"]["writes"] == 0
    if loop:
        same = loop["state"] == ours["state"]
        ok = ok and same
        print(f"same end state: {'yes' if same else 'NO'}")
        goal = " (goal >= 10x)" if strategy == "linear" else " (the goal is set under linear)"
        print(f"[{strategy}] speed-up (first run, tasks' seconds): {loop['first']['seconds'] / ours['first']['seconds']:.1f}x{goal}")
        print(f"speed-up (first run, whole ansible-playbook processes, incl. equal start-up): "
              f"{loop['first']['wall'] / ours['first']['wall']:.1f}x")
        print(f"re-run API server writes: loop {loop['rerun']['writes']}, ours {ours['rerun']['writes']} (goal 0)")
    else:
        print(f"re-run API server writes: ours {ours['rerun']['writes']} (goal 0)")
    return ok


if __name__ == "__main__":
    sys.exit(main())
