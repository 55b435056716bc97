"""The lab's Kubernetes: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.

Everything is real upstream code built from pinned modules; only the kubelets are kwok's fakes.
"""
from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path

import yaml

from . import iam_authn, procs

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.0.192.0/18"  # outside the seeded subnets


def kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> None:
    import base64

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": user}}],
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)


def ssl_context(pki: dict) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.load_cert_chain(str(pki["admin"]), str(pki["admin_key"]))
    return ctx


def get(url: str, ctx: ssl.SSLContext | None = None, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return resp.read()


def start_etcd(lab: Path, bins: dict, ports: dict) -> int:
    client = f"http://127.0.0.1:{ports['etcd']}"
    peer = f"http://127.0.0.1:{ports['etcd_peer']}"
    pid = procs.start("etcd", [
        str(bins["etcd"]), "--name=lab", f"--data-dir={lab / 'etcd'}",
        f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=lab={peer}", "--unsafe-no-fsync=true", "--log-level=warn",
        f"--quota-backend-bytes={8 * 1024 ** 3}",
        # One member, no peer to heartbeat: raft ticks twice a second instead of ten times (idle CPU, docs/lab.md);
        # its first election waits for the timeout, so a longer one delays every lab start (2500 ms: about 1.2 s).
        "--heartbeat-interval=500", "--election-timeout=2500",
    ], lab)
    procs.wait_for("etcd", lambda: json.loads(get(f"{client}/health"))["health"] == "true", 60,
                   lab / "logs" / "etcd.log", pid)
    return pid


# Writes by people and playbooks, not by the lab's own machinery: what tests count as "write calls".
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "users": ["kwok", "eks:addon-manager", "system:kube-controller-manager", "system:kube-scheduler",
                                    "system:apiserver"]},
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system", "system:nodes"]},
        {"level": "None", "verbs": ["get", "list", "watch"]},
        {"level": "None", "resources": [{"group": "authorization.k8s.io"}, {"group": "authentication.k8s.io"}]},
        {"level": "Metadata"},
    ],
}


def start_apiserver(lab: Path, bins: dict, ports: dict, pki: dict) -> int:
    api = ports["api"]
    (lab / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
    iam_authn.webhook_kubeconfig(lab / "iam-authn-webhook.kubeconfig", ports["aws"])
    issuer = f"https://127.0.0.1:{api}"
    pid = procs.start("kube-apiserver", [
        str(bins["kube-apiserver"]),
        f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api}",
        f"--cert-dir={lab / 'pki'}",
        f"--tls-cert-file={pki['apiserver']}", f"--tls-private-key-file={pki['apiserver_key']}",
        f"--client-ca-file={pki['ca']}",
        f"--service-account-issuer={issuer}",
        f"--service-account-key-file={pki['sa_pub']}",
        f"--service-account-signing-key-file={pki['sa_key']}",
        "--authorization-mode=Node,RBAC", "--anonymous-auth=true",
        # IAM tokens (k8s-aws-v1.), after client certificates and service-account tokens: iam_authn.py. The webhook's
        # cache is off, so new tokens follow access entries and the mode (all token authenticators keep a success 10 s).
        f"--authentication-token-webhook-config-file={lab / 'iam-authn-webhook.kubeconfig'}",
        "--authentication-token-webhook-version=v1", "--authentication-token-webhook-cache-ttl=0s",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
        "--profiling=false", "--v=1",
        # The `kubernetes` Service's Endpoints cannot hold a loopback address (422 every 10 s otherwise); nothing reads
        # them: clients use the kubeconfigs' server URL (idle CPU, docs/lab.md).
        "--endpoint-reconciler-type=none",
        f"--audit-policy-file={lab / 'audit-policy.yaml'}", f"--audit-log-path={lab / 'logs' / 'audit.log'}",
        "--audit-log-format=json", "--audit-log-mode=blocking",
    ], lab)
    ctx = ssl_context(pki)
    procs.wait_for("kube-apiserver /readyz", lambda: get(f"{issuer}/readyz", ctx) == b"ok", 120,
                   lab / "logs" / "kube-apiserver.log", pid)
    return pid


def start_controllers(lab: Path, bins: dict, ports: dict, pki: dict) -> dict[str, int]:
    kcm_cfg, sched_cfg = lab / "controller-manager.kubeconfig", lab / "scheduler.kubeconfig"
    server = f"https://127.0.0.1:{ports['api']}"
    kubeconfig(kcm_cfg, server, pki["ca"], pki["controller-manager"], pki["controller-manager_key"],
               "system:kube-controller-manager")
    kubeconfig(sched_cfg, server, pki["ca"], pki["scheduler"], pki["scheduler_key"], "system:kube-scheduler")
    pids = {
        "kube-controller-manager": procs.start("kube-controller-manager", [
            str(bins["kube-controller-manager"]), f"--kubeconfig={kcm_cfg}",
            f"--authentication-kubeconfig={kcm_cfg}", f"--authorization-kubeconfig={kcm_cfg}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['kcm']}", "--leader-elect=false",
            f"--service-account-private-key-file={pki['sa_key']}", f"--root-ca-file={pki['ca']}",
            f"--cluster-signing-cert-file={pki['ca']}", f"--cluster-signing-key-file={pki['ca_key']}",
            "--use-service-account-credentials=true", f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Every default controller but those of kinds nothing in the lab creates or reads the work of (HPAs, CronJobs,
            # ResourceQuotas): they poll, and resourcequota re-reads API discovery every 30 s (idle CPU, docs/lab.md).
            "--controllers=*,-horizontal-pod-autoscaler-controller,-cronjob-controller,-resourcequota-controller",
            "--v=1",
            # kwok renews the fake nodes' leases; on a starved 2-core CI machine a late renewal must not
            # mark nodes NotReady and have their pods evicted in the middle of a test.
            "--node-monitor-grace-period=10m",
        ], lab),
        "kube-scheduler": procs.start("kube-scheduler", [
            str(bins["kube-scheduler"]), f"--kubeconfig={sched_cfg}",
            f"--authentication-kubeconfig={sched_cfg}", f"--authorization-kubeconfig={sched_cfg}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['scheduler']}", "--leader-elect=false", "--v=1",
        ], lab),
    }
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # their self-signed serving certs; loopback health only
    for name, port in (("kube-controller-manager", ports["kcm"]), ("kube-scheduler", ports["scheduler"])):
        procs.wait_for(f"{name} /healthz", lambda p=port: get(f"https://127.0.0.1:{p}/healthz", insecure) == b"ok",
                       60, lab / "logs" / f"{name}.log", pids[name])
    return pids


def start_kwok(lab: Path, bins: dict, ports: dict, pki: dict) -> int:
    kwok_cfg = lab / "kwok.kubeconfig"
    kubeconfig(kwok_cfg, f"https://127.0.0.1:{ports['api']}", pki["ca"], pki["kwok"], pki["kwok_key"], "kwok")
    pid = procs.start("kwok", [
        str(bins["kwok"]), f"--kubeconfig={kwok_cfg}",
        "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={POD_CIDR}", "--node-ip=10.0.64.250", f"--node-port={ports['kwok_node']}",
        f"--server-address=127.0.0.1:{ports['kwok']}",
        # Leases renewed every 60 s (a quarter of the duration) instead of every 10 s; the node lifecycle controller's
        # grace period (10 min) stays far above it (idle CPU, docs/lab.md).
        "--node-lease-duration-seconds=240",
    ], lab, env={"HOME": str(lab), "PATH": "/usr/bin:/bin"})
    procs.wait_for("kwok", lambda: procs.port_open(ports["kwok"]), 60, lab / "logs" / "kwok.log", pid)
    return pid


def restart_kwok(lab: Path, bins: dict, ports: dict, pki: dict, between) -> int:
    """Stop kwok, call between() (the lab clears the node leases there), start it again."""
    procs.stop(lab, "kwok")
    between()
    return start_kwok(lab, bins, ports, pki)
