"""A lab process stopped by nodeless_lab/procs.py is collected at once. Left a zombie, it was collected whenever the
next subprocess started, and its CPU time then showed in that process's cost: a Karpenter controller's CPU in the
next test's first playbook run (.build/playbook-runs-*.jsonl, tests/conftest.py's costliest tests)."""
from __future__ import annotations

import os
import sys

import pytest

from nodeless_lab import procs

SPIN = "import time\nwhile True: time.sleep(0.01)"


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
