"""`make demo`: site.yml with every capability against a fresh lab cluster (`.lab/demo`) — check mode
first (the plan), the real run, then a re-run that must change nothing — then the figures (wall
times, changes, write calls counted) and the lab's state summary. `make tools` (run before this)
builds what is missing; the shared test lab is left alone.

`--name NAME` keeps the lab in `.lab/NAME` and the run's files in `.build/NAME` (default: demo); the
oldest-platform smoke of `make test` runs this file with `.venv-oldest`'s python under `--name`.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "lab"), str(REPO / "tests")]

from nodeless_lab import lab  # noqa: E402
from support import demo_env, labenv, toolchain  # noqa: E402
from support.snapshots import aws_write_calls  # noqa: E402

PLAYBOOK = REPO / "playbooks" / "site.yml"
INVENTORY = demo_env.INVENTORY
DEMO = REPO / ".build" / "demo"
LAB_DIR = REPO / ".lab" / "demo"


def fresh_lab() -> None:
    """A new lab cluster each demo, so the plan is made against a bare cluster."""
    print(f"[demo] starting a fresh lab in {LAB_DIR} (the shared test lab is left alone)", flush=True)
    if LAB_DIR.exists():
        lab.down(LAB_DIR, out=io.StringIO())
    os.environ["NODELESS_LAB_DIR"] = str(LAB_DIR)
    lab.up(LAB_DIR)
    demo_env.prepare(DEMO)
    print(f"[demo] put the charts in {DEMO / 'charts'} (upstream's Karpenter chart, the Load Balancer Controller stand-in)", flush=True)


def run(label: str, *flags: str) -> dict:
    plan_file = DEMO / f"plan-{label}.json"
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    env = labenv.env({"ANSIBLE_CALLBACKS_ENABLED": "nodeless.eks.plan", "NODELESS_EKS_PLAN_FILE": str(plan_file),
                      "NODELESS_DEMO_DIR": str(DEMO),
                      "PATH": f"{toolchain.BIN}:{labenv.env()['PATH']}"})
    labenv.aws_calls(reset=True)
    offset = labenv.k8s_writes()[0]
    print(f"\n===== {label}: ansible-playbook playbooks/site.yml {' '.join(flags)} =====", flush=True)
    started = time.monotonic()
    proc = subprocess.run([str(toolchain.BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(INVENTORY), *flags],
                          env=env, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    took = time.monotonic() - started
    print(proc.stdout, flush=True)
    if proc.returncode:
        raise SystemExit(f"[demo] the {label} run failed (exit {proc.returncode}); see the output above")
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))
    aws_writes = len(aws_write_calls(labenv.aws_calls()))
    k8s_writes = len(labenv.k8s_writes(offset)[1])
    plan = json.loads(plan_file.read_text()) if plan_file.exists() else {"hosts": {}}
    return {"label": label, "seconds": took, "changed": changed, "aws_writes": aws_writes, "k8s_writes": k8s_writes,
            "plan": plan["hosts"]}


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="site.yml check -> first run -> re-run on a fresh lab")
    parser.add_argument("--name", default="demo", help="lab in .lab/NAME, run files in .build/NAME")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    global DEMO, LAB_DIR  # noqa: PLW0603 - set once, before anything runs
    args = _args(argv)
    DEMO, LAB_DIR = REPO / ".build" / args.name, REPO / ".lab" / args.name
    fresh_lab()
    state = labenv.state()
    check = run("check", "--check", "--diff")
    # --diff on every run: a Kubernetes apply reports whether it created the object only with a diff,
    # so the check run's adds and the real run's adds are named alike.
    first = run("first-run", "--diff")
    again = run("re-run", "--diff")
    print("\n===== demo summary =====")
    print(f"{'run':<10} {'wall':>8} {'changed':>8} {'AWS writes':>11} {'API writes':>11}")
    for r in (check, first, again):
        print(f"{r['label']:<10} {r['seconds']:>7.1f}s {r['changed']:>8} {r['aws_writes']:>11} {r['k8s_writes']:>11}")
    planned = {(h, e["resource"], e["action"]) for h, rows in check["plan"].items() for e in rows}
    done = {(h, e["resource"], e["action"]) for h, rows in first["plan"].items() for e in rows}
    same = planned == done
    print(f"plan of the check run == changes of the first run: {'yes' if same else 'NO'}")
    for host, resource, action in sorted(done - planned):
        print(f"  changed but not planned: {host} {action} {resource}")
    for host, resource, action in sorted(planned - done):
        print(f"  planned but not changed: {host} {action} {resource}")
    ratio = again["seconds"] / first["seconds"] if first["seconds"] else 0
    print(f"re-run / first run wall time: {ratio:.0%} (goal <= 25%: {'met' if ratio <= 0.25 else 'NOT met'})")
    ok = again["changed"] == 0 and again["aws_writes"] == 0 and again["k8s_writes"] == 0
    print(f"re-run changed nothing and wrote nothing: {'yes' if ok else 'NO'}")
    print("\n" + lab.summary(state))
    # It fails when a run failed, the re-run changed or wrote something, or the plan of the check run
    # was not exactly what the real run did (issue #9: the plan must be trustworthy).
    return 0 if ok and same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
