"""Shared by the benchmark scripts: a lab of their own, playbook runs timed, AWS calls counted.

Benchmarks never use the default lab: they create hundreds of resources that tests would count.
"""
from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

from nodeless_lab import lab as _lab  # noqa: E402  (path set above)
from nodeless_lab.aws_server import is_write  # noqa: E402


def start_lab(name: str) -> tuple[Path, dict]:
    """A lab in .lab/<name>, started (or reused when healthy)."""
    lab_dir = REPO / ".lab" / name
    out = io.StringIO()
    try:
        return lab_dir, _lab.up(lab_dir, out=out, build=False)
    except Exception as exc:
        raise SystemExit(f"could not start lab {lab_dir}: {exc}\n{out.getvalue()}") from exc


def stop_lab(lab_dir: Path) -> None:
    _lab.down(lab_dir, out=io.StringIO(), quiet=True)


# Ansible's default strategy, which users get, and Mitogen's, which tests/ansible.cfg sets for the suite.
STRATEGIES = ("linear", "mitogen_linear")


def strategies(requested: str) -> list[str]:
    """The strategies to measure: one by name, or 'both' (Mitogen only when it is installed, said if not)."""
    if requested != "both":
        return [requested]
    try:
        import ansible_mitogen  # noqa: F401, PLC0415
    except ImportError:
        print("strategy mitogen_linear: not measured, Mitogen is not installed (pip install mitogen)", flush=True)
        return ["linear"]
    return list(STRATEGIES)


def add_strategy_option(parser) -> None:
    parser.add_argument("--strategy", choices=(*STRATEGIES, "both"), default="both",
                        help="Ansible strategy for both sides (default: both, linear first)")


def playbook_env(state: dict) -> dict[str, str]:
    """What a playbook run against the lab of STATE needs: the lab's endpoints and credentials, and TMPDIR in the
    lab's folder, as the tests' runs get it (nodeless_lab.lab.scratch_env), so the Kubernetes client's key files and
    kubernetes.core's discovery cache go with the lab instead of staying in /tmp."""
    return {**_lab.env(state), **_lab.scratch_env(Path(state["dir"]))}


def boto3_client(state: dict, service: str):
    import boto3

    return boto3.client(service, endpoint_url=state["aws_endpoint"], region_name=state["region"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _task_seconds(output: str) -> float:
    """Sum of the tasks' own durations (ansible.posix.json callback): the work compared, without the
    interpreter and collection loading every ansible-playbook process pays alike."""
    data = json.loads(output[output.find("{"):])
    total = 0.0
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            span = task["task"]["duration"]
            total += (datetime.fromisoformat(span["end"].replace("Z", "+00:00"))
                      - datetime.fromisoformat(span["start"].replace("Z", "+00:00"))).total_seconds()
    return total


def run_playbook(state: dict, path: Path, extravars: str | None = None, strategy: str = "linear") -> tuple[float, float, list]:
    """(process wall seconds, tasks' seconds, AWS calls made) of one ansible-playbook run against the lab,
    under STRATEGY (the playbook's tasks and hosts are the same for every strategy)."""
    env = dict(os.environ)
    env.update(playbook_env(state))
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_CONFIG": str(REPO / "tests" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_STRATEGY": strategy})
    inventory = path.parent / "localhost.ini"
    bin_dir = Path(sys.executable).parent  # the venv running the benchmark
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={bin_dir / 'python'}\n")
    cmd = [str(bin_dir / "ansible-playbook"), str(path), "-i", str(inventory)]
    if extravars:
        cmd += ["-e", extravars]
    _lab.calls(state, reset=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    elapsed = time.monotonic() - start
    calls = _lab.calls(state)
    _lab.calls(state, reset=True)
    if proc.returncode or '"plays": []' in proc.stdout:
        raise SystemExit(f"{path.name} failed (rc={proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return elapsed, _task_seconds(proc.stdout), calls


def split_calls(calls: list) -> tuple[int, int]:
    """(reads, writes) among [service, action, status] entries."""
    writes = sum(1 for c in calls if is_write(c[1]))
    return len(calls) - writes, writes


def collection_copy(root: Path, change) -> Path:
    """A collections path (ROOT) holding a copy of nodeless.eks (plugins, galaxy.yml, meta) that CHANGE(dest) alters,
    and the other collections of .collections linked beside it: one side of a benchmark comparing the collection
    with a variant of itself."""
    dest = root / "ansible_collections" / "nodeless" / "eks"
    shutil.copytree(REPO / "plugins", dest / "plugins")
    for name in ("galaxy.yml", "meta"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    change(dest)
    for other in (REPO / ".collections" / "ansible_collections").iterdir():
        if other.name != "nodeless":
            (root / "ansible_collections" / other.name).symlink_to(other.resolve())
    return root


def playbook_cpu(collections: Path, book: Path, strategy: str, env_extra: dict | None = None) -> float:
    """CPU seconds (user + system) of one ansible-playbook run of BOOK on localhost and its children, with the
    collections path COLLECTIONS, under STRATEGY; exits when the run fails."""
    bin_dir = Path(sys.executable).parent
    inventory = book.parent / "localhost.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={bin_dir / 'python'}\n")
    env = dict(os.environ, **(env_extra or {}), ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_CONFIG=str(REPO / "tests" / "ansible.cfg"), ANSIBLE_STRATEGY=strategy, ANSIBLE_NOCOLOR="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([str(bin_dir / "ansible-playbook"), str(book), "-i", str(inventory)],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode or "failed=0" not in proc.stdout:
        raise SystemExit(f"{book.name} failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
