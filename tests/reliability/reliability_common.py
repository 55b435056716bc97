"""Shared by the reliability checks: what the collection holds, how a playbook is run, figures, and clean
runs remembered."""
from __future__ import annotations

import functools
import re
import time
from pathlib import Path

import pytest

from support import demo_env, labenv
from support import playbook as runner

REPO = labenv.REPO
SITE = REPO / "playbooks" / "site.yml"
# Each capability's playbook; site.yml chains them and is exercised by the concurrency and restart checks.
PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml") if p.name != "site.yml")


def _records() -> tuple[str, ...]:
    import yaml  # noqa: PLC0415 - PyYAML comes with ansible-core

    data = yaml.safe_load((REPO / "playbooks" / "vars" / "capabilities.yml").read_text())
    return tuple(record for table in ("nodeless_eks_capability_records", "nodeless_eks_independent_records")
                 for records in data[table].values() for record in records)


# Every convergence record site.yml knows, as playbooks/vars/capabilities.yml lists them, and the roles that keep them
# (addons keeps two: addons and addons_after_capacity).
RECORDED = _records()
RECORDED_ROLES = tuple(record for record in RECORDED if (REPO / "roles" / record).is_dir())
FIGURES: dict = {}
# One playbook run may not take longer than this here (a hung run is a finding, not a reason to wait).
RUN_TIMEOUT = 300
# site.yml converges every capability: about 5 minutes on a bare lab cluster on 2 busy cores.
SITE_TIMEOUT = 900
# A distinctive secret key (moto accepts any): if it shows up in -vvv output, a secret leaked.
CANARY_SECRET = "nodelessCanarySecretKey0123456789abcdefXYZ"
STARTED: list = []  # the playbook runs started in this session, in order (none yet: the lab is as `lab up` left it)


def record(section: str, key: str, value) -> None:
    FIGURES.setdefault(section, {})[key] = value


def recap_changed(text: str) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", text))


@functools.lru_cache(maxsize=None)
def _demo_env(lab_dir: str) -> dict:
    """The charts (upstream's Karpenter chart, the Load Balancer Controller stand-in) and the kubeconfig
    directory, prepared once per lab (under the lab's directory)."""
    return demo_env.prepare(Path(lab_dir) / "demo")


def run_playbook(name: str, **kwargs) -> runner.Result:
    """Every playbook run of the suite goes through here: the demo inventory (every capability of site.yml
    on, chart references at upstream's Karpenter chart and the Load Balancer Controller stand-in; see docs/lab.md), against the lab labenv targets (the
    private one), with site.yml's own time limit."""
    env = dict(_demo_env(labenv.state()["dir"]))
    env.update(kwargs.pop("env_extra", None) or {})
    kwargs.setdefault("timeout", SITE_TIMEOUT if name == SITE.name else RUN_TIMEOUT)
    STARTED.append(name)
    return runner.run(REPO / "playbooks" / name, inventory=demo_env.INVENTORY, env_extra=env, **kwargs)


def measured(name: str, **kwargs) -> dict:
    """One run with what it cost: {result, calls (AWS), k8s_writes (audit events), seconds}."""
    labenv.aws_calls(reset=True)
    offset = labenv.k8s_writes()[0]
    started = time.monotonic()
    result = run_playbook(name, **kwargs)
    return {"result": result, "calls": labenv.aws_calls(), "k8s_writes": labenv.k8s_writes(offset)[1],
            "seconds": time.monotonic() - started}


class Runs:
    """One clean (converging) run per playbook, remembered, so several checks share its cost."""

    def __init__(self, state: dict) -> None:
        self.state = state
        self.clean: dict = {}

    def remember(self, name: str, run: dict) -> None:
        """A run another check made (e.g. the single run after a concurrent pair) that converged."""
        if run["result"].rc == 0:
            self.clean.setdefault(name, run)

    def converge(self, name: str) -> dict:
        if name not in self.clean:
            self.clean[name] = measured(name)
        return self.clean[name]

    def converged(self, name: str) -> dict:
        """A clean converge of NAME; with every capability configured (demo inventory) it must succeed."""
        run = self.converge(name)
        if run["result"].rc:
            pytest.fail(f"{name} fails without any fault injected: {run['result'].failure_text()[:1500]}")
        return run
