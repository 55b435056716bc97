"""Concurrency: two runs at once against one cluster end, and leave what a single run leaves."""
from __future__ import annotations

import threading

import pytest

from reliability_common import PLAYBOOKS, REPO, SITE, record
from support import labenv
from support import playbook as runner
from support.snapshots import aws_snapshot, aws_write_calls, k8s_snapshot

pytestmark = pytest.mark.lab


def _targets() -> list[str]:
    return (["site.yml"] if SITE.exists() else []) + PLAYBOOKS


@pytest.mark.parametrize("name", _targets())
def test_two_runs_at_once_equal_one(runs, name):
    runs.converged_or_skip(name)  # converge first: the pair must then agree with a single run
    results: list = [None, None]

    def go(i):
        results[i] = runner.run(REPO / "playbooks" / name)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.rc == 0 for r in results), [r.failure_text() for r in results if r.rc]
    after_pair = (aws_snapshot(), k8s_snapshot())
    labenv.aws_calls(reset=True)
    offset = labenv.k8s_writes()[0]
    single = runner.run(REPO / "playbooks" / name)
    writes = labenv.k8s_writes(offset)[1]
    assert single.rc == 0 and single.total_changed() == 0, single.failure_text()
    assert not aws_write_calls(labenv.aws_calls()) and not writes, "a single run after the pair still had to write"
    assert (aws_snapshot(), k8s_snapshot()) == after_pair, "the pair left duplicates a single run would not"
    record("concurrency", name, "2 runs at once: both ended, state equal to a single run's")
