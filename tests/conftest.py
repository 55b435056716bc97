"""Fixtures shared by unit and integration tests (helpers live in tests/support)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = REPO.parent / "shared" / "upstream"


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
