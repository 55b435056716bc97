"""The lab's Karpenter pieces that need no running lab: the chart stamp, the Deployment's environment, node join."""
from __future__ import annotations

from types import SimpleNamespace

from kubernetes import client

from nodeless_lab import controllers, nodejoin, tools

CHART = "apiVersion: v2\nname: karpenter\ntype: application\nversion: 1.13.0\nappVersion: 1.13.0\nkeywords:\n  - cluster\n"
VALUES = """controller:
  containerName: controller
  image:
    # -- Repository path to the controller image.
    repository: public.ecr.aws/karpenter/controller
    # -- Tag of the controller image.
    tag: 1.13.0
    # -- SHA256 digest of the controller image.
    digest: sha256:ea731b0cd813add8b2947a76bfe861c38069d85922b01d0c1647d1466279b7fe
  env: []
logLevel: info
"""


def test_chart_is_stamped_with_the_module_version_and_nothing_else():
    chart, values = tools.stamp_chart(CHART, VALUES, "1.14.1")
    assert chart == CHART.replace("1.13.0", "1.14.1")
    assert values == VALUES.replace("tag: 1.13.0", "tag: 1.14.1").replace(
        "sha256:ea731b0cd813add8b2947a76bfe861c38069d85922b01d0c1647d1466279b7fe", '""')


def test_deployment_env_is_what_the_kubelet_would_give_the_container():
    env = [client.V1EnvVar(name="CLUSTER_NAME", value="lab"),
           client.V1EnvVar(name="SYSTEM_NAMESPACE", value_from=client.V1EnvVarSource(
               field_ref=client.V1ObjectFieldSelector(field_path="metadata.namespace"))),
           client.V1EnvVar(name="CPU_REQUESTS", value_from=client.V1EnvVarSource(
               resource_field_ref=client.V1ResourceFieldSelector(resource="requests.cpu", divisor="1m"))),
           client.V1EnvVar(name="MEMORY_LIMIT", value_from=client.V1EnvVarSource(
               resource_field_ref=client.V1ResourceFieldSelector(resource="limits.memory", divisor="0")))]
    with_resources = client.V1Container(name="controller", env=env, resources=client.V1ResourceRequirements(
        requests={"cpu": "500m"}, limits={"memory": "1Gi"}))
    assert controllers.deployment_env(with_resources, "karpenter") == {
        "CLUSTER_NAME": "lab", "SYSTEM_NAMESPACE": "karpenter", "CPU_REQUESTS": "500", "MEMORY_LIMIT": str(1024 ** 3)}
    # No requests or limits (the chart's default): the controller's own defaults, not zero.
    bare = client.V1Container(name="controller", env=env)
    assert controllers.deployment_env(bare, "karpenter") == {"CLUSTER_NAME": "lab", "SYSTEM_NAMESPACE": "karpenter"}


def test_node_joins_as_the_kubelet_registers_it_from_the_claim():
    instance = SimpleNamespace(id="i-0abc", instance_type="c6a.2xlarge", private_ip="10.0.64.7",
                               placement=SimpleNamespace(zone="us-west-2a"))
    claim = {"metadata": {"name": "pool-x1", "labels": {"karpenter.sh/nodepool": "pool", "team": "a"}},
             "spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}],
                      "startupTaints": [{"key": "cni", "effect": "NoExecute"}]},
             "status": {"providerID": "aws:///us-west-2a/i-0abc", "capacity": {"pods": "58", "ephemeral-storage": "20Gi"},
                        "allocatable": {"cpu": "7910m", "memory": "14162Mi", "pods": "58", "ephemeral-storage": "17Gi"}}}
    node, status = nodejoin.node_for(instance, claim, "us-west-2", "v1.35.4")
    assert node["metadata"]["name"] == "ip-10-0-64-7.us-west-2.compute.internal"
    assert node["spec"]["providerID"] == "aws:///us-west-2a/i-0abc"
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["metadata"]["labels"]["team"] == "a" and node["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"
    assert [t["key"] for t in node["spec"]["taints"]] == ["dedicated", "cni", "karpenter.sh/unregistered"]
    # c6a.2xlarge: 8 vCPUs and 16 GiB in moto's instance data; allocatable as Karpenter computed it
    assert status["status"]["capacity"] == {"cpu": "8", "memory": "16384Mi", "pods": "58", "ephemeral-storage": "20Gi"}
    assert status["status"]["allocatable"]["cpu"] == "7910m"
