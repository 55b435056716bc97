"""A second lab beside the shared one: stale directories are recovered, a taken port is refused
with what to do, `up` reuses a healthy lab, and `down` leaves no process and no port behind."""
from __future__ import annotations

import io
import json
import os

import pytest

from nodeless_lab import lab as lab_module
from nodeless_lab import procs

pytestmark = pytest.mark.lab


def test_taken_port_is_refused_with_what_to_do(lab, tmp_path):
    taken = lab["ports"]["api"]
    with pytest.raises(lab_module.LabError) as err:
        lab_module.up(tmp_path / "lab", out=io.StringIO(), ports={"api": taken}, build=False)
    assert f"api={taken}" in str(err.value) and "leave the port unset" in str(err.value)


def test_second_lab_recovers_stale_dir_coexists_and_leaves_nothing_behind(lab, tmp_path):
    second = tmp_path / "second"
    (second / "pids").mkdir(parents=True)
    (second / "pids" / "kube-apiserver.pid").write_text("999999")  # a process that is long gone
    (second / "state.json").write_text(json.dumps({"dir": str(second), "ports": {}, "aws_endpoint": "http://127.0.0.1:1",
                                                   "api_endpoint": "https://127.0.0.1:1", "pki": {}}))
    out = io.StringIO()
    state = lab_module.up(second, out=out, build=False)
    try:
        assert "stale or half-started" in out.getvalue()
        assert state["ports"]["api"] != lab["ports"]["api"]
        assert lab_module.healthy(state)[0] and lab_module.healthy(lab)[0]
        pids = procs.pids(second)
        again = io.StringIO()
        assert lab_module.up(second, out=again, build=False)["ports"] == state["ports"]
        assert "reusing the healthy lab" in again.getvalue()
    finally:
        lab_module.down(second, out=io.StringIO())
    assert not any(procs.alive(pid) for pid in pids.values())
    assert not [p for p in state["ports"].values() if procs.port_open(p)]
    assert sorted(os.listdir(second)) == ["logs"]
