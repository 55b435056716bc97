"""Fixtures shared by unit and integration tests (helpers live in tests/support)."""
from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = REPO.parent / "shared" / "upstream"
COSTS: dict = {}  # test id -> (CPU seconds, wall seconds), setup and teardown included


def _cpu_seconds() -> float:
    """User + system seconds of this process and of the processes it waited for (playbook runs, helm)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ARG001 - pytest's hook signature
    cpu, wall = _cpu_seconds(), time.monotonic()
    yield
    COSTS[item.nodeid] = (round(_cpu_seconds() - cpu, 1), round(time.monotonic() - wall, 1))


def pytest_terminal_summary(terminalreporter):
    """Where the time went: the ten costliest tests by CPU (a shared converge counts for the first test that
    needs it), all of them in .build/cpu-<layer>.json for the next person who looks for work to remove."""
    if not COSTS:
        return
    costliest = sorted(COSTS.items(), key=lambda kv: -kv[1][0])
    out = REPO / ".build" / f"cpu-{os.environ.get('NODELESS_TEST_LAYER', 'pytest')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(costliest), indent=1))
    terminalreporter.section("costliest tests (CPU s / wall s; lab servers not counted)")
    for nodeid, (cpu, wall) in costliest[:10]:
        terminalreporter.write_line(f"{cpu:7.1f} {wall:7.1f}  {nodeid}")
    terminalreporter.write_line(f"(all {len(COSTS)} in {out})")


@pytest.fixture(scope="session")
def lab():
    """The running lab's state (started on first use, reused after)."""
    from support import labenv

    return labenv.state()


@pytest.fixture
def playbook(lab):
    """support.playbook.run bound to the lab: playbook(text_or_path, extravars=..., check=..., diff=...)."""
    from support import playbook as runner

    return runner.run


@pytest.fixture(scope="session")
def upstream() -> Path:
    """../shared/upstream, or a skip saying why (a user's fresh clone has no ../shared)."""
    if not UPSTREAM.is_dir():
        pytest.skip(f"upstream reference data not found at {UPSTREAM}: drift tests need ../shared "
                    "(present in CI); nothing to compare against here")
    return UPSTREAM
