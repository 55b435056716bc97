#!/usr/bin/env python
"""What an AWS module run of the collection costs with botocore's data loader shared by the process (the collection
as it is, module_utils/botocore_models.py) vs a loader per client (the obvious way: amazon.aws makes a new boto3
session per client, and each parses its service model again).

The "per client" side is a copy of the collection whose `share_loaders` does nothing, nothing else changed. Both sides
run the same playbook against a lab of their own (.lab/clients-bench): TASKS module runs that each make one or two
clients (nodeless.eks.eks_cluster_info with node groups: EKS; nodeless.eks.max_pods_info: EC2, the biggest model),
alternated ROUNDS times; CPU seconds of ansible-playbook and its children as the kernel counts them (the lab's servers
not counted). Under `linear` every module run is a process of its own, so the two sides should cost the same; under
Mitogen one interpreter runs every module of the host.

    .venv/bin/python benchmarks/aws_clients.py [--tasks 40] [--rounds 3] [--strategy linear|mitogen_linear|both] [--keep-lab]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = "plugins/module_utils/botocore_models.py"


def _no_sharing(dest: Path) -> None:
    text = (dest / SHARED).read_text()
    marker = "    try:\n        import botocore.session"
    if marker not in text:
        raise SystemExit(f"{SHARED} changed: this benchmark's per-client side no longer knows how to turn it off")
    (dest / SHARED).write_text(text.replace(marker, "    return False  # the benchmark's per-client side\n" + marker, 1))


def per_client_copy(root: Path) -> Path:
    """A collections path holding nodeless.eks with share_loaders() made a no-op (each client parses its models)."""
    return C.collection_copy(root, _no_sharing)


def playbook(path: Path, tasks: int) -> Path:
    lines = ["- hosts: localhost", "  gather_facts: false", "  tasks:"]
    for index in range(tasks):
        if index % 2:
            lines += [f"    - name: EC2 instance types {index}", "      nodeless.eks.max_pods_info:",
                      "        instance_types: [m5.large]", "        region: \"{{ lookup('env', 'NODELESS_EKS_REGION') }}\""]
        else:
            lines += [f"    - name: cluster facts {index}", "      nodeless.eks.eks_cluster_info:",
                      "        name: \"{{ lookup('env', 'NODELESS_EKS_CLUSTER_NAME') }}\"",
                      "        region: \"{{ lookup('env', 'NODELESS_EKS_REGION') }}\"", "        nodegroups: true"]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true")
    C.add_strategy_option(parser)
    args = parser.parse_args(argv)
    lab_dir, state = C.start_lab("clients-bench")
    try:
        with tempfile.TemporaryDirectory(prefix="aws-clients-") as tmp:
            root = Path(tmp)
            sides = {"shared loader (the collection)": REPO / ".collections", "loader per client": per_client_copy(root / "per-client")}
            book = playbook(root / "clients.yml", args.tasks)
            for strategy in C.strategies(args.strategy):
                print(f"\n== strategy: {strategy} ==", flush=True)
                seconds = {label: [] for label in sides}
                for _round in range(args.rounds):
                    for label, path in sides.items():  # alternated, so drift on the machine hits both alike
                        seconds[label].append(C.playbook_cpu(path, book, strategy, C.playbook_env(state)))
                for label in sides:
                    print(f"{label:32} {args.tasks} AWS module runs: {min(seconds[label]):6.2f} s CPU (best of {args.rounds}: "
                          f"{', '.join(f'{s:.2f}' for s in seconds[label])})", flush=True)
                shared, per_client = (min(seconds[label]) for label in sides)
                print(f"per client / shared, CPU of the run: {per_client / shared:.2f}x "
                      f"({(per_client - shared) / args.tasks * 1000:.0f} ms per module run)", flush=True)
    finally:
        if not args.keep_lab:
            C.stop_lab(lab_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
