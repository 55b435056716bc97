"""Shared by the reliability checks: what the collection holds, figures, and clean runs remembered."""
from __future__ import annotations

import re

import pytest

from support import labenv
from support import playbook as runner

REPO = labenv.REPO
SITE = REPO / "playbooks" / "site.yml"
# Each capability's playbook; site.yml chains them and is exercised by the concurrency check.
PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml") if p.name != "site.yml")
FIGURES: dict = {}
# One playbook run may not take longer than this here (a hung run is a finding, not a reason to wait).
RUN_TIMEOUT = 300
# A distinctive secret key (moto accepts any): if it shows up in -vvv output, a secret leaked.
CANARY_SECRET = "nodelessCanarySecretKey0123456789abcdefXYZ"


def record(section: str, key: str, value) -> None:
    FIGURES.setdefault(section, {})[key] = value


def recap_changed(text: str) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", text))


class Runs:
    """One clean (converging) run per playbook, remembered, so several checks share its cost."""

    def __init__(self, state: dict) -> None:
        self.state = state
        self.clean: dict = {}

    def converge(self, name: str) -> dict:
        if name not in self.clean:
            labenv.aws_calls(reset=True)
            offset = labenv.k8s_writes()[0]
            result = runner.run(REPO / "playbooks" / name, timeout=RUN_TIMEOUT)
            calls = labenv.aws_calls()
            writes = labenv.k8s_writes(offset)[1]
            self.clean[name] = {"result": result, "calls": calls, "k8s_writes": writes}
        return self.clean[name]

    def converged_or_skip(self, name: str) -> dict:
        run = self.converge(name)
        if run["result"].rc:
            pytest.skip(f"{name} fails without any fault injected (its own tests cover that): "
                        f"{run['result'].failure_text()[:300]}")
        return run
