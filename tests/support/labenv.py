"""The lab as tests see it: started once per session (or reused), described by `lab env`."""
from __future__ import annotations

import functools
import io
import os
import subprocess
from pathlib import Path

from nodeless_lab import lab as _lab

from . import toolchain

REPO = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def state() -> dict:
    """The default lab's state; starts it if needed (tools must be built: `make tools`)."""
    out = io.StringIO()
    try:
        return _lab.up(_lab.default_dir(), out=out, build=False)
    except Exception as exc:  # surface the lab's own progress lines with the failure
        raise RuntimeError(f"{exc}\n{out.getvalue()}") from exc


def env(extra: dict | None = None) -> dict:
    """The process environment for ansible-playbook against the lab."""
    values = dict(os.environ)
    values.update(_lab.env(state()))
    values.update({
        "ANSIBLE_COLLECTIONS_PATH": toolchain.COLLECTIONS,
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_CONFIG": str(REPO / "tests" / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    })
    values.update(extra or {})
    return values


def scratch() -> dict:
    """TMPDIR inside the lab's folder for the ansible-playbook runs tests make (lab.scratch_env says why)."""
    return _lab.scratch_env(Path(state()["dir"]))


def run_env(extra: dict | None = None) -> dict:
    """env() for a process that runs playbooks against the lab (ansible-playbook, molecule): with scratch()."""
    return env({**scratch(), **(extra or {})})


def helm(*args: str, check: bool = True) -> str:
    """helm ARGS against the lab (its admin kubeconfig is in env()); its output. CHECK: fail on a non-zero exit."""
    return subprocess.run(["helm", *args], env=env(), capture_output=True, text=True, check=check).stdout


def aws_calls(reset: bool = False) -> list[list]:
    return _lab.calls(state(), reset=reset)


def k8s_writes(since: int = 0) -> tuple[int, list[dict]]:
    return _lab.k8s_writes(state(), since)


def boto3_client(service: str):
    import boto3

    st = state()
    return boto3.client(service, endpoint_url=st["aws_endpoint"], region_name=st["region"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def discovery_cache() -> Path:
    return _lab.discovery_cache(Path(state()["dir"]))


def dynamic_client():
    """A kubernetes DynamicClient (cluster-admin) that keeps its discovery cache in the lab's folder, not in /tmp."""
    return _lab.dynamic_client(state())


def k8s_client():
    """An ApiClient for the admin kubeconfig (cluster-admin)."""
    from kubernetes import config

    return config.new_client_from_config(state()["kubeconfig"])
