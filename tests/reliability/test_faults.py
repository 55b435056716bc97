"""Faults: AWS throttling and 5xx on the calls of a first run (its creates, tags and puts included), moto and
kube-apiserver restarted mid-run."""
from __future__ import annotations

import threading
import time

import pytest

from reliability_common import CANARY_SECRET, SITE, Runs, measured, record, run_playbook
from support import faults, labenv
from support.snapshots import aws_snapshot, aws_write_calls, duplicates, k8s_snapshot

pytestmark = pytest.mark.lab
FAULTED: dict = {}  # the faulted first run of site.yml, shared with test_security (its -vvv output)
FRESH: set = set()  # non-empty: the AWS account is as moto seeded it (no write since its restart)
AGAIN: dict = {}  # the runs after the faulted first run, one of them interrupted by an API server restart


def fault_rules(calls: list) -> list[dict]:
    """For each (service, action) seen: the first call throttled (400), the second a 503, then every fifth
    call a 503 (three more), so a call kind that several modules make fails in more than the first of them."""
    kinds = sorted({(c[0], c[1]) for c in calls if c[0] != "unknown"})
    rules = []
    for service, action in kinds:
        rules += [dict(service=service, action=action, count=1, status=400),
                  dict(service=service, action=action, count=1, status=503),
                  dict(service=service, action=action, count=3, every=5, status=503)]
    return rules


def run_with_faults(state: dict, name: str, calls: list, **kwargs):
    labenv.aws_calls(reset=True)
    faults.inject(state, fault_rules(calls))
    try:
        result = run_playbook(name, **kwargs)
    finally:
        injected = sum(r.get("injected", 0) for r in faults.rules(state))
        faults.clear(state)
    return result, injected, labenv.aws_calls()


def faulted_first_run(runs: Runs, clean_shape: dict | None = None) -> dict:
    """site.yml on a fresh AWS account (moto restarted and re-seeded: every IAM role, policy, OIDC provider,
    tag, queue and rule is created again; the cluster side stays converged) with faults on every call kind a
    first run makes, at -vvv with a canary secret key. Shared by the fault, restart and security checks:
    {result, injected, calls, shape (of the account before), after (the account after)}. A FRESH account: set
    when the account is already as moto seeds it (the moto restart test's interrupted run wrote nothing after the
    restart), so moto is not restarted once more."""
    if not FAULTED:
        first_calls = runs.converged(SITE.name)["calls"]  # on the bare lab: the creates, tags and puts too
        shape = clean_shape if clean_shape is not None else _shape(aws_snapshot())
        if not FRESH:
            faults.restart_moto(runs.state)
        FRESH.clear()
        result, injected, calls = run_with_faults(runs.state, SITE.name, first_calls, verbosity=3, json_output=False,
                                                  env_extra={"AWS_SECRET_ACCESS_KEY": CANARY_SECRET})
        FAULTED.update(result=result, injected=injected, calls=calls, shape=shape, after=aws_snapshot())
    return FAULTED


def converged_again(runs: Runs) -> dict:
    """After the faulted first run, the runs that show it left nothing to do, which are also the API server restart
    check: site.yml again, kube-apiserver restarted mid-run (the cluster and the account are converged, so up to
    the restart that run may change and write nothing), then site.yml once more, whole (changed=0, no AWS or API
    write). {box (the interrupted run's result or error), delay, took, alive, before (cluster snapshot before them),
    writes (AWS and API writes of the interrupted run), rerun (measured)}; pytest.fail when the faulted run did not
    converge."""
    run = faulted_first_run(runs)
    if not AGAIN:
        if run["result"].rc:
            pytest.fail("the faulted first run of site.yml did not converge: the runs after it start from its state")
        clean = runs.converged(SITE.name)
        before = k8s_snapshot()
        labenv.aws_calls(reset=True)
        offset = labenv.k8s_writes()[0]
        started = time.monotonic()
        thread, box = _background(SITE.name)
        # Into the run: once it has read the cluster's facts from AWS (its first AWS call), the roles' API
        # calls follow; restart a little later, and never later than 40 % of a clean run's wall time. Timed
        # from the run's own progress, not only from a clean run measured under another load.
        _wait_for("the run's first AWS call", lambda: labenv.aws_calls() or not thread.is_alive(), timeout=300)
        thread.join(timeout=min(15.0, max(0.0, 0.4 * clean["seconds"] - (time.monotonic() - started))))
        delay = time.monotonic() - started
        alive = thread.is_alive()
        took = faults.restart_apiserver(runs.state)
        thread.join()
        writes = aws_write_calls(labenv.aws_calls()) + labenv.k8s_writes(offset)[1]
        AGAIN.update(box=box, delay=delay, took=took, alive=alive, before=before, writes=writes,
                     rerun=measured(SITE.name))
    return AGAIN


def _is_injected(call: list) -> bool:
    """Whether a fault rule answered CALL (the lab marks those: a first run meets AWS's own 400s too)."""
    return call[3:] == ["injected"]


def _injected(calls: list) -> list:
    return [c for c in calls if _is_injected(c)]


def _unretried(calls: list) -> list:
    """Call kinds that failed by injection and were not made again afterwards with AWS itself answering (a
    retry on a fresh account may rightly get AWS's own "no such entity")."""
    return sorted({(c[0], c[1]) for i, c in enumerate(calls) if _is_injected(c)
                   and not any(d[0] == c[0] and d[1] == c[1] and not _is_injected(d) for d in calls[i + 1:])})


def _converged_again(runs: Runs, run: dict) -> None:
    """The runs after the faulted first run (converged_again): nothing left to change or write, the account as made."""
    again = converged_again(runs)
    interrupted = _interrupted(again["box"], "an API server restart")
    assert interrupted.total_changed() == 0 and not again["writes"], (
        f"the run after the faulted first run changed {interrupted.changed()} and wrote "
        f"{[w if isinstance(w, list) else w['objectRef'] for w in again['writes']]} before the API server restart")
    rerun = again["rerun"]
    assert rerun["result"].rc == 0 and rerun["result"].total_changed() == 0, (
        rerun["result"].changed(), rerun["result"].failure_text())
    assert not aws_write_calls(rerun["calls"]), f"the faulted run left writes to do: {aws_write_calls(rerun['calls'])}"
    assert not rerun["k8s_writes"], f"the cluster still needed writes: {[e['objectRef'] for e in rerun['k8s_writes']]}"
    assert _shape(aws_snapshot()) == _shape(run["after"]) == run["shape"], \
        "the account made again under faults differs from the one made without"
    problems = duplicates()
    assert not problems, "duplicates or half-made objects after the faulted first run:\n" + "\n".join(problems)


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
    exact = {k: v for k, v in snap.items() if k.startswith(("iam:", "events:", "eks:")) and not k.startswith("eks:fargate/")}
    exact.update({k: dict(v, subnets=len(v["subnets"] or [])) for k, v in snap.items() if k.startswith("eks:fargate/")})
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


def test_moto_restart_mid_run_then_a_faulted_rerun_converges(runs):
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
    # The re-run is the faulted first run (the next tests read the same run): on a fresh account once more, the
    # one the restart made when the interrupted run wrote nothing to it after the restart (moto's call log starts
    # again with moto), else moto is restarted again.
    FAULTED.clear()
    if not aws_write_calls(labenv.aws_calls()):
        FRESH.add(True)
    run = faulted_first_run(runs, clean_shape)
    assert run["result"].rc == 0, f"the re-run under {run['injected']} AWS faults did not converge"
    _converged_again(runs, run)
    record("faults", f"moto restart during {name}",
           f"restart {took:.1f}s after {writes_before} AWS write(s); interrupted run rc={interrupted.rc} "
           f"{_first_line(interrupted)!r}; re-run under {run['injected']} AWS faults converged; the runs after it "
           f"(one interrupted by an API server restart, then one whole) changed=0, 0 AWS writes; no duplicates")


def test_first_run_survives_throttling_and_5xx_on_its_writes(runs):
    run = faulted_first_run(runs)
    result, injected, calls = run["result"], run["injected"], run["calls"]
    faulted = _injected(calls)
    faulted_writes = aws_write_calls(faulted)
    record("faults", "site.yml first run (fresh AWS account), AWS faults injected/survived",
           f"{injected}/{injected if result.rc == 0 else 0}, {len(faulted_writes)} of them on writes "
           f"({len({(c[0], c[1]) for c in faulted_writes})} write kinds)")
    assert result.rc == 0, f"site.yml did not survive {injected} injected AWS faults:\n{result.stdout[-3000:]}"
    assert injected > 0 and len(faulted) == injected, "the lab served every fault it was asked to inject"
    assert faulted_writes, "no create / tag / put call was faulted: the run had nothing to write"
    # A retry, not luck: every call kind that got a fault was made again afterwards, and AWS answered it.
    assert not _unretried(calls), f"failed by injection and never made again: {_unretried(calls)}"
    _converged_again(runs, run)


def test_apiserver_restart_mid_run_then_rerun_converges(runs):
    """The run after the faulted first run (converged_again), kube-apiserver restarted while it runs; then a whole
    run: it converges with nothing to change or write, no object duplicated, recreated or half-made."""
    name = _restart_target(runs)
    again = converged_again(runs)
    delay, took = again["delay"], again["took"]
    assert again["alive"], f"the run ended within {delay:.0f}s, before the restart (the check would prove nothing)"
    interrupted = _interrupted(again["box"], "an API server restart")
    assert interrupted.total_changed() == 0 and not again["writes"], "a run on the converged cluster wrote"
    rerun = again["rerun"]
    assert rerun["result"].rc == 0, rerun["result"].failure_text()
    assert rerun["result"].total_changed() == 0, rerun["result"].changed()
    assert not aws_write_calls(rerun["calls"]), f"the re-run wrote to AWS: {aws_write_calls(rerun['calls'])}"
    assert not rerun["k8s_writes"], f"the re-converged cluster still needed writes: {[e['objectRef'] for e in rerun['k8s_writes']]}"
    assert k8s_snapshot() == again["before"], "objects were duplicated, recreated or left half-made"
    problems = duplicates()
    assert not problems, "duplicates or half-made objects after the API server restart:\n" + "\n".join(problems)
    record("faults", f"API server restart during {name}",
           f"restart {took:.1f}s, {delay:.0f}s into the run after the faulted first run; interrupted run "
           f"rc={interrupted.rc} {_first_line(interrupted)!r}, changed=0, 0 writes; re-run converged (changed=0, "
           f"0 API writes, 0 AWS writes); no duplicates")
