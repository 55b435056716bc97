"""support.labenv.scratch: the TMPDIR tests give ansible-playbook lies inside the lab's folder (the integration side,
kubernetes.core's discovery cache landing there, is checked in test_cluster_health.py); the benchmarks' runs get the
same."""
from __future__ import annotations

import importlib
import sys

from support import labenv


def _lab_at(monkeypatch, path):
    monkeypatch.setattr(labenv, "state", lambda: {"dir": str(path)})
    monkeypatch.setattr(labenv._lab, "env", lambda _state: {"NODELESS_EKS_CLUSTER_NAME": "lab"})


def test_playbook_runs_get_a_tmpdir_inside_the_lab(monkeypatch, tmp_path):
    _lab_at(monkeypatch, tmp_path / "lab")
    (tmp_path / "lab").mkdir()
    monkeypatch.setenv("TMPDIR", "/tmp")
    env = labenv.run_env({"PY_COLORS": "0"})
    assert env["TMPDIR"] == str(tmp_path / "lab" / "tmp") and (tmp_path / "lab" / "tmp").is_dir()
    assert env["PY_COLORS"] == "0" and env["NODELESS_EKS_CLUSTER_NAME"] == "lab"
    assert labenv.env()["TMPDIR"] == "/tmp"  # pytest's own environment (env()) keeps the caller's


def test_no_tmpdir_where_mitogens_socket_path_would_be_too_long(monkeypatch, tmp_path):
    lab = tmp_path / ("x" * 100)
    _lab_at(monkeypatch, lab)
    monkeypatch.setenv("TMPDIR", "/tmp")
    assert labenv.scratch() == {}
    assert labenv.run_env()["TMPDIR"] == "/tmp"
    assert not (lab / "tmp").exists()


def test_benchmarks_runs_get_the_same_tmpdir(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(labenv.REPO / "benchmarks"))
    common = importlib.import_module("_common")
    monkeypatch.setattr(common._lab, "env", lambda _state: {"NODELESS_EKS_CLUSTER_NAME": "lab"})
    env = common.playbook_env({"dir": str(tmp_path / "lab")})
    assert env == {"NODELESS_EKS_CLUSTER_NAME": "lab", "TMPDIR": str(tmp_path / "lab" / "tmp")}
    assert (tmp_path / "lab" / "tmp").is_dir()
    sys.modules.pop("_common", None)
