"""Faults: AWS throttling and 5xx on the first calls of every kind, moto and kube-apiserver restarted mid-run."""
from __future__ import annotations

import threading
import time

import pytest

from reliability_common import CANARY_SECRET, PLAYBOOKS, REPO, RUN_TIMEOUT, SITE, Runs, recap_changed, record
from support import faults, labenv
from support import playbook as runner
from support.snapshots import aws_snapshot, aws_write_calls, k8s_snapshot

pytestmark = pytest.mark.lab
VERBOSE: dict = {}  # playbook -> -vvv output of its faulted run, read by test_security


def fault_rules(calls: list) -> list[dict]:
    """For each (service, action) seen: the first call throttled (400), the second a 503."""
    kinds = sorted({(c[0], c[1]) for c in calls if c[0] != "unknown"})
    return [dict(service=s, action=a, count=1, status=status) for s, a in kinds for status in (400, 503)]


def run_with_faults(state: dict, name: str, calls: list, **kwargs):
    labenv.aws_calls(reset=True)
    faults.inject(state, fault_rules(calls))
    try:
        result = runner.run(REPO / "playbooks" / name, timeout=RUN_TIMEOUT, **kwargs)
    finally:
        injected = sum(r.get("injected", 0) for r in faults.rules(state))
        faults.clear(state)
    retried = [c for c in labenv.aws_calls() if c[2] in (400, 503)]
    return result, injected, retried


def verbose_faulted_run(runs: Runs, name: str):
    """The faulted re-run, at -vvv with a canary secret key, shared with the security checks."""
    if name not in VERBOSE:
        run = runs.converged_or_skip(name)
        VERBOSE[name] = run_with_faults(runs.state, name, run["calls"], verbosity=3, json_output=False,
                                        env_extra={"AWS_SECRET_ACCESS_KEY": CANARY_SECRET})
    return VERBOSE[name]


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_aws_throttling_and_5xx_are_retried(runs, name):
    result, injected, retried = verbose_faulted_run(runs, name)
    record("faults", f"{name} AWS faults injected/survived", f"{injected}/{injected if result.rc == 0 else 0}")
    assert result.rc == 0, f"{name} did not survive {injected} injected AWS faults:\n{result.stdout[-3000:]}"
    assert injected > 0 and len(retried) == injected, "every injected fault was answered, and the call retried"
    assert recap_changed(result.stdout) == 0, f"{name}: retries changed a converged cluster"


def _restart_target(runs: Runs) -> str:
    """site.yml: it chains every capability present, so one restart test covers them all as they land."""
    return runs.converged_or_skip(SITE.name) and SITE.name


def _background(name: str, **kwargs) -> tuple[threading.Thread, dict]:
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", runner.run(REPO / "playbooks" / name, **kwargs)))
    thread.start()
    return thread, box


def _wait_for(what: str, check, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {what}")
        time.sleep(0.2)


def _shape(snap: dict) -> dict:
    """What must not be duplicated, without the IDs moto draws anew when it re-seeds."""
    exact = {k: v for k, v in snap.items() if k.startswith(("iam:", "sqs:", "events:", "eks:"))}
    exact["tag-counts"] = sorted(len(v) for k, v in snap.items() if k.startswith(("ec2:tags/", "autoscaling:")))
    return exact


def _assert_clear_failure(result, what: str) -> None:
    if result.rc:
        text = result.failure_text()
        assert text.strip(), f"the run interrupted by {what} failed without saying why"


def test_moto_restart_mid_run_then_rerun_converges(runs):
    name = _restart_target(runs)
    state = runs.state
    clean_shape = None
    faults.restart_moto(state)  # a fresh account: the next run must create everything again
    labenv.aws_calls(reset=True)
    thread, box = _background(name)
    _wait_for("the first AWS write", lambda: aws_write_calls(labenv.aws_calls()) or not thread.is_alive())
    took = faults.restart_moto(state)
    thread.join()
    _assert_clear_failure(box["result"], "a moto restart")
    rerun, injected, _retried = run_with_faults(state, name, runs.converge(name)["calls"])
    assert rerun.rc == 0, rerun.failure_text()
    after = aws_snapshot()
    labenv.aws_calls(reset=True)
    again = runner.run(REPO / "playbooks" / name)
    assert again.rc == 0 and again.total_changed() == 0, again.failure_text()
    assert not aws_write_calls(labenv.aws_calls()), "the re-converged account still needed writes"
    clean_shape = _shape(after)
    assert _shape(aws_snapshot()) == clean_shape
    record("faults", f"moto restart during {name}", f"restart {took:.1f}s; interrupted run rc={box['result'].rc}; "
           f"re-run under {injected} faults converged; third run changed=0")


def test_apiserver_restart_mid_run_then_rerun_converges(runs):
    name = _restart_target(runs)
    state = runs.state
    offset = labenv.k8s_writes()[0]
    before = k8s_snapshot()
    thread, box = _background(name)
    time.sleep(1.0)  # into the run: the role dependency reads cluster facts first
    took = faults.restart_apiserver(state)
    thread.join()
    _assert_clear_failure(box["result"], "an API server restart")
    rerun = runner.run(REPO / "playbooks" / name)
    assert rerun.rc == 0, rerun.failure_text()
    offset = labenv.k8s_writes()[0]
    again = runner.run(REPO / "playbooks" / name)
    writes = labenv.k8s_writes(offset)[1]
    assert again.rc == 0 and again.total_changed() == 0, again.failure_text()
    assert not writes, f"the re-converged cluster still needed writes: {[e['objectRef'] for e in writes]}"
    assert k8s_snapshot() == before, "objects were duplicated or left half-made"
    record("faults", f"API server restart during {name}",
           f"restart {took:.1f}s; interrupted run rc={box['result'].rc}; re-run converged; third run changed=0")
