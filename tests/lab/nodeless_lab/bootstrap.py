"""Objects the lab puts in its cluster so it looks like a fresh EKS cluster:

- kwok nodes labelled as EKS managed nodes (node group, zone, instance type, capacity type);
- public OIDC discovery (EKS serves the issuer's discovery document and JWKS anonymously);
- CoreDNS with EKS's ``eks.amazonaws.com/compute-type: ec2`` annotation and an ``aws-node``
  DaemonSet shaped like the VPC CNI's (image never pulled: kwok runs no containers);
- Karpenter's CRDs, written by the pinned provider module's embedded copies.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from . import seed

FIELD_MANAGER = "nodeless-lab"
# (vCPU, GiB, max pods) as EKS publishes them for the instance types the lab's node groups use.
INSTANCE_SHAPES = {"m5.xlarge": (4, 16, 58), "m5.large": (2, 8, 29)}


def api(kubeconfig: Path, discovery_cache: Path) -> DynamicClient:
    """A dynamic client for KUBECONFIG that keeps its API discovery cache in DISCOVERY_CACHE. The client's default,
    /tmp/osrcp-<md5 of the server URL>.json, outlives the lab, and a later lab given the same port reads it as its own."""
    discovery_cache.parent.mkdir(parents=True, exist_ok=True)
    return DynamicClient(config.new_client_from_config(str(kubeconfig)), cache_file=str(discovery_cache))


def apply(dyn: DynamicClient, body: dict) -> None:
    resource = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    meta = body["metadata"]
    resource.server_side_apply(body=body, name=meta["name"], namespace=meta.get("namespace"),
                               field_manager=FIELD_MANAGER, force_conflicts=True)


def nodes(region: str, kube_version: str) -> list[tuple[dict, dict]]:
    """(node, status patch) for each fake node, one per node-group member, spread over zones."""
    out = []
    index = 0
    for group, instance_type, size, labels, taints in seed.NODE_GROUPS:
        cpu, mem, pods = INSTANCE_SHAPES[instance_type]
        for _member in range(size):
            zone = f"{region}{seed.ZONES[index % len(seed.ZONES)]}"
            ip = seed.static_node_ip(index)
            name = f"ip-{ip.replace('.', '-')}.{region}.compute.internal"
            node = {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                        "node.kubernetes.io/instance-type": instance_type, "topology.kubernetes.io/zone": zone,
                        "topology.kubernetes.io/region": region, "eks.amazonaws.com/nodegroup": group,
                        "eks.amazonaws.com/capacityType": "ON_DEMAND", "type": "kwok", **labels,
                    },
                },
                "spec": {
                    "providerID": f"aws:///{zone}/i-0lab{index:013d}",
                    "taints": [{"key": t["key"], "value": t["value"],
                                "effect": {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute",
                                           "PREFER_NO_SCHEDULE": "PreferNoSchedule"}[t["effect"]]} for t in taints],
                },
            }
            resources = {"cpu": str(cpu), "memory": f"{mem}Gi", "pods": str(pods), "ephemeral-storage": "20Gi"}
            status = {"status": {
                "capacity": resources,
                "allocatable": dict(resources, cpu=f"{cpu * 1000 - 80}m", memory=f"{mem * 1024 - 1200}Mi"),
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": f"{kube_version}-eks-lab", "kubeProxyVersion": "",
                             "osImage": "Amazon Linux 2023 (kwok)", "containerRuntimeVersion": "containerd://1.7.27",
                             "architecture": "amd64", "operatingSystem": "linux", "kernelVersion": "6.1.0-kwok",
                             "machineID": "", "systemUUID": "", "bootID": ""},
            }}
            out.append((node, status))
            index += 1
    return out


def system_objects() -> list[dict]:
    labels = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
    coredns = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"eks.amazonaws.com/compute-type": "ec2"}},
                "spec": {
                    "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                    "containers": [{"name": "coredns", "image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.12.1-eksbuild.2",
                                    "args": ["-conf", "/etc/coredns/Corefile"],
                                    "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}}}],
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                },
            },
        },
    }
    aws_node = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "aws-node", "namespace": "kube-system", "labels": {"k8s-app": "aws-node"}},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "aws-node"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "aws-node"}},
                "spec": {
                    "serviceAccountName": "aws-node", "priorityClassName": "system-node-critical", "hostNetwork": True,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "aws-node", "image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.20.4-eksbuild.1",
                        "env": [{"name": k, "value": v} for k, v in (
                            ("ADDITIONAL_ENI_TAGS", "{}"), ("AWS_VPC_CNI_NODE_PORT_SUPPORT", "true"),
                            ("AWS_VPC_ENI_MTU", "9001"), ("AWS_VPC_K8S_CNI_EXTERNALSNAT", "false"),
                            ("AWS_VPC_K8S_CNI_LOGLEVEL", "DEBUG"), ("ENABLE_IPv4", "true"), ("ENABLE_IPv6", "false"),
                            ("ENABLE_POD_ENI", "false"), ("ENABLE_PREFIX_DELEGATION", "false"),
                            ("WARM_ENI_TARGET", "1"), ("WARM_PREFIX_TARGET", "1"))],
                        "resources": {"requests": {"cpu": "25m"}},
                    }],
                },
            },
        },
    }
    sa = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": n, "namespace": "kube-system"}}
          for n in ("coredns", "aws-node")]
    dns_svc = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]},
    }
    discovery = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "nodeless-lab:oidc-discovery-public"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:service-account-issuer-discovery"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"},
                     {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}],
    }
    return [discovery, *sa, dns_svc, coredns, aws_node]


def karpenter_crds(lab: Path, bins: dict) -> list[dict]:
    import yaml

    out_dir = lab / "crds" / "karpenter"
    proc = subprocess.run([str(bins["karpenter-crds"]), str(out_dir)], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode:
        raise RuntimeError(f"karpenter-crds failed: {proc.stderr}")
    return [yaml.safe_load(p.read_text()) for p in sorted(out_dir.glob("*.yaml"))]


def bootstrap(lab: Path, bins: dict, region: str, kube_version: str, out, discovery_cache: Path, restart_kwok=None) -> None:
    dyn = api(lab / "admin.kubeconfig", discovery_cache)
    core = client.CoreV1Api(dyn.client)
    for node, status in nodes(region, kube_version):
        apply(dyn, node)
        core.patch_node_status(node["metadata"]["name"], status)
    for obj in system_objects():
        apply(dyn, obj)
    crds = karpenter_crds(lab, bins)
    for crd in crds:
        crd.get("metadata", {}).pop("creationTimestamp", None)
        crd.pop("status", None)
        apply(dyn, crd)
    print(f"[lab] applied {len(crds)} Karpenter CRDs from the pinned provider module", file=out, flush=True)
    wait_ready(dyn, [c["metadata"]["name"] for c in crds], out, lab / "logs" / "kwok.log", restart_kwok)


# kwok retries a failed node lease sync only after its renew interval (60 s with the lab's lease duration,
# kube.start_kwok), and a node it has not leased stays NotReady: on a loaded machine a lab once timed out with
# 0/3 nodes Ready. Nodes not Ready this long after bootstrap get a new kwok (at most twice), not a longer wait.
KWOK_STALLED_AFTER = 40.0


def wait_ready(dyn: DynamicClient, crd_names: list[str], out, kwok_log: Path | None = None, restart_kwok=None,
               timeout: float = 150) -> None:
    core = client.CoreV1Api(dyn.client)
    apps = client.AppsV1Api(dyn.client)
    ext = client.ApiextensionsV1Api(dyn.client)
    started = time.monotonic()
    deadline = started + timeout
    restarts = 0
    waiting = "nodes Ready"
    while time.monotonic() < deadline:
        node_list = core.list_node(label_selector="type=kwok").items
        ready = [n for n in node_list if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
        if not node_list or len(ready) < len(node_list):
            waiting = f"kwok nodes Ready ({len(ready)}/{len(node_list)})"
            if restart_kwok and restarts < 2 and time.monotonic() - started > KWOK_STALLED_AFTER * (restarts + 1):
                restarts += 1
                print(f"[lab] {waiting} after {time.monotonic() - started:.0f}s; kwok said:{_errors(kwok_log) or ' no error'}"
                      f"\n[lab] restarting kwok ({restarts}/2) with the node leases cleared", file=out, flush=True)
                restart_kwok(lambda: _clear_node_leases(core, node_list))
        else:
            dep = apps.read_namespaced_deployment("coredns", "kube-system")
            if (dep.status.available_replicas or 0) < dep.spec.replicas:
                waiting = f"CoreDNS Available ({dep.status.available_replicas or 0}/{dep.spec.replicas})"
            else:
                pending = [n for n in crd_names if not any(
                    c.type == "Established" and c.status == "True"
                    for c in (ext.read_custom_resource_definition(n).status.conditions or []))]
                if not pending:
                    return
                waiting = f"CRDs Established ({', '.join(pending)})"
        time.sleep(0.5)
    said = _errors(kwok_log)
    raise RuntimeError(f"lab bootstrap: still waiting for {waiting} after {timeout:.0f}s; see the logs in the lab "
                       f"directory{'; kwok said:' + said if said else ''}")


def _clear_node_leases(core, nodes) -> None:
    """A new kwok has a new holder identity: leases the old one took would keep it off those nodes until they expire."""
    leases = client.CoordinationV1Api(core.api_client)
    for node in nodes:
        try:
            leases.delete_namespaced_lease(node.metadata.name, "kube-node-lease")
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def _errors(log: Path | None, lines: int = 5) -> str:
    """kwok's last error lines, for a message."""
    if not log or not log.exists():
        return ""
    found = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line or "level=error" in line]
    return "".join(f"\n  {line[:300]}" for line in found[-lines:])
