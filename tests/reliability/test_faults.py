"""Faults: AWS throttling and 5xx on the first calls of every kind, moto and kube-apiserver restarted mid-run."""
from __future__ import annotations

import threading
import time

import pytest

from reliability_common import CANARY_SECRET, PLAYBOOKS, SITE, Runs, measured, recap_changed, record, run_playbook
from support import faults, labenv
from support.snapshots import aws_snapshot, aws_write_calls, duplicates, k8s_snapshot

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
        result = run_playbook(name, **kwargs)
    finally:
        injected = sum(r.get("injected", 0) for r in faults.rules(state))
        faults.clear(state)
    return result, injected, labenv.aws_calls()


def verbose_faulted_run(runs: Runs, name: str):
    """The faulted re-run, at -vvv with a canary secret key, shared with the security checks."""
    if name not in VERBOSE:
        run = runs.converged(name)
        VERBOSE[name] = run_with_faults(runs.state, name, run["calls"], verbosity=3, json_output=False,
                                        env_extra={"AWS_SECRET_ACCESS_KEY": CANARY_SECRET})
    return VERBOSE[name]


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_aws_throttling_and_5xx_are_retried(runs, name):
    result, injected, calls = verbose_faulted_run(runs, name)
    faulted = [c for c in calls if c[2] in (400, 503)]
    record("faults", f"{name} AWS faults injected/survived", f"{injected}/{injected if result.rc == 0 else 0}")
    assert result.rc == 0, f"{name} did not survive {injected} injected AWS faults:\n{result.stdout[-3000:]}"
    assert injected > 0 and len(faulted) == injected, "the lab served every fault it was asked to inject"
    # A retry, not luck: every call kind that got a fault was made again afterwards and then succeeded.
    unretried = sorted({(svc, act) for i, (svc, act, status) in enumerate(calls) if status in (400, 503)
                        and not any(c[0] == svc and c[1] == act and c[2] < 400 for c in calls[i + 1:])})
    assert not unretried, f"{name}: these calls failed by injection and were never made again successfully: {unretried}"
    assert recap_changed(result.stdout) == 0, f"{name}: retries changed a converged cluster"


def _restart_target(runs: Runs) -> str:
    """site.yml: it chains every capability present, so one restart test covers them all as they land."""
    runs.converged(SITE.name)
    return SITE.name


def _background(name: str, **kwargs) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def go():
        try:
            box["result"] = run_playbook(name, **kwargs)
        except Exception as exc:  # noqa: BLE001 - e.g. the run's time limit: reported by the test
            box["error"] = exc

    thread = threading.Thread(target=go)
    thread.start()
    return thread, box


def _wait_for(what: str, check, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {what}")
        time.sleep(0.2)


def _shape(snap: dict) -> dict:
    """What must not be duplicated, without the IDs and timestamps moto draws anew when it re-seeds."""
    exact = {k: v for k, v in snap.items() if k.startswith(("iam:", "events:"))}
    exact.update({k: dict(v, subnets=len(v["subnets"] or [])) for k, v in snap.items() if k.startswith("eks:")})
    exact.update({k: {a: v for a, v in attrs.items() if "Timestamp" not in a}
                  for k, attrs in snap.items() if k.startswith("sqs:")})
    exact["tag-counts"] = sorted(len(v) for k, v in snap.items() if k.startswith(("ec2:tags/", "autoscaling:")))
    return exact


def _interrupted(box: dict, what: str):
    """The run a restart interrupted: it ended (within its time limit), and if it failed it said why."""
    assert "error" not in box, f"the run interrupted by {what} did not end: {box.get('error')}"
    result = box["result"]
    if result.rc:
        assert result.failure_text().strip(), f"the run interrupted by {what} failed without saying why"
    return result


def _first_line(result) -> str:
    return result.reason() if result.rc else ""


def test_moto_restart_mid_run_then_rerun_converges(runs):
    name = _restart_target(runs)
    state = runs.state
    clean_shape = _shape(aws_snapshot())
    faults.restart_moto(state)  # a fresh account: the next run must create everything again
    labenv.aws_calls(reset=True)
    thread, box = _background(name)
    _wait_for("the first AWS write", lambda: aws_write_calls(labenv.aws_calls()) or not thread.is_alive())
    writes_before = len(aws_write_calls(labenv.aws_calls()))
    took = faults.restart_moto(state)
    thread.join()
    interrupted = _interrupted(box, "a moto restart")
    rerun, injected, _calls = run_with_faults(state, name, runs.converge(name)["calls"])
    assert rerun.rc == 0, f"the re-run under {injected} AWS faults did not converge: {rerun.failure_text()}"
    after = aws_snapshot()
    again = measured(name)
    assert again["result"].rc == 0 and again["result"].total_changed() == 0, again["result"].failure_text()
    assert not aws_write_calls(again["calls"]), f"the re-converged account still needed writes: {aws_write_calls(again['calls'])}"
    assert _shape(aws_snapshot()) == _shape(after)
    assert _shape(after) == clean_shape, "the re-converged account differs from the converged one before the restart"
    problems = duplicates()
    assert not problems, "duplicates or half-made objects after the moto restart:\n" + "\n".join(problems)
    record("faults", f"moto restart during {name}",
           f"restart {took:.1f}s after {writes_before} AWS write(s); interrupted run rc={interrupted.rc} "
           f"{_first_line(interrupted)!r}; re-run under {injected} AWS faults converged; third run changed=0, "
           f"0 AWS writes; no duplicates")


def test_apiserver_restart_mid_run_then_rerun_converges(runs):
    name = _restart_target(runs)
    state = runs.state
    clean = runs.converge(name)
    before = k8s_snapshot()
    labenv.aws_calls(reset=True)
    started = time.monotonic()
    thread, box = _background(name)
    # Into the run: once it has read the cluster's facts from AWS (its first AWS call), the roles' API
    # calls follow; restart a little later, and never later than 40 % of a clean run's wall time. Timed
    # from the run's own progress, not only from a clean run measured under another load.
    _wait_for("the run's first AWS call", lambda: labenv.aws_calls() or not thread.is_alive(), timeout=300)
    thread.join(timeout=min(15.0, max(0.0, 0.4 * clean["seconds"] - (time.monotonic() - started))))
    delay = time.monotonic() - started
    alive = thread.is_alive()
    took = faults.restart_apiserver(state)
    thread.join()
    assert alive, f"the run ended within {delay:.0f}s, before the restart (the check would prove nothing)"
    interrupted = _interrupted(box, "an API server restart")
    rerun = measured(name)
    assert rerun["result"].rc == 0, rerun["result"].failure_text()
    third = None
    if rerun["result"].total_changed() or rerun["k8s_writes"]:  # the re-run repaired something: one more must not
        third = measured(name)
        assert third["result"].rc == 0, third["result"].failure_text()
    last = third or rerun
    assert last["result"].total_changed() == 0, last["result"].changed()
    assert not last["k8s_writes"], f"the re-converged cluster still needed writes: {[e['objectRef'] for e in last['k8s_writes']]}"
    assert k8s_snapshot() == before, "objects were duplicated, recreated or left half-made"
    problems = duplicates()
    assert not problems, "duplicates or half-made objects after the API server restart:\n" + "\n".join(problems)
    record("faults", f"API server restart during {name}",
           f"restart {took:.1f}s, {delay:.0f}s into the run; interrupted run rc={interrupted.rc} "
           f"{_first_line(interrupted)!r}; re-run converged (changed={rerun['result'].total_changed()}, "
           f"{len(rerun['k8s_writes'])} API writes){'; third run changed=0' if third else ''}; no duplicates")
