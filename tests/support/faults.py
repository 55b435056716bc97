"""Disturbing a lab on purpose: AWS faults, moto and kube-apiserver restarts, a private lab to do it in.

Restarts lose or interrupt state, so they only ever target a lab started by `private_lab()`, never
the shared one. Fault rules are served by the lab's moto wrapper (tests/lab/nodeless_lab/aws_server.py).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
import urllib.request
from pathlib import Path

from nodeless_lab import kube, lab as _lab, procs, tools

from . import labenv


def _post(url: str, payload: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def inject(state: dict, rules: list[dict]) -> list[dict]:
    """Replace the fault rules: each {"service", "action", "count", "status"} fails its first `count` calls."""
    return _post(f"{state['aws_endpoint']}/_lab/faults", {"rules": rules})["rules"]


def rules(state: dict) -> list[dict]:
    """The current rules, each with `injected` = how many calls it failed so far."""
    with urllib.request.urlopen(f"{state['aws_endpoint']}/_lab/faults", timeout=5) as resp:  # noqa: S310
        return json.loads(resp.read())["rules"]


def clear(state: dict) -> None:
    inject(state, [])


def _stop(lab_dir: Path, name: str) -> None:
    """procs.stop (SIGTERM, SIGKILL after 15 s), then wait until its port is closed, so the restart can bind it."""
    procs.stop(lab_dir, name, timeout=15)
    port_wait = time.monotonic() + 10
    state = _lab.load_state(lab_dir) or {}
    port = {"aws": "aws", "kube-apiserver": "api"}[name]
    while procs.port_open(state["ports"][port]) and time.monotonic() < port_wait:
        time.sleep(0.1)


def restart_moto(state: dict) -> float:
    """Kill the lab's moto and start it again: it re-seeds, so everything written since `lab up` is gone."""
    lab_dir = Path(state["dir"])
    started = time.monotonic()
    _stop(lab_dir, "aws")
    (lab_dir / "aws.ready").unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(Path(_lab.__file__).resolve().parent.parent), PYTHONUNBUFFERED="1")
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(var, None)
    import sys

    pid = procs.start("aws", [sys.executable, "-m", "nodeless_lab.aws_server", str(lab_dir / "aws.json")], lab_dir, env)
    procs.wait_for("moto re-seeded", (lab_dir / "aws.ready").exists, 120, lab_dir / "logs" / "aws.log", pid)
    return time.monotonic() - started


def restart_apiserver(state: dict) -> float:
    """Kill kube-apiserver and start it again on the same port, etcd and PKI (objects survive in etcd)."""
    lab_dir = Path(state["dir"])
    started = time.monotonic()
    _stop(lab_dir, "kube-apiserver")
    pki = {k: Path(v) for k, v in state["pki"].items()}
    kube.start_apiserver(lab_dir, tools.binaries(), state["ports"], pki)
    return time.monotonic() - started


@contextlib.contextmanager
def private_lab(name: str = "reliability"):
    """A fresh lab of our own, next to the one NODELESS_LAB_DIR names, that every labenv helper targets meanwhile.

    support.labenv.state is swapped, so snapshots, call counts, audit offsets and playbook runs all
    address the private lab; the shared lab is never restarted or faulted."""
    base = _lab.default_dir()
    lab_dir = Path(os.environ.get("NODELESS_RELIABILITY_LAB_DIR") or base.parent / f"{base.name}-{name}")
    out = io.StringIO()
    if lab_dir.exists():  # always a fresh lab: the checks need a bare cluster, and a left-over lab may be faulted
        _lab.down(lab_dir, out=out, quiet=True)
    try:
        state = _lab.up(lab_dir, out=out, build=False)
    except Exception as exc:
        raise RuntimeError(f"{exc}\n{out.getvalue()}") from exc
    original = labenv.state
    labenv.state = lambda: state
    try:
        yield state
    finally:
        labenv.state = original
        _lab.down(lab_dir, out=out, quiet=True)
