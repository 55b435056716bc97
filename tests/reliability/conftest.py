"""The reliability suite runs in a lab of its own (support.faults.private_lab): it restarts moto and the
API server and injects AWS faults, which would disturb anyone sharing the default lab.

Every check is parametrised over what the collection holds (playbooks/, roles/, plugins/modules/), so
it covers each capability as it lands. Figures (faults injected / survived, runs / consistent) go to
.build/reliability.json and are printed at the end of the run.
"""
from __future__ import annotations

import json

import pytest

from reliability_common import FIGURES, REPO, Runs
from support import faults


@pytest.fixture(scope="session")
def rlab():
    with faults.private_lab() as state:
        yield state


@pytest.fixture(scope="session")
def runs(rlab):
    return Runs(rlab)


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    out = REPO / ".build" / "reliability.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2, sort_keys=True, default=str))
    terminalreporter.section("reliability figures")
    for section, values in sorted(FIGURES.items()):
        for key, value in sorted(values.items()):
            terminalreporter.write_line(f"{section:12} {key}: {value}")
    terminalreporter.write_line(f"(saved to {out})")
