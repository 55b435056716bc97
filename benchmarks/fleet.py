#!/usr/bin/env python
"""A fleet of N lab clusters in one ansible-playbook run of site.yml: first run, gated re-run, full-check re-run.

Issue #23 item 4. For each fleet size N (default 1, 2, 4) and each strategy (`linear`, then Mitogen's
`mitogen_linear` when it is installed), N fresh labs are started side by side (`.lab/fleet-1` .. `.lab/fleet-N`):
separate labs, each with its own moto (AWS account) and its own kube-apiserver, all with the cluster `lab` in
us-west-2 (the same way tests/integration/test_site.py's `two_labs` runs two clusters). One inventory holds one host
per lab, each with the lab's endpoints in `nodeless_eks_environment`, and `forks` = N. Then, in one
`ansible-playbook playbooks/site.yml` run each:

  1. the first run on the bare clusters (every role writes, and the gated roles write their convergence records);
  2. the gated re-run (roles whose record matches end after one read: `<role>: in sync (...)`);
  3. the full-check re-run (`-e nodeless_eks_full_check=true`: every role reads and compares everything).

For each run it prints the wall time and the CPU seconds of ansible-playbook and its children (user + system, as
the kernel counts them for the processes it waited for; the labs' servers are not counted), both per run and per
cluster, `changed`, the AWS and Kubernetes API writes summed over the labs, and which roles were in sync.

Capabilities: the demo inventory's (tests/inventory/demo), every capability of site.yml on, except `kubeconfig`:
it writes a file on the control host at `kubeconfig_path`, which would have to differ per host, and the inventory
check refuses hosts that name the same cluster (`lab`, us-west-2) with different settings. The control host's own
AWS endpoint is a closed port: every AWS read runs with its host's environment (a read made on the control host
would fail the run).

A benchmark, not a test (not part of `make test`): it exits 1 when a run fails or a re-run changes or writes
anything. About 1 CPU minute (Mitogen) to 2 (linear) per cluster and run on a 2-core machine.

    .venv/bin/python benchmarks/fleet.py [--sizes 1,2,4] [--strategy linear|mitogen_linear|both] [--keep-labs]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

sys.path.insert(0, str(C.REPO / "tests"))
from support.snapshots import aws_write_calls  # noqa: E402

SITE = C.REPO / "playbooks" / "site.yml"
DEMO_VARS = C.REPO / "tests" / "inventory" / "demo" / "group_vars" / "all.yml"
BUILD = C.REPO / ".build" / "fleet"
LEFT_OUT = ("kubeconfig",)
IN_SYNC = re.compile(r"\b([a-z_]+): in sync \(record ")
RUN_GATE_IN_SYNC = re.compile(r"run gate: in sync")  # site.yml's run gate: every gated role skipped at once
ROLE_TASK = re.compile(r"^TASK \[nodeless\.eks\.([a-z_]+) : ", re.M)


def lab_dir(index: int) -> Path:
    return C.REPO / ".lab" / f"fleet-{index}"


BARE: set = set()  # labs started and not yet run against (the one main() reads the charts from)


def fresh_labs(size: int) -> list[dict]:
    """SIZE labs started from nothing (a lab left from an earlier size or run is stopped first), one after the other."""
    states = []
    for index in range(1, size + 1):
        if index not in BARE:
            C.stop_lab(lab_dir(index))
        BARE.discard(index)
        started = time.monotonic()
        states.append(C.start_lab(f"fleet-{index}")[1])
        print(f"  lab fleet-{index} up in {time.monotonic() - started:.1f} s (AWS {states[-1]['aws_endpoint']}, "
              f"API server {states[-1]['api_endpoint']})", flush=True)
    return states


def write_inventory(states: list[dict], demo_dir: str) -> Path:
    """One host per lab, the demo inventory's settings for all, forks = the number of hosts."""
    inventory = BUILD / f"inventory-{len(states)}"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load(DEMO_VARS.read_text())
    settings["nodeless_eks_capabilities"] = [c for c in settings["nodeless_eks_capabilities"] if c not in LEFT_OUT]
    settings["_demo_dir"] = demo_dir
    settings["ansible_forks"] = len(states)
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(settings, sort_keys=False))
    hosts = {}
    for index, state in enumerate(states, 1):
        env = C._lab.env(state)
        hosts[f"fleet-{index}"] = {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "nodeless_eks_cluster_name": state["cluster_name"], "nodeless_eks_region": state["region"],
            "nodeless_eks_environment": {k: env[k] for k in ("AWS_ENDPOINT_URL", "K8S_AUTH_KUBECONFIG", "KUBECONFIG")}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))
    return inventory


def run_site(states: list[dict], inventory: Path, strategy: str, label: str, extravars: dict | None = None) -> dict:
    """One site.yml run over the fleet: wall, CPU (ansible-playbook and its children), changed, writes per lab."""
    env = dict(os.environ)
    for key in ("K8S_AUTH_KUBECONFIG", "KUBECONFIG", "NODELESS_EKS_CLUSTER_NAME", "NODELESS_EKS_REGION"):
        env.pop(key, None)  # per host, from the inventory
    lab_env = C._lab.env(states[0])
    # Every module reaches its own lab through nodeless_eks_environment; the control host's own AWS endpoint is a
    # closed port, so an AWS read made on the control host (outside the per-host environment) fails the run.
    env.update({k: lab_env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "PATH")})
    env.update(C._lab.scratch_env(Path(states[0]["dir"])))  # one process for the fleet: its scratch goes with lab 1
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(C.REPO / ".collections"), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_CONFIG": str(C.REPO / "tests" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_STRATEGY": strategy, "ANSIBLE_FORKS": str(len(states))})
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(SITE), "-i", str(inventory)]
    if extravars:
        cmd += ["-e", json.dumps(extravars)]
    for state in states:
        C._lab.calls(state, reset=True)
    offsets = [C._lab.k8s_writes(state)[0] for state in states]
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=C.REPO, check=False)
    wall, after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    log = BUILD / f"{strategy}-{len(states)}-{label.replace(' ', '-')}.log"
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode:
        raise SystemExit(f"site.yml {label} over {len(states)} cluster(s) failed (rc={proc.returncode}); "
                         f"its output: {log}\n{proc.stdout[-3000:]}\n{proc.stderr[-1500:]}")
    aws_writes = sum(len(aws_write_calls(C._lab.calls(state))) for state in states)
    api_writes = sum(len(C._lab.k8s_writes(state, offset)[1]) for state, offset in zip(states, offsets))
    in_sync = IN_SYNC.findall(proc.stdout)
    return {"label": label, "wall": wall, "cpu": cpu, "changed": sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout)),
            "aws_writes": aws_writes, "api_writes": api_writes, "in_sync": sorted(set(in_sync)), "in_sync_count": len(in_sync),
            "run_gate_in_sync": len(RUN_GATE_IN_SYNC.findall(proc.stdout)),
            "roles": sorted(set(ROLE_TASK.findall(proc.stdout)) - {"common"}), "log": str(log)}


def line(run: dict, size: int) -> str:
    return (f"  {run['label']:<17} wall {run['wall']:7.1f} s ({run['wall'] / size:6.1f} s per cluster)  "
            f"CPU {run['cpu']:7.1f} s ({run['cpu'] / size:6.1f} s per cluster)  changed={run['changed']:<3} "
            f"AWS writes {run['aws_writes']:<3} API writes {run['api_writes']}")


def fleet(size: int, strategy: str, demo_dir: str, keep: bool) -> dict:
    print(f"\n== {size} cluster(s), strategy {strategy}: site.yml over {size} host(s), forks {size} ==", flush=True)
    states = fresh_labs(size)
    try:
        inventory = write_inventory(states, demo_dir)
        runs = []
        for label, extravars in (("first run", None), ("gated re-run", None),
                                 ("full-check re-run", {"nodeless_eks_full_check": True})):
            runs.append(run_site(states, inventory, strategy, label, extravars))
            print(line(runs[-1], size), flush=True)
        first, gated, full = runs
        ungated = [r for r in gated["roles"] if r not in gated["in_sync"]]
        print(f"  gated re-run: the run's gate in sync on {gated['run_gate_in_sync']} of {size} clusters; roles in sync at their own gate "
              f"{gated['in_sync_count']} times ({', '.join(gated['in_sync']) or 'no role'}); "
              f"took the full path or have no gate: {', '.join(ungated) or 'none'}")
        print(f"  gated / first: wall {gated['wall'] / first['wall']:.0%}, CPU {gated['cpu'] / first['cpu']:.0%}; "
              f"full-check / first: wall {full['wall'] / first['wall']:.0%}, CPU {full['cpu'] / first['cpu']:.0%}; "
              f"gated / full-check CPU {gated['cpu'] / full['cpu']:.0%}", flush=True)
        return {"size": size, "strategy": strategy, "runs": runs,
                "ok": all(r["changed"] == 0 and r["aws_writes"] == 0 and r["api_writes"] == 0 for r in (gated, full))}
    finally:
        if not keep:
            for index in range(1, size + 1):
                C.stop_lab(lab_dir(index))


def summary(results: list[dict]) -> None:
    print("\n===== fleet summary: per cluster (wall / N, CPU / N), separate labs (one moto + one API server each) =====")
    print(f"{'strategy':<15} {'N':>2} | {'first wall':>10} {'CPU':>7} | {'gated wall':>10} {'CPU':>7} | "
          f"{'full wall':>9} {'CPU':>7} | gated/first CPU | re-runs wrote nothing")
    for res in results:
        first, gated, full = res["runs"]
        n = res["size"]
        print(f"{res['strategy']:<15} {n:>2} | {first['wall'] / n:>9.1f}s {first['cpu'] / n:>6.1f}s | "
              f"{gated['wall'] / n:>9.1f}s {gated['cpu'] / n:>6.1f}s | {full['wall'] / n:>8.1f}s {full['cpu'] / n:>6.1f}s | "
              f"{gated['cpu'] / first['cpu']:>15.0%} | {'yes' if res['ok'] else 'NO'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4", help="fleet sizes, comma-separated (default 1,2,4)")
    parser.add_argument("--keep-labs", action="store_true", help="leave the last fleet's labs running")
    C.add_strategy_option(parser)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    BUILD.mkdir(parents=True, exist_ok=True)
    print(f"fleet benchmark: site.yml over N separate lab clusters (N = {', '.join(map(str, sizes))}), capabilities of "
          f"the demo inventory without {', '.join(LEFT_OUT)}; {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the start", flush=True)
    # The charts (upstream's Karpenter chart, the Load Balancer Controller stand-in) are the same for every lab.
    os.environ["NODELESS_LAB_DIR"] = str(lab_dir(1))
    C.stop_lab(lab_dir(1))
    C.start_lab("fleet-1")
    BARE.add(1)
    from support import demo_env  # noqa: PLC0415 - labenv reads NODELESS_LAB_DIR when it is imported

    demo_dir = demo_env.prepare(BUILD / "demo")["NODELESS_DEMO_DIR"]
    results, out = [], BUILD / f"results-{args.strategy}-{'-'.join(map(str, sizes))}.json"
    try:
        for strategy in C.strategies(args.strategy):
            for size in sizes:
                results.append(fleet(size, strategy, demo_dir, args.keep_labs and size == sizes[-1]))
    finally:
        summary(results)
        out.write_text(json.dumps(results, indent=1))
        if not args.keep_labs:
            for index in range(1, max(sizes) + 1):
                C.stop_lab(lab_dir(index))
    print(f"(written to {out}; each run's output in {BUILD}); load average at the end "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
