"""Run ansible-playbook against the lab and read its results as data (ansible.posix.json callback)."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import time
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import labenv, toolchain
from .snapshots import aws_write_calls

PLAYBOOK_DIR = labenv.REPO / ".build" / "playbooks"


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    data: dict = field(default_factory=dict)
    plan: set = field(default_factory=set)  # (host, resource, action) rows of the nodeless.eks.plan callback
    aws_writes: list = field(default_factory=list)  # set by counted(): the AWS write calls the run made
    k8s_writes: list = field(default_factory=list)  # set by counted(): its API server write events (audit log)

    @property
    def stats(self) -> dict:
        """Per host: ok, changed, failures, unreachable, skipped."""
        return self.data.get("stats", {})

    def tasks(self):
        """(task name, host, result) for every task result, in order."""
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for host, res in task.get("hosts", {}).items():
                    yield task["task"]["name"], host, res

    def task(self, name: str) -> dict:
        """The result of the first task called NAME."""
        return next(res for task, _host, res in self.tasks() if task == name)

    def changed(self) -> list[str]:
        return [name for name, _host, res in self.tasks() if res.get("changed")]

    def failed_tasks(self, host: str | None = None):
        """(task name, result) of every failed task whose errors were not ignored, in order (of HOST only, if given)."""
        return [(name, res) for name, task_host, res in self.tasks()
                if res.get("failed") and not res.get("ignore_errors") and host in (None, task_host)]

    def failures(self, host: str | None = None) -> list[dict]:
        return [res for _name, res in self.failed_tasks(host)]

    @staticmethod
    def _item_messages(res: dict) -> list[str]:
        """The messages of a loop task's failed items."""
        return [str(item.get("msg", "")) for item in res.get("results", []) or [] if item.get("failed")]

    @staticmethod
    def _module_output(res: dict) -> dict:
        """What a module printed when Ansible could not read its result ("Module result deserialization
        failed"): its stderr and stdout, those it wrote to, so a figure or an assertion shows the cause."""
        streams = {key: str(res.get(key) or "").strip() for key in ("module_stderr", "module_stdout")}
        return {key: text for key, text in streams.items() if text}

    def failure_text(self, host: str | None = None) -> str:
        """Every failure message (and nested loop results' messages), for assertions on wording; of HOST only, if given."""
        texts = []
        for res in self.failures(host):
            texts.append(str(res.get("msg", "")))
            texts.extend(self._item_messages(res))
            texts.extend(f"{key}: {text[-600:]}" for key, text in self._module_output(res).items())
        return "\n".join(texts) + ("\n" + self.stderr if self.rc and not texts and host is None else "")

    def reason(self, limit: int = 400) -> str:
        """The first failed task and its most specific message, for figures: a loop item's own message
        rather than Ansible's summary ("One or more items failed")."""
        for name, res in self.failed_tasks():
            messages = [*self._item_messages(res), str(res.get("msg", ""))]
            if "deserialization failed" in messages[-1]:  # the module's own last line says more
                last = [text.splitlines()[-1] for text in self._module_output(res).values()]
                messages[-1] = f"{messages[-1]} ({'; '.join(last) or 'the module printed nothing'})"
            message = next((m.strip().splitlines()[0] for m in messages if m.strip()), "")
            return f"{name}: {message}"[:limit]
        return (self.stderr.strip().splitlines() or [""])[-1][:limit]

    def total_changed(self) -> int:
        return sum(h.get("changed", 0) for h in self.stats.values())


def _log_cost(path: Path, cmd: list, before, started: float) -> None:
    """One line per playbook run in .build/playbook-runs-<layer>.jsonl (test, playbook, options, CPU, wall): where
    a layer's CPU goes, by run rather than by test."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    row = {"test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0], "playbook": path.name,
           "args": [arg for arg in cmd[3:] if arg.startswith("--")], "cpu": round(cpu, 2),
           "wall": round(time.monotonic() - started, 2)}
    out = labenv.REPO / ".build" / f"playbook-runs-{os.environ.get('NODELESS_TEST_LAYER', 'pytest')}.jsonl"
    with out.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def write_playbook(content: str | list) -> Path:
    """Playbooks given as text or data are written under .build/playbooks (ignored by git)."""
    PLAYBOOK_DIR.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    handle = tempfile.NamedTemporaryFile("w", suffix=".yml", dir=PLAYBOOK_DIR, delete=False)
    with handle:
        handle.write(text)
    return Path(handle.name)


def run(playbook: str | Path | list, *, extravars: dict | None = None, check: bool = False, diff: bool = False,
        tags: str | None = None, inventory: str | Path | None = None, verbosity: int = 0,
        env_extra: dict | None = None, timeout: float = 900, json_output: bool = True, plan: bool = False) -> Result:
    """Run a playbook (a path, YAML text, or a list of plays) against the lab.

    ``plan=True`` enables the nodeless.eks.plan callback and returns its rows in ``Result.plan``: what a
    check run predicts, or what a real run changed, as the user's plan table shows it."""
    is_path = isinstance(playbook, Path) or (
        isinstance(playbook, str) and playbook.endswith((".yml", ".yaml")) and "\n" not in playbook)
    if is_path:
        path = Path(playbook)
    else:
        path = write_playbook(playbook)
    cmd = [str(toolchain.BIN / "ansible-playbook"), str(path),
           "-i", str(inventory or labenv.REPO / "tests" / "inventory" / "lab.yml")]
    if extravars:
        cmd += ["-e", json.dumps(extravars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", tags]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    extra = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_output else {}
    plan_file = None
    if plan:
        PLAYBOOK_DIR.mkdir(parents=True, exist_ok=True)  # a playbook given by path writes its plan here too
        plan_file = PLAYBOOK_DIR / f"{path.stem}-{'check' if check else 'run'}-{uuid.uuid4().hex[:8]}.plan.json"
        extra.update(ANSIBLE_CALLBACKS_ENABLED="nodeless.eks.plan", NODELESS_EKS_PLAN_FILE=str(plan_file))
    extra.update(env_extra or {})
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=labenv.run_env(extra), timeout=timeout,
                          cwd=labenv.REPO, check=False)
    _log_cost(path, cmd, before, started)
    data = {}
    if json_output:
        start = proc.stdout.find("{")
        try:  # raw_decode: the plan table, when enabled, may follow the JSON document
            data = json.JSONDecoder().raw_decode(proc.stdout[start:])[0] if start >= 0 else {}
        except ValueError:
            data = {}
    rows = set()
    if plan_file and plan_file.exists():
        hosts = json.loads(plan_file.read_text())["hosts"]
        rows = {(host, row["resource"], row["action"]) for host, entries in hosts.items() for row in entries}
    return Result(proc.returncode, proc.stdout, proc.stderr, data, rows)


def counted(playbook: str | Path | list, **kwargs) -> Result:
    """run(), with the AWS write calls and the API server writes it made on the result (``aws_writes``,
    ``k8s_writes``): what an idempotence or a drift check counts."""
    labenv.aws_calls(reset=True)
    offset = labenv.k8s_writes()[0]
    result = run(playbook, **kwargs)
    result.aws_writes = aws_write_calls(labenv.aws_calls())
    result.k8s_writes = labenv.k8s_writes(offset)[1]
    return result
