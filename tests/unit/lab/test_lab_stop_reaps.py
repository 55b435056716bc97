"""A lab process that ended is collected at once (nodeless_lab/procs.py's alive()), and only that process. Left a
zombie, it was collected whenever the next subprocess started, and its CPU time then showed in that process's cost: a
Karpenter controller's CPU in the next test's first playbook run (.build/playbook-runs-*.jsonl, tests/conftest.py's
costliest tests). A wildcard wait instead took the exit status of whatever child had ended, such as a playbook run
another thread was waiting on, whose failure then read as rc=0."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from nodeless_lab import procs

SPIN = "import time\nwhile True: time.sleep(0.01)"
# Ends a moment after SIGTERM, so that stop() waits for it at least once.
SLOW_STOP = ("import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: (time.sleep(0.3), sys.exit(0)))\n"
             "while True: time.sleep(0.01)")


def _wait_ended(pid: int) -> None:
    """Until PID has ended, not collected (a zombie): what alive() or a wait then finds."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ", 1)[1][0] == "Z":
                return
        time.sleep(0.01)


@pytest.mark.parametrize("how", ["stop", "stop_all"])
def test_a_stopped_process_is_no_zombie(tmp_path, how):
    pid = procs.start("spin", [sys.executable, "-c", SPIN], tmp_path)
    assert procs.alive(pid)
    if how == "stop":
        assert procs.stop(tmp_path, "spin")
    else:
        assert procs.stop_all(tmp_path) == ["spin"]
    with pytest.raises(ChildProcessError):  # already collected: nothing left for a later waitpid
        os.waitpid(pid, os.WNOHANG)


def test_a_process_that_ended_is_collected_when_asked_about(tmp_path):
    pid = procs.start("once", [sys.executable, "-c", "pass"], tmp_path)
    _wait_ended(pid)
    assert not procs.alive(pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize("how", ["stop", "stop_all"])
def test_stopping_the_lab_leaves_another_childs_exit_status_to_its_owner(tmp_path, how):
    procs.start("slow", [sys.executable, "-c", SLOW_STOP], tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])  # a playbook run that failed
    _wait_ended(other.pid)
    if how == "stop":
        assert procs.stop(tmp_path, "slow")
    else:
        assert procs.stop_all(tmp_path) == ["slow"]
    assert other.wait(timeout=10) == 3


@pytest.mark.parametrize("pid", [0, -1])
def test_no_pid_is_not_alive(pid):
    assert not procs.alive(pid)  # a missing pid file (lab.healthy's default) is a process not running
