"""Node join, the part a kubelet plays: the lab's only emulated step of Karpenter's provisioning.

Runs as a thread of the lab's AWS process, reading moto's EC2 backend directly (so it adds nothing to
the AWS call log). When an instance tagged ``karpenter.sh/nodepool`` (Karpenter tags every instance
it launches) is running, it registers a kwok-managed Node for it, as the kubelet of the EKS AMI would
from the launch data Karpenter wrote for its NodeClaim (the claim whose ``status.providerID`` names it): name = the instance's private DNS name,
``spec.providerID aws:///<zone>/<instance-id>``, the NodeClaim's labels, its taints and startup
taints plus ``karpenter.sh/unregistered:NoExecute`` (Karpenter's user data registers with it),
capacity = the instance type's vCPUs and memory in moto's data, the pods and ephemeral storage the
kubelet configuration gives (Karpenter's own figures on the NodeClaim), allocatable as Karpenter
computed it. When the instance is terminated, the Node is deleted. Everything else (registration,
initialization, disruption, termination) is Karpenter's own.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

# Karpenter tags what it launches with its NodePool at CreateFleet (the NodeClaim's name only later, once registered).
NODEPOOL_TAG = "karpenter.sh/nodepool"
ARCH = {"x86_64": "amd64", "arm64": "arm64"}
GIVE_UP = 300  # looks (one a second) for a NodeClaim naming a running instance before leaving it alone


def _launched(backend) -> dict[str, object]:
    """{instance id: instance} for the instances Karpenter launched, whatever their state."""
    out = {}
    for reservation in list(backend.reservations.values()):
        for instance in list(reservation.instances):
            if NODEPOOL_TAG in backend.tags.get(instance.id, {}):
                out[instance.id] = instance
    return out


def node_for(instance, nodeclaim: dict, region: str, kube_version: str) -> tuple[dict, dict]:
    """(Node, status patch) a kubelet on this instance would register."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES  # noqa: PLC0415 - only inside the server process

    zone = instance.placement.zone
    # EC2 private DNS names (the node names of the EKS AMI): ip-10-0-64-7.us-west-2.compute.internal
    name = f"ip-{instance.private_ip.replace('.', '-')}.{region}.compute.internal"
    shape = INSTANCE_TYPES.get(instance.instance_type, {})
    arch = ARCH.get((shape.get("ProcessorInfo", {}).get("SupportedArchitectures") or ["x86_64"])[0], "amd64")
    claim_status = nodeclaim.get("status") or {}
    claimed = claim_status.get("capacity") or {}
    spec = nodeclaim.get("spec") or {}
    capacity = {
        "cpu": str(shape.get("VCpuInfo", {}).get("DefaultVCpus", claimed.get("cpu", "2"))),
        "memory": f"{shape.get('MemoryInfo', {}).get('SizeInMiB', 0)}Mi" if shape else claimed.get("memory", "4Gi"),
        "pods": str(claimed.get("pods", "110")),
        "ephemeral-storage": str(claimed.get("ephemeral-storage", "20Gi")),
    }
    labels = dict(nodeclaim["metadata"].get("labels") or {})
    labels.update({
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
        "node.kubernetes.io/instance-type": instance.instance_type, "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": region,
    })
    taints = [*(spec.get("taints") or []), *(spec.get("startupTaints") or []),
              {"key": "karpenter.sh/unregistered", "effect": "NoExecute"}]
    node = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"providerID": f"aws:///{zone}/{instance.id}", "taints": taints},
    }
    status = {"status": {
        "capacity": capacity,
        "allocatable": {k: str((claim_status.get("allocatable") or {}).get(k, v)) for k, v in capacity.items()},
        "addresses": [{"type": "InternalIP", "address": instance.private_ip},
                      {"type": "InternalDNS", "address": name}, {"type": "Hostname", "address": name}],
        "nodeInfo": {"kubeletVersion": f"{kube_version}-eks-lab", "kubeProxyVersion": "",
                     "osImage": "Amazon Linux 2023 (kwok)", "containerRuntimeVersion": "containerd://1.7.27",
                     "architecture": arch, "operatingSystem": "linux", "kernelVersion": "6.1.0-kwok",
                     "machineID": "", "systemUUID": "", "bootID": ""},
    }}
    return node, status


class NodeJoin:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.registered: dict[str, str] = {}  # instance id -> node name
        self.unclaimed: dict[str, int] = {}  # instance id -> looks without a NodeClaim naming it
        self._api = None

    def _client(self):
        if self._api is None:
            from kubernetes import config  # noqa: PLC0415

            self._api = config.new_client_from_config(self.cfg["node_kubeconfig"])
        return self._api

    def core(self):
        from kubernetes import client  # noqa: PLC0415

        return client.CoreV1Api(self._client())

    def custom(self):
        from kubernetes import client  # noqa: PLC0415

        return client.CustomObjectsApi(self._client())

    def _claim(self, instance) -> dict | None:
        provider_id = f"aws:///{instance.placement.zone}/{instance.id}"
        claims = self.custom().list_cluster_custom_object("karpenter.sh", "v1", "nodeclaims")["items"]
        return next((c for c in claims if (c.get("status") or {}).get("providerID") == provider_id), None)

    def step(self, backend) -> None:
        from kubernetes.client.exceptions import ApiException  # noqa: PLC0415

        for instance_id, instance in _launched(backend).items():
            state = instance.state
            if state == "running" and instance_id not in self.registered:
                if self.unclaimed.get(instance_id, 0) > GIVE_UP:
                    continue  # no claim names it (an instance Karpenter lost track of): no kubelet config, no Node
                claim = self._claim(instance)
                if claim is None:  # Karpenter writes the launch result on the claim just after CreateFleet answers
                    self.unclaimed[instance_id] = self.unclaimed.get(instance_id, 0) + 1
                    continue
                claim_name = claim["metadata"]["name"]
                node, status = node_for(instance, claim, self.cfg["region"], self.cfg["kube_version"])
                try:  # with its status, as a kubelet registers: kwok fills a Node without capacity with its own defaults
                    self.core().create_node(dict(node, **status))
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    existing = self.core().read_node(node["metadata"]["name"]).spec.provider_id
                    if existing != node["spec"]["providerID"]:  # never take over (or later delete) another machine's Node
                        self.unclaimed[instance_id] = GIVE_UP + 1
                        print(f"[nodejoin] {instance_id}: Node {node['metadata']['name']} exists for {existing}; not joined",
                              flush=True)
                        continue
                self.core().patch_node_status(node["metadata"]["name"], status)
                self.registered[instance_id] = node["metadata"]["name"]
                print(f"[nodejoin] {instance_id} ({instance.instance_type}, {instance.placement.zone}) registered as "
                      f"Node {node['metadata']['name']} for NodeClaim {claim_name}", flush=True)
            elif state in ("shutting-down", "terminated", "stopped") and instance_id in self.registered:
                name = self.registered.pop(instance_id)
                try:
                    self.core().delete_node(name)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                print(f"[nodejoin] {instance_id} is {state}: Node {name} deleted", flush=True)


def start(cfg: dict, interval: float = 1.0) -> threading.Thread:
    """Watch moto's EC2 backend of the lab's account and region in a daemon thread."""
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    from .seed import ACCOUNT_ID  # noqa: PLC0415

    join = NodeJoin(cfg)

    def loop() -> None:
        while True:
            time.sleep(interval)
            if not Path(cfg["node_kubeconfig"]).exists():
                continue
            try:
                join.step(ec2_backends[ACCOUNT_ID][cfg["region"]])
            except Exception as exc:  # noqa: BLE001 - a moto dict changing under us, the API server restarting: retry
                print(f"[nodejoin] retrying after: {exc!r}", flush=True)

    thread = threading.Thread(target=loop, name="nodejoin", daemon=True)
    thread.start()
    return thread
