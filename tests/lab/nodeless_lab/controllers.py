"""Upstream controllers run by the lab as host processes, configured by what a role installed.

kwok runs no container, so a controller the roles deploy only looks Available. For Karpenter the lab
runs the real binary (the ``karpenter`` tool, built from the pinned provider module) on the host, with
the settings the chart rendered into its Deployment from the role's values: the container's
environment (CLUSTER_NAME, CLUSTER_ENDPOINT, INTERRUPTION_QUEUE, ISOLATED_VPC, ...), the Deployment's
ServiceAccount (a TokenRequest token for it, so the chart's RBAC is what the controller gets) and that
ServiceAccount's IRSA role (the token file and role ARN EKS's pod identity webhook would inject). A
wrong value in the role breaks the controller the way it would in a cluster. What differs from a pod,
and why: one process without leader election (the chart's replicas elect a leader; the lab runs one),
loopback ports for metrics and health (several labs share the host), and the AWS endpoint is moto.
"""
from __future__ import annotations

import math
import os
import time
import urllib.request
from pathlib import Path

import yaml

from . import procs, tools

KARPENTER = "karpenter"
TOKEN_SECONDS = 24 * 3600


def _clients(state: dict):
    from kubernetes import client, config  # noqa: PLC0415

    api = config.new_client_from_config(state["kubeconfig"])
    return client.AppsV1Api(api), client.CoreV1Api(api), client


def _quantity(value: str, divisor: str) -> str | None:
    """A resourceFieldRef's value, as the kubelet computes it (cpu in millicores with divisor 1m; bytes)."""
    from kubernetes.utils import parse_quantity  # noqa: PLC0415

    if value is None:
        return None
    by = parse_quantity(divisor or "1") or 1  # a divisor of 0 (the chart's for memory) means 1, as in Kubernetes
    return str(math.ceil(parse_quantity(value) / by))  # the kubelet rounds up


def deployment_env(container, namespace: str) -> dict[str, str]:
    """The container's environment as the kubelet would give it (fieldRef namespace; resourceFieldRef from
    the container's own requests and limits; a resource the container does not set is left to the
    controller's default, where a kubelet would put the node's allocatable)."""
    env = {}
    resources = container.resources
    for item in container.env or []:
        if item.value is not None:
            env[item.name] = item.value
        elif item.value_from and item.value_from.field_ref and item.value_from.field_ref.field_path == "metadata.namespace":
            env[item.name] = namespace
        elif item.value_from and item.value_from.resource_field_ref:
            ref = item.value_from.resource_field_ref
            kind, resource = ref.resource.split(".", 1)
            source = (getattr(resources, kind, None) or {}) if resources else {}
            value = _quantity(source.get(resource), ref.divisor)
            if value is not None:
                env[item.name] = value
    return env


def _token(core, client, namespace: str, account: str, audience: str | None) -> str:
    spec = client.V1TokenRequestSpec(audiences=[audience] if audience else [], expiration_seconds=TOKEN_SECONDS)
    return core.create_namespaced_service_account_token(account, namespace, client.AuthenticationV1TokenRequest(spec=spec)).status.token


def karpenter_env(state: dict, namespace: str = KARPENTER, deployment: str = KARPENTER) -> dict[str, str]:
    """Everything the controller process gets: the Deployment's settings, its identity, the lab's AWS."""
    apps, core, client = _clients(state)
    dep = apps.read_namespaced_deployment(deployment, namespace)
    pod = dep.spec.template.spec
    env = deployment_env(pod.containers[0], namespace)
    lab = Path(state["dir"])
    home = lab / "controllers" / KARPENTER
    home.mkdir(parents=True, exist_ok=True)
    account = pod.service_account_name or "default"
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": state["api_endpoint"], "certificate-authority": state["pki"]["ca"]}}],
        "users": [{"name": account, "user": {"token": _token(core, client, namespace, account, None)}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": account, "namespace": namespace}}],
    }
    (home / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    (home / "kubeconfig").chmod(0o600)
    aws = {"AWS_ENDPOINT_URL": state["aws_endpoint"], "AWS_REGION": state["region"], "AWS_DEFAULT_REGION": state["region"],
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    role_arn = (core.read_namespaced_service_account(account, namespace).metadata.annotations or {}).get("eks.amazonaws.com/role-arn")
    if role_arn:  # what EKS's pod identity webhook injects for an IRSA-annotated ServiceAccount
        token_file = home / "token"
        token_file.write_text(_token(core, client, namespace, account, "sts.amazonaws.com"))
        token_file.chmod(0o600)
        aws.update(AWS_ROLE_ARN=role_arn, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_STS_REGIONAL_ENDPOINTS="regional",
                   AWS_ENDPOINT_URL_STS=state["aws_endpoint"])
    metrics, health = procs.free_ports(2)
    return {
        **env, **aws,
        "KUBECONFIG": str(home / "kubeconfig"), "HOME": str(home), "PATH": "/usr/bin:/bin",
        "DISABLE_LEADER_ELECTION": "true",
        "METRICS_PORT": str(metrics), "HEALTH_PROBE_PORT": str(health),
    }


def start_karpenter(state: dict, namespace: str = KARPENTER, deployment: str = KARPENTER, timeout: float = 90,
                    binary: str = "karpenter") -> int:
    """Start (or restart) the controller with the Deployment's settings; wait until it answers /readyz.
    ``binary``: ``karpenter`` (tools.KARPENTER_VERSION) or ``karpenter-previous`` (the previous minor,
    tools.KARPENTER_PREVIOUS_VERSION, for upgrades). Logs go to logs/karpenter.log, whichever version runs;
    `lab down` stops it with the rest of the lab."""
    lab = Path(state["dir"])
    stop_karpenter(state)

    def start() -> int:
        env = karpenter_env(state, namespace, deployment)  # chooses its metrics and health ports
        pid = procs.start(KARPENTER, [str(tools.binaries()[binary])], lab, env)
        health = f"http://127.0.0.1:{env['HEALTH_PROBE_PORT']}/readyz"
        procs.wait_for("karpenter /readyz", lambda: urllib.request.urlopen(health, timeout=2).status == 200,  # noqa: S310
                       timeout, lab / "logs" / f"{KARPENTER}.log", pid)
        return pid

    return procs.retry_taken_ports(start, lambda: procs.stop(lab, KARPENTER))


# Karpenter long-polls its interruption queue (ReceiveMessage, WaitTimeSeconds 20): a poll moto is still
# holding when the controller stops is answered, and logged, up to 20 s later.
LONG_POLL_SECONDS = 20


def stop_karpenter(state: dict) -> bool:
    """Stop the controller; return once no call of it can still reach the lab's call log (so a test that counts
    AWS calls next does not see its last long poll)."""
    from . import lab  # noqa: PLC0415 - lab imports tools, as this module does

    before = len(lab.calls(state))
    stopped = procs.stop(Path(state["dir"]), KARPENTER)
    deadline = time.monotonic() + LONG_POLL_SECONDS + 2
    while stopped and time.monotonic() < deadline:
        if any(c[1] == "ReceiveMessage" for c in lab.calls(state)[before:]):
            break
        time.sleep(0.5)
    return stopped


def running(state: dict, name: str = KARPENTER) -> bool:
    pid = procs.pids(Path(state["dir"])).get(name)
    return pid is not None and procs.alive(pid)


def cpu_seconds(state: dict, name: str = KARPENTER) -> float | None:
    """User + system CPU seconds of a running controller process (it runs detached: no test's rusage counts it)."""
    pid = procs.pids(Path(state["dir"])).get(name)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ExternalDNS: the upstream binary (the ``externaldns`` tool, the version the external_dns role deploys) run with the
# args of the Deployment the role wrote, as its ServiceAccount, with that account's IRSA role, against moto's Route 53.
# What differs from a pod, and why: the API server is reached through a kubeconfig holding the account's token
# (--kubeconfig; a pod reads the same token in-cluster) and metrics / health listen on a free loopback port
# (--metrics-address; several labs share the host); a value the Deployment gives for either flag is replaced.
EXTERNAL_DNS = "external-dns"
EXTERNAL_DNS_HOST_FLAGS = ("--kubeconfig", "--metrics-address")
EXTERNAL_DNS_SYNC_METRIC = "external_dns_controller_last_sync_timestamp_seconds"


def host_identity(state: dict, namespace: str, account: str, home: Path) -> tuple[Path, dict[str, str]]:
    """What a pod running as namespace/account gets: a kubeconfig with a TokenRequest token of the account (so its
    RBAC is what the process gets) and, for an IRSA-annotated account, the web identity token file and role ARN that
    EKS's pod identity webhook injects. AWS calls go to the lab (moto, its STS included)."""
    _apps, core, client = _clients(state)
    home.mkdir(parents=True, exist_ok=True)
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": state["api_endpoint"], "certificate-authority": state["pki"]["ca"]}}],
        "users": [{"name": account, "user": {"token": _token(core, client, namespace, account, None)}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": account, "namespace": namespace}}],
    }
    path = home / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    aws = {"AWS_ENDPOINT_URL": state["aws_endpoint"], "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    role_arn = (core.read_namespaced_service_account(account, namespace).metadata.annotations or {}).get("eks.amazonaws.com/role-arn")
    if role_arn:
        token_file = home / "token"
        token_file.write_text(_token(core, client, namespace, account, "sts.amazonaws.com"))
        token_file.chmod(0o600)
        aws.update(AWS_ROLE_ARN=role_arn, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_STS_REGIONAL_ENDPOINTS="regional",
                   AWS_ENDPOINT_URL_STS=state["aws_endpoint"])
    return path, aws


def external_dns_argv(binary: str, args: list[str], kubeconfig: Path, metrics_port: int) -> list[str]:
    """The Deployment container's args, less the flags the host process sets itself (either form, ``--flag=value`` or
    ``--flag value``), followed by those."""
    kept: list[str] = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
            continue
        if arg.split("=", 1)[0] in EXTERNAL_DNS_HOST_FLAGS:
            skip_value = "=" not in arg
            continue
        kept.append(arg)
    return [binary, *kept, f"--kubeconfig={kubeconfig}", f"--metrics-address=127.0.0.1:{metrics_port}"]


def external_dns_process(state: dict, namespace: str = "kube-system", deployment: str = EXTERNAL_DNS) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the host process, from the Deployment the external_dns role wrote."""
    apps, _core, _client = _clients(state)
    dep = apps.read_namespaced_deployment(deployment, namespace)
    pod = dep.spec.template.spec
    container = pod.containers[0]
    home = Path(state["dir"]) / "controllers" / EXTERNAL_DNS
    kubeconfig, aws = host_identity(state, namespace, pod.service_account_name or "default", home)
    port = procs.free_port()
    (home / "metrics-port").write_text(str(port))
    argv = external_dns_argv(str(tools.binaries()["external-dns"]), list(container.args or []), kubeconfig, port)
    # The webhook's region goes in only where the pod does not set one (the role sets AWS_DEFAULT_REGION).
    env = {"AWS_REGION": state["region"], "AWS_DEFAULT_REGION": state["region"], **deployment_env(container, namespace), **aws,
           "HOME": str(home), "PATH": "/usr/bin:/bin"}
    return argv, env


def external_dns_last_sync(state: dict) -> float:
    """When the running controller last finished a sync with Route 53 (its own metric; 0 before the first)."""
    port = (Path(state["dir"]) / "controllers" / EXTERNAL_DNS / "metrics-port").read_text().strip()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:  # noqa: S310 - loopback
        for line in resp.read().decode().splitlines():
            if line.startswith(EXTERNAL_DNS_SYNC_METRIC + " "):
                return float(line.split()[1])
    return 0.0


def start_external_dns(state: dict, namespace: str = "kube-system", deployment: str = EXTERNAL_DNS, timeout: float = 90) -> int:
    """Start (or restart) ExternalDNS with the Deployment's args; wait until its first sync with Route 53 is done
    (so its IRSA credentials, its RBAC and the zone filters worked). Logs go to logs/external-dns.log; `lab down`
    stops it with the rest of the lab."""
    lab = Path(state["dir"])
    stop_external_dns(state)

    def start() -> int:
        argv, env = external_dns_process(state, namespace, deployment)  # chooses its metrics port
        pid = procs.start(EXTERNAL_DNS, argv, lab, env)
        procs.wait_for("external-dns first sync", lambda: external_dns_last_sync(state) > 0, timeout,
                       lab / "logs" / f"{EXTERNAL_DNS}.log", pid)
        return pid

    return procs.retry_taken_ports(start, lambda: stop_external_dns(state))


def stop_external_dns(state: dict) -> bool:
    """Stop ExternalDNS (it holds no long poll: once it has exited, no call of it reaches the lab)."""
    return procs.stop(Path(state["dir"]), EXTERNAL_DNS)
