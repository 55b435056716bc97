"""Start, describe and stop one lab. A lab is a directory holding its state, PKI, data and logs."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

from . import bootstrap, kube, pki, procs, tools

REGION = "us-west-2"
CLUSTER = "lab"
PORT_NAMES = ("aws", "etcd", "etcd_peer", "api", "kcm", "scheduler", "kwok", "kwok_node")
START_ATTEMPTS = 3
PROCESS_NAMES = ("aws", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
REPO = Path(__file__).resolve().parents[3]


class LabError(RuntimeError):
    pass


def default_dir(name: str = "default") -> Path:
    return Path(os.environ.get("NODELESS_LAB_DIR") or REPO / ".lab" / name)


def tmp_dir(lab: Path) -> Path:
    """TMPDIR for the lab's Python server and for the playbook runs tests make against it (tests/support/labenv.py):
    the Kubernetes client's copies of certificates and keys, and kubernetes.core's discovery cache, stay with the
    lab that made them and go with `down` (it empties the lab's folder but logs/)."""
    return lab / "tmp"


def discovery_cache(lab: Path) -> Path:
    """Where the lab's own kubernetes dynamic clients (the lab's bootstrap, tests, benchmarks) cache API discovery."""
    return tmp_dir(lab) / "discovery.json"


def dynamic_client(state: dict):
    """A kubernetes DynamicClient for the lab's admin kubeconfig, its discovery cache in the lab's folder."""
    return bootstrap.api(Path(state["kubeconfig"]), discovery_cache(Path(state["dir"])))


# AF_UNIX socket paths stop at 107 bytes; Mitogen puts its mux socket (mitogen_unix_XXXXXXXX.sock) in TMPDIR.
_SOCKET_PATH_MAX = 107 - len("/mitogen_unix_XXXXXXXX.sock")


def scratch_env(lab: Path) -> dict[str, str]:
    """{TMPDIR: tmp_dir(LAB)} for a process that runs playbooks against the lab (created), or {} when that path is
    too long for Mitogen's socket. What lands there outlives the run: kubernetes.core caches the API server's
    discovery in a file named after the server's URL alone, which a later lab given the same port would read as its
    own, and the Kubernetes client writes the admin kubeconfig's certificate and private key to temporary files that
    a Mitogen interpreter exits without removing. `down` removes them with the rest of the lab's state."""
    path = tmp_dir(lab)
    if len(str(path)) > _SOCKET_PATH_MAX:
        return {}
    path.mkdir(parents=True, exist_ok=True)
    return {"TMPDIR": str(path)}


def load_state(lab: Path) -> dict | None:
    try:
        return json.loads((lab / "state.json").read_text())
    except (OSError, ValueError):
        return None


def healthy(state: dict) -> tuple[bool, str]:
    lab = Path(state["dir"])
    running = procs.pids(lab)
    dead = [n for n in PROCESS_NAMES if not procs.alive(running.get(n, -1))]
    if dead:
        return False, f"not running: {', '.join(dead)}"
    try:
        urllib.request.urlopen(f"{state['aws_endpoint']}/_lab/health", timeout=3).read()  # noqa: S310
        ctx = kube.ssl_context({k: Path(v) for k, v in state["pki"].items()})
        if kube.get(f"{state['api_endpoint']}/readyz", ctx) != b"ok":
            return False, "kube-apiserver not ready"
    except OSError as exc:
        return False, f"not answering: {exc}"
    return True, "healthy"


def _check_ports(requested: dict) -> None:
    taken = {n: p for n, p in requested.items() if procs.port_open(p)}
    if taken:
        desc = ", ".join(f"{n}={p}" for n, p in taken.items())
        raise LabError(f"port(s) already in use: {desc}. Stop whatever listens there (`ss -ltnp`), "
                       "or leave the port unset so the lab picks a free one.")


def choose_ports(requested: dict) -> dict:
    """The requested ports, and distinct free ones for the rest."""
    free = iter(procs.free_ports(len(PORT_NAMES)))
    return {name: requested.get(name) or next(free) for name in PORT_NAMES}


def up(lab: Path, out=sys.stdout, ports: dict | None = None, build: bool = True) -> dict:
    state = load_state(lab)
    if state:
        ok, why = healthy(state)
        if ok:
            print(f"[lab] reusing the healthy lab in {lab}", file=out, flush=True)
            return state
        print(f"[lab] found a stale or half-started lab in {lab} ({why}); cleaning it up", file=out, flush=True)
    if lab.exists():
        down(lab, out, quiet=True)
    started = time.monotonic()
    bins = tools.ensure_all(out) if build else tools.binaries()
    requested = dict(ports or {})
    _check_ports(requested)
    lab.mkdir(parents=True, exist_ok=True)
    (lab / "logs").mkdir(exist_ok=True)

    def start() -> dict:
        for old in (lab / "logs").glob("*.log"):
            old.unlink()
        return _start(lab, bins, choose_ports(requested), out)

    def retrying(exc: Exception) -> None:
        why = next(line for line in str(exc).splitlines() if procs.port_taken(line))
        print(f"[lab] a port the lab chose was taken before it bound it; starting again on other ports ({why.strip()})",
              file=out, flush=True)

    try:  # a failed start is cleaned up as `down` does (its logs kept), so no file of it (aws.ready) fools the next
        state = procs.retry_taken_ports(start, lambda: down(lab, out, quiet=True), note=retrying,
                                        attempts=START_ATTEMPTS if len(requested) < len(PORT_NAMES) else 1)
    except Exception as exc:
        raise LabError(f"lab did not start: {exc}\nLogs: {lab / 'logs'}. Run `lab down` then `lab up` to retry.") from exc
    state["up_seconds"] = round(time.monotonic() - started, 1)
    (lab / "state.json").write_text(json.dumps(state, indent=2))
    print(f"[lab] up in {state['up_seconds']}s", file=out, flush=True)
    return state


def _start(lab: Path, bins: dict, ports: dict, out) -> dict:
    paths = pki.generate(lab / "pki")
    api = f"https://127.0.0.1:{ports['api']}"
    aws = f"http://127.0.0.1:{ports['aws']}"
    admin = lab / "admin.kubeconfig"
    kube.kubeconfig(admin, api, paths["ca"], paths["admin"], paths["admin_key"], "lab-admin")
    bindir = lab / "bin"
    bindir.mkdir(exist_ok=True)
    for name in ("helm", "istioctl"):
        link = bindir / name
        link.unlink(missing_ok=True)
        link.symlink_to(bins[name])

    print(f"[lab] starting moto on {aws} and seeding the account", file=out, flush=True)
    aws_cfg = {"port": ports["aws"], "region": REGION, "cluster_name": CLUSTER, "kube_version": tools.KUBE_VERSION,
               "endpoint": api, "issuer": api, "ca_file": str(paths["ca"]), "ready_file": str(lab / "aws.ready"),
               "node_kubeconfig": str(lab / "kwok.kubeconfig")}
    (lab / "aws.json").write_text(json.dumps(aws_cfg))
    tmp_dir(lab).mkdir(exist_ok=True)  # the server is killed at `down`: its kube clients' temporary files stay
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent), PYTHONUNBUFFERED="1",
               TMPDIR=str(tmp_dir(lab)))
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(var, None)
    aws_pid = procs.start("aws", [sys.executable, "-m", "nodeless_lab.aws_server", str(lab / "aws.json")], lab, env)
    print("[lab] starting etcd", file=out, flush=True)
    kube.start_etcd(lab, bins, ports)
    print("[lab] starting kube-apiserver (waiting for /readyz)", file=out, flush=True)
    kube.start_apiserver(lab, bins, ports, paths)
    print("[lab] starting kube-controller-manager and kube-scheduler", file=out, flush=True)
    kube.start_controllers(lab, bins, ports, paths)
    print("[lab] starting kwok (fake kubelets)", file=out, flush=True)
    kube.start_kwok(lab, bins, ports, paths)
    procs.wait_for("moto seeded", (lab / "aws.ready").exists, 120, lab / "logs" / "aws.log", aws_pid)
    print("[lab] creating nodes, CoreDNS, aws-node and Karpenter CRDs; waiting for them to be Ready",
          file=out, flush=True)
    bootstrap.bootstrap(lab, bins, REGION, tools.KUBE_VERSION, out, discovery_cache(lab),
                        restart_kwok=lambda between: kube.restart_kwok(lab, bins, ports, paths, between))
    return {
        "dir": str(lab), "ports": ports, "region": REGION, "cluster_name": CLUSTER,
        "kube_version": tools.KUBE_VERSION, "aws_endpoint": aws, "api_endpoint": api, "issuer": api,
        "kubeconfig": str(admin), "bin": str(bindir), "pki": {k: str(v) for k, v in paths.items()},
        "charts": {"karpenter": str(tools.chart_dir("karpenter", "karpenter")),
                   # the previous minor's chart (tools.KARPENTER_PREVIOUS_VERSION), for upgrades to the role's version
                   "karpenter_previous": str(tools.chart_dir("karpenterprev", "karpenter"))},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def down(lab: Path, out=sys.stdout, quiet: bool = False) -> None:
    state = load_state(lab) or {}
    stopped = procs.stop_all(lab)
    ports = list((state.get("ports") or {}).values())
    deadline = time.monotonic() + 10  # sockets close a moment after the process is gone
    while (busy := [p for p in ports if procs.port_open(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    for item in lab.iterdir() if lab.exists() else ():
        if item.name == "logs":
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)
    if busy:
        raise LabError(f"lab stopped, but port(s) {busy} are still in use by another process")
    if not quiet:
        print(f"[lab] down: stopped {', '.join(stopped) or 'nothing (no process was running)'}; "
              f"logs kept in {lab / 'logs'}", file=out, flush=True)


def env(state: dict) -> dict[str, str]:
    """What a playbook needs to run against this lab, and nothing else."""
    return {
        "AWS_ENDPOINT_URL": state["aws_endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": state["region"],
        "AWS_DEFAULT_REGION": state["region"],
        "NODELESS_EKS_CLUSTER_NAME": state["cluster_name"],
        "NODELESS_EKS_REGION": state["region"],
        "K8S_AUTH_KUBECONFIG": state["kubeconfig"],
        "KUBECONFIG": state["kubeconfig"],
        "PATH": f"{state['bin']}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }


def calls(state: dict, reset: bool = False) -> list[list]:
    """The AWS calls moto served since the last reset: [service, action, http status]."""
    if reset:
        req = urllib.request.Request(f"{state['aws_endpoint']}/_lab/calls/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=5).read()  # noqa: S310 - loopback
        return []
    return json.loads(urllib.request.urlopen(f"{state['aws_endpoint']}/_lab/calls", timeout=5).read())["calls"]  # noqa: S310


def k8s_writes(state: dict, since: int = 0) -> tuple[int, list[dict]]:
    """Writes to the API server by anyone but the lab's own machinery, from the audit log.

    Returns (offset to pass next time, the audit events after `since`)."""
    path = Path(state["dir"]) / "logs" / "audit.log"
    if not path.exists():
        return 0, []
    with path.open("rb") as log:
        log.seek(since)
        data = log.read()
    events = [json.loads(line) for line in data.splitlines() if line.strip()]
    # Server-side dry runs (check mode) are requests, not writes.
    return since + len(data), [e for e in events if e.get("stage") == "ResponseComplete"
                               and "dryRun=All" not in e.get("requestURI", "")]


def summary(state: dict) -> str:
    from kubernetes import client, config

    ok, why = healthy(state)
    lines = [f"lab {state['dir']}: {why}",
             f"  cluster {state['cluster_name']} ({state['region']}), Kubernetes {state['kube_version']}",
             f"  AWS (moto)      {state['aws_endpoint']}",
             f"  API server      {state['api_endpoint']} (OIDC issuer {state['issuer']})",
             f"  kubeconfig      {state['kubeconfig']}"]
    running = procs.pids(Path(state["dir"]))
    lines.append("  processes       " + ", ".join(
        f"{n}:{running.get(n)}{'' if procs.alive(running.get(n, -1)) else '(dead)'}" for n in PROCESS_NAMES))
    if ok:
        api = client.ApiClient(config.load_kube_config(state["kubeconfig"]) or None)
        core = client.CoreV1Api(api)
        nodes = core.list_node().items
        ready = sum(1 for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or []))
        pods = core.list_pod_for_all_namespaces().items
        running_pods = sum(1 for p in pods if p.status.phase == "Running")
        namespaces = len(core.list_namespace().items)
        lines.append(f"  nodes           {ready}/{len(nodes)} Ready (kwok)")
        lines.append(f"  pods            {running_pods}/{len(pods)} Running in {namespaces} namespaces")
        lines.append(f"  AWS calls       {len(calls(state))} since the last reset")
    return "\n".join(lines)
