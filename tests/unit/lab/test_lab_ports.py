"""How the lab chooses its ports (nodeless_lab/procs.py, lab.py): distinct ports in one choice, and a start that
lost a port to another process is made again on new ports, not reported as a broken lab. A CI run once failed
because moto and kube-scheduler were handed the same port."""
from __future__ import annotations

import io
import socket

import pytest

from nodeless_lab import lab, procs

TAKEN = RuntimeError("kube-scheduler /healthz: the process exited.\nLast lines of kube-scheduler.log:\n"
                     'E1206 run.go:72] "command failed" err="failed to listen on 127.0.0.1:45737: bind: address already in use"')


def test_one_choice_never_repeats_a_port_and_every_port_can_be_bound():
    ports = procs.free_ports(200)
    assert len(set(ports)) == 200
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_lab_choice_keeps_requested_ports_and_fills_the_rest_with_distinct_ones():
    chosen = lab.choose_ports({"api": 6443})
    assert chosen["api"] == 6443
    assert set(chosen) == set(lab.PORT_NAMES)
    assert len(set(chosen.values())) == len(lab.PORT_NAMES)


def test_a_start_that_lost_a_port_is_cleaned_up_and_made_again():
    calls, cleanups, notes = [], [], []

    def start():
        calls.append(1)
        if len(calls) == 1:
            raise TAKEN
        return "started"

    assert procs.retry_taken_ports(start, lambda: cleanups.append(1), note=notes.append) == "started"
    assert (len(calls), len(cleanups), notes) == (2, 1, [TAKEN])


@pytest.mark.parametrize(("error", "attempts", "expected_calls"), [
    (RuntimeError("etcd: not ready after 60s."), 3, 1),  # any other failure is reported at once
    (TAKEN, 3, 3),                                     # a port lost every time is reported after the last attempt
    (TAKEN, 1, 1),                                     # every port was requested: choosing again cannot help
])
def test_other_failures_and_the_last_attempt_are_reported_after_cleanup(error, attempts, expected_calls):
    calls, cleanups = [], []

    def start():
        calls.append(1)
        raise error

    with pytest.raises(RuntimeError) as raised:
        procs.retry_taken_ports(start, lambda: cleanups.append(1), attempts=attempts)
    assert raised.value is error
    assert len(calls) == len(cleanups) == expected_calls


def test_the_lab_starts_again_when_a_chosen_port_was_taken(tmp_path, monkeypatch):
    attempts, leftovers = [], []

    def fake_start(lab_dir, bins, ports, out):
        attempts.append(ports)
        leftovers.append((lab_dir / "aws.ready").exists())
        (lab_dir / "aws.ready").write_text("ready\n")  # the first attempt's moto got as far as seeding
        if len(attempts) == 1:
            raise TAKEN
        return {"dir": str(lab_dir), "ports": ports}

    monkeypatch.setattr(lab, "_start", fake_start)
    monkeypatch.setattr(lab.tools, "binaries", dict)
    out = io.StringIO()
    state = lab.up(tmp_path / "lab", out=out, build=False)
    assert len(attempts) == 2 and state["ports"] == attempts[1]
    assert leftovers == [False, False]  # nothing of the failed start fools the next one
    assert "starting again on other ports" in out.getvalue()
    assert (tmp_path / "lab" / "state.json").exists()
