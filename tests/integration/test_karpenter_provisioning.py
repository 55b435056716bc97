"""The upstream Karpenter controller provisioning nodes in the lab from what the karpenter role installed.

The module fixture is an upgrade from the previous minor: the role converges with upstream's v1.13.1 chart
(its CRDs and release), the v1.13.1 controller launches nodes for pending pods, then the role converges with
its own version's chart (v1.14.1: CRDs first, then the release) and the v1.14.1 controller takes over; every
test after that runs on it. Charts and controllers come from the provider's module zips; the lab runs the
controller on the host with the settings the chart rendered into the Deployment (``nodeless_lab.controllers``),
against the lab's API server and moto. Only the kubelet's part is emulated (``nodeless_lab.nodejoin``): a
running instance Karpenter launched registers as a kwok Node. Everything asserted here is Karpenter's own
work on our objects.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml

from nodeless_lab.tools import KARPENTER_PREVIOUS_VERSION, KARPENTER_VERSION
from support import labenv
from support.playbook import run as run_playbook
from support.waiting import until

pytestmark = pytest.mark.lab

NAMESPACE = "karpenter-it"
POOL = "it-provisioning"
POOL_LABEL = {"nodeless.eks/test": "provisioning"}
LIMITED = "it-limited"  # a second pool whose cpu limit holds fewer pods than asked for
LIMITED_LABEL = {"nodeless.eks/test": "limited"}
LIMITED_CPU = 4
NO_SUBNET = "it-no-subnet"  # an EC2NodeClass whose subnet selector finds nothing
IMPOSSIBLE = "it-impossible"  # a NodePool whose requirements no instance type satisfies
IMPOSSIBLE_LABEL = {"nodeless.eks/test": "impossible"}
UPGRADE = "it-upgrade"  # the pool whose nodes the previous minor's controller launches before the upgrade
UPGRADE_LABEL = {"nodeless.eks/test": "upgrade"}
CAPACITY_BUFFERS = "capacitybuffers.autoscaling.x-k8s.io"  # a CRD v1.14 added (v1.13 clusters lack it)
REPLICAS = 4
TIMEOUT = 120


REQUIREMENTS = [
    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
    {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m"]},
    {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["4"]},
]
DISRUPTION = {"consolidation_policy": "WhenEmptyOrUnderutilized", "consolidate_after": "5s"}


def _converge_play(chart: str, version: str) -> list:
    return [{
        "name": "karpenter role with upstream's chart, and a NodePool of this test", "hosts": "lab", "gather_facts": False,
        "roles": [{"role": "nodeless.eks.karpenter", "vars": {
            "karpenter_chart_ref": chart,
            "karpenter_chart_version": version,
            # moto serves no Pricing API: Karpenter's own isolated-VPC setting prices from its shipped data.
            "karpenter_isolated_vpc": True,
        }}],
        "tasks": [{"name": "NodePools of this test", "nodeless.eks.karpenter_nodepool": {"nodepools": [
            {"name": POOL, "node_class_ref": {"name": "default"}, "labels": POOL_LABEL, "requirements": REQUIREMENTS,
             "limits": {"cpu": "64"}, "disruption": DISRUPTION},
            {"name": LIMITED, "node_class_ref": {"name": "default"}, "labels": LIMITED_LABEL, "requirements": REQUIREMENTS,
             "limits": {"cpu": str(LIMITED_CPU)}, "disruption": DISRUPTION},
            {"name": UPGRADE, "node_class_ref": {"name": "default"}, "labels": UPGRADE_LABEL, "requirements": REQUIREMENTS,
             "limits": {"cpu": "16"}, "disruption": DISRUPTION},
            # no instance type has more than 4096 vCPUs
            {"name": IMPOSSIBLE, "node_class_ref": {"name": "default"}, "labels": IMPOSSIBLE_LABEL,
             "requirements": REQUIREMENTS + [{"key": "karpenter.k8s.aws/instance-cpu", "operator": "Gt", "values": ["4096"]}],
             "limits": {"cpu": "16"}, "disruption": DISRUPTION},
        ]}}, {"name": "EC2NodeClass whose subnet selector matches no subnet", "nodeless.eks.karpenter_ec2nodeclass": {
            "name": NO_SUBNET, "role": "KarpenterNodeRole-{{ nodeless_eks_cluster_name }}",
            "ami_selector_terms": [{"alias": "al2023@latest"}],
            "subnet_selector_terms": [{"tags": {"karpenter.sh/discovery": "no-such-cluster"}}],
            "security_group_selector_terms": [{"tags": {"karpenter.sh/discovery": "{{ nodeless_eks_cluster_name }}"}}]}},
            *_legacy_set_tasks()],
    }]


def _api():
    from kubernetes import client

    api = labenv.k8s_client()
    return client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)


def _wait(what: str, check, timeout: float = TIMEOUT, every: float = 1.0):
    return until(what, check, timeout, every, hint="see the lab's logs/karpenter.log")


def _nodeclaims(custom, pool: str = POOL) -> list[dict]:
    return [c for c in custom.list_cluster_custom_object("karpenter.sh", "v1", "nodeclaims")["items"]
            if c["metadata"].get("labels", {}).get("karpenter.sh/nodepool") == pool]


def _instances(states=("pending", "running", "shutting-down", "terminated", "stopping", "stopped")) -> list[dict]:
    ec2 = labenv.boto3_client("ec2")
    pages = ec2.describe_instances(Filters=[{"Name": "tag:karpenter.sh/nodepool", "Values": [POOL]},
                                            {"Name": "instance-state-name", "Values": list(states)}])
    return [i for r in pages["Reservations"] for i in r["Instances"]]


def _discovered(kind: str) -> set[str]:
    ec2 = labenv.boto3_client("ec2")
    tag = [{"Name": "tag:karpenter.sh/discovery", "Values": [labenv.state()["cluster_name"]]}]
    if kind == "subnets":
        return {s["SubnetId"] for s in ec2.describe_subnets(Filters=tag)["Subnets"]}
    return {g["GroupId"] for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]}


def _deployment(name: str, replicas: int, node_selector: dict) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"nodeSelector": node_selector, "containers": [{
                "name": "pause", "image": "public.ecr.aws/eks-distro/kubernetes/pause:3.10",
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}},
    }


def _initialized(claims: list[dict]) -> list[dict] | None:
    done = all(any(c["type"] == "Initialized" and c["status"] == "True" for c in (claim.get("status") or {}).get("conditions", []))
               for claim in claims)
    return claims if claims and done else None


def _provoked_by_the_limit(entry: dict) -> bool:
    """Karpenter's error for a pod of the limited pool that no instance type within the limit can hold, or for the
    pod of the pool that no instance type satisfies."""
    pod = entry.get("Pod") or {}
    return (entry.get("message") == "could not schedule pod" and pod.get("namespace") == NAMESPACE
            and (pod.get("name", "").startswith("limited-") and "limits" in entry.get("error", "")
                 or pod.get("name", "").startswith("impossible-")))


def _pools_resolved(custom) -> str | None:
    """The time (UTC, ISO 8601) at which every EC2NodeClass a NodePool names has subnets in its status, or None.
    Until then Karpenter's instance-type consumers (its pricing controller among them) fail that pool with
    "no subnets found": the classes the upgrade converge re-applied may not be resolved yet when the new
    controller starts."""
    pools = custom.list_cluster_custom_object("karpenter.sh", "v1", "nodepools")["items"]
    classes = {c["metadata"]["name"]: c for c in custom.list_cluster_custom_object(
        "karpenter.k8s.aws", "v1", "ec2nodeclasses")["items"]}
    named = {p["spec"]["template"]["spec"]["nodeClassRef"]["name"] for p in pools}
    if all((classes.get(name, {}).get("status") or {}).get("subnets") for name in named):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return None


def _node_class_ready(custom) -> dict | None:
    found = custom.get_cluster_custom_object("karpenter.k8s.aws", "v1", "ec2nodeclasses", "default")
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in (found.get("status") or {}).get("conditions", []))
    return found if ready else None


def _consolidation_policies(ext) -> list[str]:
    """The consolidation policies the served NodePool CRD accepts (v1.14 added Balanced)."""
    crd = ext.read_custom_resource_definition("nodepools.karpenter.sh")
    schema = crd.spec.versions[0].schema.open_apiv3_schema.properties["spec"].properties["disruption"]
    return schema.properties["consolidationPolicy"].enum


def _crd_names(ext) -> set[str]:
    return {c.metadata.name for c in ext.list_custom_resource_definition().items}


def _record() -> dict:
    core, _apps, _custom = _api()
    return json.loads(core.read_namespaced_config_map("nodeless-eks-karpenter", "nodeless-eks").data["record.json"])


def _gate_lines(result) -> list[str]:
    """What the karpenter role's gate said (issue #23)."""
    return [res["msg"] for name, _host, res in result.tasks()
            if name.split(" : ", 1)[-1].startswith("Compare the release") and "msg" in res]


@pytest.fixture(scope="module")
def controller(lab):
    """An upgrade with nodes running, then the upstream controller of the role's version running with its
    Deployment's settings: the role at the previous minor (its chart installs that version's CRDs and release),
    the previous controller launching nodes for pending pods, then the role at its own version (CRDs, then the
    release) and the new controller in its place (the lab's stand-in for the Deployment's rolling update)."""
    from kubernetes import client
    from nodeless_lab import controllers

    core, apps, custom = _api()
    ext = client.ApiextensionsV1Api(labenv.k8s_client())
    log = Path(lab["dir"]) / "logs" / "karpenter.log"
    offset = log.stat().st_size if log.exists() else 0
    # A cluster of the previous minor: the lab starts with the current CRDs; v1.13 had no CapacityBuffer.
    if CAPACITY_BUFFERS in _crd_names(ext):
        ext.delete_custom_resource_definition(CAPACITY_BUFFERS)
        _wait(f"CRD {CAPACITY_BUFFERS} gone", lambda: CAPACITY_BUFFERS not in _crd_names(ext))
    result = run_playbook(_converge_play(lab["charts"]["karpenter_previous"], KARPENTER_PREVIOUS_VERSION))
    assert result.rc == 0, result.failure_text()
    before = {"policies": _consolidation_policies(ext), "crds": _crd_names(ext)}
    started = time.monotonic()
    controllers.start_karpenter(lab, binary="karpenter-previous")
    _wait("EC2NodeClass default Ready (previous controller)", lambda: _node_class_ready(custom))
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    apps.create_namespaced_deployment(NAMESPACE, _deployment("before-upgrade", 2, UPGRADE_LABEL))
    claims = _wait("NodeClaims Initialized (previous controller)", lambda: _initialized(_nodeclaims(custom, UPGRADE)), every=2)
    print(f"\n[karpenter] v{KARPENTER_PREVIOUS_VERSION}: controller up and {len(claims)} node(s) for 2 pending pods in "
          f"{time.monotonic() - started:.1f}s; controller CPU {controllers.cpu_seconds(lab)}s")
    before["claims"] = {c["metadata"]["name"]: c for c in claims}
    before["nodes"] = {c["status"]["nodeName"] for c in claims}
    previous_cpu = controllers.cpu_seconds(lab) or 0.0
    # The upgrade, with the previous controller still running (as its pods do until the new ones are Ready).
    writes = labenv.k8s_writes()[0]
    result = run_playbook(_converge_play(lab["charts"]["karpenter"], KARPENTER_VERSION))
    assert result.rc == 0, result.failure_text()
    upgrade = {"writes": labenv.k8s_writes(writes)[1], "policies": _consolidation_policies(ext), "crds": _crd_names(ext),
               "gate": _gate_lines(result), "record": _record()}
    # Drift (#23): an interruption rule deleted out of band (targets, then the rule, as the console does).
    events = labenv.boto3_client("events")
    rule = f"{labenv.state()['cluster_name']}-spot-interruption"
    upgrade["targets"] = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in upgrade["targets"]])
    events.delete_rule(Name=rule)
    result = run_playbook([dict(_converge_play(lab["charts"]["karpenter"], KARPENTER_VERSION)[0], tasks=[])])  # the role alone
    assert result.rc == 0, result.failure_text()
    upgrade["drift"] = {"gate": _gate_lines(result), "changed": result.changed(), "record": _record(),
                        "rule": events.describe_rule(Name=rule), "targets": events.list_targets_by_rule(Rule=rule)["Targets"]}
    started = time.monotonic()
    controllers.start_karpenter(lab)  # stops the previous one first
    node_class = _wait("EC2NodeClass default Ready", lambda: _node_class_ready(custom))
    resolved_at = _wait("every EC2NodeClass a NodePool names with subnets", lambda: _pools_resolved(custom))
    print(f"\n[karpenter] v{KARPENTER_VERSION}: controller up and EC2NodeClass default Ready in {time.monotonic() - started:.1f}s")
    yield {"log": log, "offset": offset, "node_class": node_class, "resolved_at": resolved_at, "before": before,
           "upgrade": upgrade}
    core.delete_namespace(NAMESPACE)
    # NodePools and the class go while the controller runs: their finalizers are its to remove.
    for name in (POOL, LIMITED, UPGRADE, IMPOSSIBLE, "default", *LEGACY_POOLS):
        custom.delete_cluster_custom_object("karpenter.sh", "v1", "nodepools", name)
    _wait("this test's NodeClaims gone", lambda: not any(_nodeclaims(custom, p) for p in (POOL, LIMITED, UPGRADE)))
    for name in ("default", NO_SUBNET, *LEGACY_CLASSES):
        custom.delete_cluster_custom_object("karpenter.k8s.aws", "v1", "ec2nodeclasses", name)
    _wait("this test's EC2NodeClasses gone", lambda: not any(
        o["metadata"]["name"] in ("default", NO_SUBNET, *LEGACY_CLASSES)
        for o in custom.list_cluster_custom_object("karpenter.k8s.aws", "v1", "ec2nodeclasses")["items"]))
    print(f"\n[karpenter] controller processes CPU: v{KARPENTER_PREVIOUS_VERSION} {previous_cpu}s, "
          f"v{KARPENTER_VERSION} {controllers.cpu_seconds(lab)}s (user + system)")
    controllers.stop_karpenter(lab)
    # Namespace deletion finishes in the background: the next test's snapshot must not see it go.
    _wait(f"namespace {NAMESPACE} gone", lambda: NAMESPACE not in {n.metadata.name for n in core.list_namespace().items})


def test_upgrade_from_the_previous_minor_keeps_every_node_and_the_new_controller_adopts_them(controller):
    core, apps, custom = _api()
    before, upgrade = controller["before"], controller["upgrade"]
    # The previous minor's CRDs were in place, then the role upgraded them before the release.
    assert "Balanced" not in before["policies"] and CAPACITY_BUFFERS not in before["crds"], before
    assert "Balanced" in upgrade["policies"] and CAPACITY_BUFFERS in upgrade["crds"]
    resources = [e["objectRef"].get("resource") for e in upgrade["writes"]]
    assert "customresourcedefinitions" in resources and "deployments" in resources, resources
    assert resources.index("customresourcedefinitions") < resources.index("deployments"), "CRDs must be upgraded before the release"
    image = apps.read_namespaced_deployment("karpenter", "karpenter").spec.template.spec.containers[0].image
    assert f":{KARPENTER_VERSION}" in image, image
    # Nothing lost: the same NodeClaims (same uid) and nodes, Initialized, under the new controller.
    claims = {c["metadata"]["name"]: c for c in _nodeclaims(custom, UPGRADE)}
    assert {n: c["metadata"]["uid"] for n, c in claims.items()} == {
        n: c["metadata"]["uid"] for n, c in before["claims"].items()}
    assert _initialized(list(claims.values()))
    nodes = {n.metadata.name for n in core.list_node(label_selector=f"karpenter.sh/nodepool={UPGRADE}").items}
    assert nodes == before["nodes"]
    pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=before-upgrade").items
    assert {p.spec.node_name for p in pods} <= nodes and all(p.status.phase == "Running" for p in pods)
    # Adopted: the new controller consolidates the previous one's nodes once they are empty.
    ids = {c["status"]["providerID"].rsplit("/", 1)[1] for c in claims.values()}
    apps.patch_namespaced_deployment_scale("before-upgrade", NAMESPACE, {"spec": {"replicas": 0}})
    _wait(f"the nodes of {UPGRADE} consolidated by the new controller", lambda: not _nodeclaims(custom, UPGRADE))
    ec2 = labenv.boto3_client("ec2")
    states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=sorted(ids))["Reservations"]
              for i in r["Instances"]}
    assert states == dict.fromkeys(ids, "terminated"), states
    print(f"\n[karpenter] upgrade v{KARPENTER_PREVIOUS_VERSION} -> v{KARPENTER_VERSION}: CRDs before the release "
          f"({resources.count('customresourcedefinitions')} CRD writes), {len(claims)} NodeClaim(s) and node(s) kept, "
          "then consolidated by the new controller")


def test_an_interruption_rule_deleted_out_of_band_is_found_by_the_gate_and_made_again(controller):
    """The upgrade's inputs differ from the previous minor's record; then the deleted rule makes the gate fall through
    (naming the rules, nothing else), the role makes the rule again with its target, and the record, whose content is
    what it converged to, is the same as before the deletion."""
    upgrade = controller["upgrade"]
    assert upgrade["gate"] == ["karpenter: not in sync, full path (the role's inputs changed)"]
    drift, prefix = upgrade["drift"], f"{labenv.state()['cluster_name']}-"
    assert drift["gate"] == [f"karpenter: not in sync, full path (aws eventbridge_rules {prefix}: sha256 changed)"]
    assert [c for c in drift["changed"] if "rule" in c.lower()] and len(drift["changed"]) == 1, drift["changed"]
    assert drift["rule"]["State"] == "ENABLED" and drift["targets"] == upgrade["targets"]
    assert {k: v for k, v in drift["record"].items() if k != "written_at"} == {k: v for k, v in upgrade["record"].items() if k != "written_at"}
    covered = {(e["type"], e["id"]) for e in upgrade["record"]["aws"]}
    assert {("sqs_queue", prefix[:-1]), ("eventbridge_rules", prefix), ("iam_role", f"KarpenterNodeRole-{prefix[:-1]}")} <= covered
    assert {("Deployment", "karpenter"), ("NodePool", "default"), ("EC2NodeClass", "default"), ("CustomResourceDefinition", "nodepools.karpenter.sh")} <= {
        (e["kind"], e["name"]) for e in upgrade["record"]["kubernetes"]}


def test_the_role_made_the_queue_rules_node_role_controller_role_release_and_node_access(controller):
    """What the karpenter role (defaults, upstream's chart) left after the upgrade, read back (was
    molecule/karpenter/verify.yml, a second converge of the same role): the interruption queue keeps messages 300 s,
    lets only EventBridge and SQS send and denies non-TLS, and five rules target it; the node role has the four node
    policies and its instance profile (beside those the controller makes); the controller's role trusts exactly karpenter/karpenter; the default NodePool
    and EC2NodeClass (IMDSv2 required); the release names the cluster and queue and makes no ServiceAccount; aws-auth
    lets the nodes join; discovery finds only the private subnets."""
    state = labenv.state()
    cluster = state["cluster_name"]
    sqs, events, iam = labenv.boto3_client("sqs"), labenv.boto3_client("events"), labenv.boto3_client("iam")
    queue = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=cluster)["QueueUrl"], AttributeNames=["All"])["Attributes"]
    policy = json.loads(queue["Policy"])
    assert (queue["MessageRetentionPeriod"], queue["SqsManagedSseEnabled"]) == ("300", "true")
    assert sorted(policy["Statement"][0]["Principal"]["Service"]) == ["events.amazonaws.com", "sqs.amazonaws.com"]
    assert policy["Statement"][1]["Effect"] == "Deny"
    assert policy["Statement"][1]["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    rules = events.list_rules(NamePrefix=f"{cluster}-")["Rules"]
    assert len(rules) == 5
    assert {t["Arn"] for r in rules for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"]} == {queue["QueueArn"]}
    assert sorted(t for r in rules for t in json.loads(r["EventPattern"])["detail-type"]) == [
        "AWS Health Event", "EC2 Capacity Reservation Instance Interruption Warning", "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification", "EC2 Spot Instance Interruption Warning"]

    node_role = iam.get_role(RoleName=f"KarpenterNodeRole-{cluster}")["Role"]
    assert sorted(p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=node_role["RoleName"])["AttachedPolicies"]) == [
        "AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore"]
    # the role's instance profile; the others are the controller's own, one per EC2NodeClass naming the role (<cluster>_<hash>)
    profiles = [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName=node_role["RoleName"])["InstanceProfiles"]]
    assert [p for p in profiles if not re.fullmatch(rf"{cluster}_\d+", p)] == [f"KarpenterNodeRole-{cluster}"], profiles
    issuer = state["issuer"][len("https://"):]
    controller_role = iam.get_role(RoleName=f"{cluster}-karpenter-karpenter")["Role"]
    trust = controller_role["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"},
        "Condition": {"StringEquals": {f"{issuer}:sub": "system:serviceaccount:karpenter:karpenter", f"{issuer}:aud": "sts.amazonaws.com"}}}]

    core, _apps, custom = _api()
    account = core.read_namespaced_service_account("karpenter", "karpenter")
    assert account.metadata.annotations["eks.amazonaws.com/role-arn"] == controller_role["Arn"]
    assert custom.get_cluster_custom_object("karpenter.sh", "v1", "nodepools", "default")["metadata"]["name"] == "default"
    node_class = custom.get_cluster_custom_object("karpenter.k8s.aws", "v1", "ec2nodeclasses", "default")
    assert node_class["spec"]["metadataOptions"]["httpTokens"] == "required"

    status = json.loads(labenv.helm("status", "karpenter", "-n", "karpenter", "-o", "json"))["info"]["status"]
    values = yaml.safe_load(labenv.helm("get", "values", "karpenter", "-n", "karpenter", "-o", "yaml"))
    assert status == "deployed"
    assert (values["settings"]["clusterName"], values["settings"]["interruptionQueue"]) == (cluster, cluster)
    assert values["serviceAccount"]["create"] is False

    map_roles = yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data["mapRoles"])
    entries = [e for e in map_roles if e["rolearn"] == node_role["Arn"]]
    assert len(entries) == 1 and entries[0]["username"].startswith("system:node:") and "EC2PrivateDNSName" in entries[0]["username"]
    assert sorted(entries[0]["groups"]) == ["system:bootstrappers", "system:nodes"]
    ec2 = labenv.boto3_client("ec2")
    names = [{t["Key"]: t["Value"] for t in s["Tags"]}["Name"] for s in ec2.describe_subnets(SubnetIds=sorted(_discovered("subnets")))["Subnets"]]
    assert len(names) == 3 and all(f"{cluster}-private-" in n for n in names), names


def test_node_class_is_ready_with_what_our_discovery_tags_select(controller):
    status = controller["node_class"]["status"]
    assert {s["id"] for s in status["subnets"]} == _discovered("subnets")
    assert {g["id"] for g in status["securityGroups"]} == _discovered("security_groups")
    ssm = labenv.boto3_client("ssm")
    minor = ".".join(labenv.state()["kube_version"].lstrip("v").split(".")[:2])
    recommended = {ssm.get_parameter(Name=f"/aws/service/eks/optimized-ami/{minor}/amazon-linux-2023/{arch}/standard/"
                                          "recommended/image_id")["Parameter"]["Value"] for arch in ("x86_64", "arm64")}
    assert {a["id"] for a in status["amis"]} == recommended
    profile = labenv.boto3_client("iam").get_instance_profile(InstanceProfileName=status["instanceProfile"])["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [f"KarpenterNodeRole-{labenv.state()['cluster_name']}"]
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready == dict.fromkeys(ready, "True"), ready


def test_node_class_selecting_no_subnet_is_not_ready_with_karpenter_reason(controller):
    del controller  # running
    _core, _apps, custom = _api()

    def conditions():
        found = custom.get_cluster_custom_object("karpenter.k8s.aws", "v1", "ec2nodeclasses", NO_SUBNET)
        by_type = {c["type"]: c for c in (found.get("status") or {}).get("conditions", [])}
        return by_type if by_type.get("SubnetsReady", {}).get("status") == "False" else None

    found = _wait(f"EC2NodeClass {NO_SUBNET} SubnetsReady=False", conditions)
    print(f"\n[karpenter] EC2NodeClass {NO_SUBNET}: " + "; ".join(
        f"{t}={c['status']} ({c.get('reason')}: {c.get('message', '')})" for t, c in found.items() if c["status"] != "True"))
    assert found["Ready"]["status"] == "False"
    assert found["SubnetsReady"]["reason"] == "SubnetsNotFound", found["SubnetsReady"]


def test_cluster_health_reports_karpenter_reasons_for_a_class_and_a_pool_that_cannot_provision(controller):
    """The report (module nodeless.eks.cluster_health, read by the cluster_health role's gate) says why, in
    Karpenter's words: the NotReady class's conditions and the impossible pool's pending pod and events."""
    core, apps, _custom = _api()
    apps.create_namespaced_deployment(NAMESPACE, _deployment("impossible", 1, IMPOSSIBLE_LABEL))

    def karpenter_said():  # Karpenter's event on the pending pod; the class's NotReady status
        events = core.list_namespaced_event(NAMESPACE, field_selector="reason=FailedScheduling").items
        pods = [e for e in events if e.involved_object.name.startswith("impossible-") and e.message.startswith("Failed to schedule pod")]
        found = _api()[2].get_cluster_custom_object("karpenter.k8s.aws", "v1", "ec2nodeclasses", NO_SUBNET)
        return pods if pods and any(c["type"] == "Ready" and c["status"] == "False"
                                    for c in (found.get("status") or {}).get("conditions", [])) else None

    _wait("Karpenter's FailedScheduling event on the pod of the impossible pool", karpenter_said)
    result = run_playbook([{"name": "health", "hosts": "lab", "gather_facts": False,
                            "tasks": [{"name": "read health", "nodeless.eks.cluster_health": {}, "register": "health"}]}])
    assert result.rc == 0, result.failure_text()
    report = next(res for name, _host, res in result.tasks() if name == "read health")
    findings = {f["subject"]: f for f in report["findings"] if f["check"] == "karpenter"}
    print("\n[karpenter] cluster_health: " + "\n  ".join(f"{s}: {f['message'][:300]}" for s, f in sorted(findings.items())))
    no_subnet = findings[f"EC2NodeClass/{NO_SUBNET}"]
    assert no_subnet["severity"] == "warning" and "SubnetsReady=False (SubnetsNotFound" in no_subnet["message"], no_subnet
    impossible = findings[f"NodePool/{IMPOSSIBLE}"]
    pending = impossible["detail"]["pending_pods"]
    assert len(pending) == 1 and pending[0].startswith(f"{NAMESPACE}/impossible-"), impossible
    assert "Failed to schedule pod" in impossible["message"], impossible
    assert f"NodePool/{POOL}" not in findings and "EC2NodeClass/default" not in findings, findings
    facts = {p["name"]: p for p in report["health"]["karpenter"]["node_pools"]}
    assert facts[IMPOSSIBLE]["nodeclaims"] == 0  # Karpenter launched nothing for it
    apps.delete_namespaced_deployment("impossible", NAMESPACE)


@pytest.fixture(scope="module")
def provisioned(controller):
    """Pending pods that only this test's NodePool can hold, until they run on the nodes Karpenter launched."""
    core, apps, custom = _api()
    labenv.aws_calls(reset=True)
    started = time.monotonic()
    apps.create_namespaced_deployment(NAMESPACE, _deployment("inflate", REPLICAS, POOL_LABEL))

    def running():
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=inflate").items
        return pods if len(pods) == REPLICAS and all(p.status.phase == "Running" for p in pods) else None

    pods = _wait(f"{REPLICAS} pods Running", running)
    seconds = time.monotonic() - started
    nodes = {n.metadata.name: n for n in core.list_node(label_selector=f"karpenter.sh/nodepool={POOL}").items}
    instances = _instances(("running",))
    print(f"\n[karpenter] {REPLICAS} pods pending -> Running in {seconds:.1f}s on {len(nodes)} node(s):")
    for pod in pods:
        print(f"  pod {pod.metadata.name} -> {pod.spec.node_name}")
    for name, node in nodes.items():
        print(f"  node {name} {node.metadata.labels['node.kubernetes.io/instance-type']} "
              f"{node.metadata.labels['topology.kubernetes.io/zone']} {node.spec.provider_id}")
    # Karpenter marks a claim Initialized a moment after its node is Ready
    claims = _wait("NodeClaims Initialized", lambda: _initialized(_nodeclaims(custom)))
    amis = {next(r["values"][0] for r in a["requirements"] if r["key"] == "kubernetes.io/arch"): a["id"]
            for a in controller["node_class"]["status"]["amis"]}
    return {"pods": pods, "nodes": nodes, "instances": instances, "claims": claims, "amis": amis,
            "calls": labenv.aws_calls(), "seconds": seconds}


def test_pending_pods_get_nodes_launched_in_what_our_tags_select(provisioned):
    nodes, instances, claims = provisioned["nodes"], provisioned["instances"], provisioned["claims"]
    assert {p.spec.node_name for p in provisioned["pods"]} <= set(nodes)
    assert nodes and len(claims) == len(nodes) == len(instances)
    by_id = {i["InstanceId"]: i for i in instances}
    for name, node in nodes.items():
        zone, instance_id = re.fullmatch(r"aws:///([a-z0-9-]+)/(i-[0-9a-f]+)", node.spec.provider_id).groups()
        instance = by_id[instance_id]
        assert instance["Placement"]["AvailabilityZone"] == zone
        assert instance["InstanceType"] == node.metadata.labels["node.kubernetes.io/instance-type"]
        assert instance["SubnetId"] in _discovered("subnets")
        assert {g["GroupId"] for g in instance["SecurityGroups"]} == _discovered("security_groups")
        assert instance["ImageId"] == provisioned["amis"]["amd64"]
        labels = node.metadata.labels
        assert labels["karpenter.sh/capacity-type"] == "on-demand" and labels["kubernetes.io/arch"] == "amd64"
        assert labels["karpenter.k8s.aws/instance-category"] in ("c", "m") and int(labels["karpenter.k8s.aws/instance-generation"]) > 4
        assert labels["nodeless.eks/test"] == "provisioning" and labels["karpenter.sh/registered"] == "true"
        assert not [t for t in node.spec.taints or [] if t.key == "karpenter.sh/unregistered"]
    for claim in claims:
        conditions = {c["type"]: c["status"] for c in claim["status"]["conditions"]}
        assert conditions["Launched"] == conditions["Registered"] == conditions["Initialized"] == "True", conditions
    fleets = [c for c in provisioned["calls"] if c[1] == "CreateFleet"]
    assert fleets and all(c[2] == 200 for c in fleets), fleets


def test_scaled_to_zero_the_nodes_are_consolidated_and_instances_terminated(provisioned):
    core, apps, custom = _api()
    ids = {i["InstanceId"] for i in provisioned["instances"]}
    started = time.monotonic()
    apps.patch_namespaced_deployment_scale("inflate", NAMESPACE, {"spec": {"replicas": 0}})
    _wait("this test's nodes deleted", lambda: not core.list_node(label_selector=f"karpenter.sh/nodepool={POOL}").items)
    _wait("this test's NodeClaims deleted", lambda: not _nodeclaims(custom))
    states = {i["InstanceId"]: i["State"]["Name"] for i in _instances() if i["InstanceId"] in ids}
    assert states == dict.fromkeys(ids, "terminated"), states
    print(f"\n[karpenter] scaled to zero: {len(ids)} node(s) consolidated and instance(s) terminated in "
          f"{time.monotonic() - started:.1f}s")


def test_pool_limit_holds_the_pods_beyond_it_pending(controller):
    core, apps, custom = _api()
    asked = 2 * LIMITED_CPU
    apps.create_namespaced_deployment(NAMESPACE, _deployment("limited", asked, LIMITED_LABEL))

    def settled():  # some pods run on the capacity the limit allows; Karpenter launches nothing more
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=limited").items
        running = [p for p in pods if p.status.phase == "Running"]
        return (pods, running) if running and _initialized(_nodeclaims(custom, LIMITED)) else None

    _wait("pods Running within the pool's limit", settled)
    time.sleep(15)  # more than Karpenter's batch window (10 s): a launch beyond the limit would have started
    pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=limited").items
    nodes = core.list_node(label_selector=f"karpenter.sh/nodepool={LIMITED}").items
    cpus = sum(int(n.status.capacity["cpu"]) for n in nodes)
    pending = [p.metadata.name for p in pods if p.status.phase == "Pending"]
    print(f"\n[karpenter] NodePool {LIMITED} (limit cpu {LIMITED_CPU}): {len(nodes)} node(s) with {cpus} vCPU, "
          f"{len(pods) - len(pending)} pod(s) Running, {len(pending)} Pending")
    assert nodes and cpus <= LIMITED_CPU
    assert len(_nodeclaims(custom, LIMITED)) == len(nodes)
    assert pending and len(pending) == asked - sum(1 for p in pods if p.status.phase == "Running")
    apps.patch_namespaced_deployment_scale("limited", NAMESPACE, {"spec": {"replicas": 0}})
    _wait(f"the nodes of {LIMITED} consolidated", lambda: not _nodeclaims(custom, LIMITED))


def test_spot_interruption_on_the_role_queue_replaces_the_node(controller):
    core, apps, custom = _api()
    dep = apps.read_namespaced_deployment("karpenter", "karpenter").spec.template.spec.containers[0]
    queue = next(e.value for e in dep.env if e.name == "INTERRUPTION_QUEUE")
    sqs = labenv.boto3_client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]  # the queue the role created and named in the chart's values
    apps.patch_namespaced_deployment_scale("inflate", NAMESPACE, {"spec": {"replicas": 2}})
    claim = _wait("a NodeClaim Initialized for 2 pods", lambda: _initialized(_nodeclaims(custom)))[0]
    node, provider_id = claim["status"]["nodeName"], claim["status"]["providerID"]
    zone, instance_id = provider_id.rsplit("/", 2)[-2:]
    state = labenv.state()
    event = {  # EventBridge's envelope of aws.ec2@EC2SpotInstanceInterruptionWarning, as the role's rule delivers it
        "version": "0", "id": "5f4f0b2e-lab0-interruption", "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2", "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": state["region"], "resources": [f"arn:aws:ec2:{zone}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "instance-action": "terminate"},
    }
    started = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))

    def replaced():
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=inflate").items
        moved = len(pods) == 2 and all(p.status.phase == "Running" and p.spec.node_name not in (None, node) for p in pods)
        return pods if moved and claim["metadata"]["name"] not in {c["metadata"]["name"] for c in _nodeclaims(custom)} else None

    pods = _wait("the pods Running on a replacement node", replaced)
    seconds = time.monotonic() - started
    old = [i for i in _instances() if i["InstanceId"] == instance_id]
    assert [i["State"]["Name"] for i in old] == ["terminated"]
    assert not [n for n in core.list_node().items if n.metadata.name == node]
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
    assert attributes == dict.fromkeys(counts, "0")  # consumed: deleted, not merely in flight
    lines = controller["log"].read_bytes()[controller["offset"]:].decode(errors="replace").splitlines()  # this run's
    handled = [json.loads(line) for line in lines if "initiating delete from interruption message" in line]
    assert [(e["queue"], e["messageKind"], e["action"], e["NodeClaim"]["name"]) for e in handled] == [
        (queue, "spot_interrupted", "CordonAndDrain", claim["metadata"]["name"])]
    print(f"\n[karpenter] spot interruption for {instance_id} ({node}) on queue {queue}: pods on "
          f"{sorted({p.spec.node_name for p in pods})} after {seconds:.1f}s; message consumed, instance terminated")
    apps.patch_namespaced_deployment_scale("inflate", NAMESPACE, {"spec": {"replicas": 0}})
    _wait("the replacement consolidated", lambda: not _nodeclaims(custom))


def test_controller_log_has_no_error(controller, provisioned):
    del provisioned  # the scenarios above ran first
    lines = controller["log"].read_bytes()[controller["offset"]:].decode(errors="replace").splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    # Before the EC2NodeClasses the pools name are resolved, Karpenter's instance-type consumers find no subnets
    # (a fresh cluster logs the same, _pools_resolved); after that, nothing may fail.
    errors = [e for e in entries if e.get("level") == "ERROR"
              and not (e.get("time", "")[:19] <= controller["resolved_at"] and "no subnets found" in e.get("error", ""))
              and not _provoked_by_the_limit(e)]
    assert entries and errors == [], "\n".join(json.dumps(e)[:400] for e in errors)


# A legacy set (three v1alpha5 Provisioners sharing one AWSNodeTemplate, with kubelet settings that disagree),
# converted by both modules' legacy_definition in the converge above: kc-batch's maxPods 20 lives on its own
# class kc-shared-kc-batch, which Karpenter launches kc-batch's nodes with.
LEGACY_SET = Path(__file__).resolve().parents[1] / "fixtures" / "karpenter" / "sets" / "provisioners-sharing-a-template.yaml"
LEGACY_POOLS = ("kc-web", "kc-batch", "kc-general")
LEGACY_CLASSES = ("kc-shared", "kc-shared-kc-batch", "kc-shared-kc-web")
LEGACY_LABEL = {"nodeless.eks/test": "legacy-batch"}
LEGACY_MAX_PODS = "20"


def _legacy_set_tasks() -> list:
    text = LEGACY_SET.read_text()
    return [{"name": "A converted legacy set: its node classes, with the Provisioners' kubelet settings",
             "nodeless.eks.karpenter_ec2nodeclass": {"role": "KarpenterNodeRole-{{ nodeless_eks_cluster_name }}", "legacy_definition": text}},
            {"name": "A converted legacy set: its NodePools", "nodeless.eks.karpenter_nodepool": {"legacy_definition": text}}]


def test_a_converted_legacy_set_provisions_a_node_with_its_class_s_kubelet_settings(controller):
    del controller  # running
    core, apps, custom = _api()
    classes = {o["metadata"]["name"]: o for o in custom.list_cluster_custom_object("karpenter.k8s.aws", "v1", "ec2nodeclasses")["items"]
               if o["metadata"]["name"] in LEGACY_CLASSES}
    assert sorted(classes) == sorted(LEGACY_CLASSES)
    assert "kubelet" not in classes["kc-shared"]["spec"] and classes["kc-shared-kc-web"]["spec"]["kubelet"] == {"maxPods": 40}
    assert classes["kc-shared-kc-batch"]["spec"]["kubelet"]["maxPods"] == int(LEGACY_MAX_PODS)
    pools = {n: custom.get_cluster_custom_object("karpenter.sh", "v1", "nodepools", n)["spec"]["template"]["spec"]["nodeClassRef"]["name"]
             for n in LEGACY_POOLS}
    assert pools == {"kc-web": "kc-shared-kc-web", "kc-batch": "kc-shared-kc-batch", "kc-general": "kc-shared"}
    started = time.monotonic()
    apps.create_namespaced_deployment(NAMESPACE, _deployment("legacy-batch", 2, LEGACY_LABEL))

    def running():
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=legacy-batch").items
        return pods if len(pods) == 2 and all(p.status.phase == "Running" for p in pods) else None

    pods = _wait("2 pods of the converted NodePool kc-batch Running", running)
    seconds = time.monotonic() - started
    claims = _wait("kc-batch's NodeClaims Initialized", lambda: _initialized(_nodeclaims(custom, "kc-batch")))
    nodes = {n.metadata.name: n for n in core.list_node(label_selector="karpenter.sh/nodepool=kc-batch").items}
    assert {p.spec.node_name for p in pods} <= set(nodes) and len(nodes) == len(claims)
    for claim in claims:
        assert claim["spec"]["nodeClassRef"]["name"] == "kc-shared-kc-batch"
        assert claim["status"]["capacity"]["pods"] == LEGACY_MAX_PODS  # Karpenter's figure from the class's kubelet
    for node in nodes.values():
        assert node.status.capacity["pods"] == LEGACY_MAX_PODS and node.metadata.labels["nodeless.eks/test"] == "legacy-batch"
    print(f"\n[karpenter] converted legacy set: 2 pods of NodePool kc-batch Running in {seconds:.1f}s on "
          + ", ".join(f"{n} ({node.metadata.labels['node.kubernetes.io/instance-type']}, pods {node.status.capacity['pods']})"
                      for n, node in nodes.items()) + " from EC2NodeClass kc-shared-kc-batch")
    apps.patch_namespaced_deployment_scale("legacy-batch", NAMESPACE, {"spec": {"replicas": 0}})
    _wait("kc-batch's nodes consolidated", lambda: not _nodeclaims(custom, "kc-batch"))
