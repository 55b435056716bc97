from ansible_collections.nodeless.eks.plugins.module_utils import health, provisioning


def _cond(kind, status, reason="", message=""):
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": "2026-12-05T08:00:00Z"}


NO_SUBNET = {"metadata": {"name": "no-subnet"}, "status": {"conditions": [
    _cond("AMIsReady", "True", "AMIsReady"), _cond("InstanceProfileReady", "True", "InstanceProfileReady"),
    _cond("Ready", "False", "UnhealthyDependents", "SubnetsReady=False"),
    _cond("SecurityGroupsReady", "True", "SecurityGroupsReady"),
    _cond("SubnetsReady", "False", "SubnetsNotFound", "SubnetSelector did not match any Subnets")]}}
READY_CLASS = {"metadata": {"name": "default"}, "status": {"conditions": [_cond("Ready", "True", "Ready"), _cond("SubnetsReady", "True")]}}
UNRECONCILED_CLASS = {"metadata": {"name": "fresh"}}


def _pool(name, *conditions):
    return {"metadata": {"name": name}, "status": {"conditions": list(conditions)}}


def _pod(name, selector=None, affinity_pools=None, node=None, namespace="apps"):
    spec = {"nodeSelector": selector or {}}
    if affinity_pools:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "In", "values": affinity_pools}]}]}}}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec, "status": {"phase": "Pending"}}


def _event(kind, name, reason, message, namespace="", stamp="2026-12-05T08:01:00Z", kind_of="Warning"):
    return {"involvedObject": {"kind": kind, "name": name, "namespace": namespace}, "reason": reason, "message": message,
            "type": kind_of, "lastTimestamp": stamp}


# As Karpenter v1.14.1 wrote it in the lab for a pod of a pool whose requirements filter out every instance type:
# that pool is not named, the other pools' mismatches are.
KARPENTER_MESSAGE = ("Failed to schedule pod, incompatible requirements, key nodeless.eks/test, nodeless.eks/test In [impossible] "
                     "not in nodeless.eks/test In [provisioning]")


def test_not_ready_class_names_each_failing_condition_ready_last():
    facts, findings = provisioning.node_classes([NO_SUBNET, READY_CLASS, UNRECONCILED_CLASS])
    assert [f["subject"] for f in findings] == ["EC2NodeClass/no-subnet"]
    message = findings[0]["message"]
    assert message.startswith("NotReady: SubnetsReady=False (SubnetsNotFound: SubnetSelector did not match any Subnets); "
                              "Ready=False (UnhealthyDependents: SubnetsReady=False)")
    assert findings[0]["severity"] == "warning" and findings[0]["check"] == "karpenter"
    # not reconciled yet: listed without a finding
    assert [(f["name"], f["ready"]) for f in facts] == [("no-subnet", "False"), ("default", "True"), ("fresh", None)]


def test_negative_conditions_count_when_true():
    claim = {"status": {"conditions": [_cond("Launched", "True"), _cond("Drifted", "True", "NodeClassDrift"),
                                       _cond("Consolidatable", "False"), _cond("Registered", "False", "RegistrationTimeout")]}}
    assert [c["type"] for c in provisioning.failing_conditions(claim)] == ["Drifted", "Registered"]
    # Unknown is Karpenter waiting (a NodePool's NodeRegistrationHealthy until a node registers), not a failure
    pool = _pool("general", _cond("Ready", "True"), _cond("NodeRegistrationHealthy", "Unknown", "AwaitingReconciliation"))
    assert provisioning.failing_conditions(pool) == []


def test_a_pod_targets_a_pool_by_its_template_labels_or_its_name():
    pool = {"metadata": {"name": "batch"}, "spec": {"template": {"metadata": {"labels": {"team": "batch"}}}}}
    assert provisioning.targets(_pod("a", selector={"team": "batch", "kubernetes.io/arch": "amd64"}), pool)
    assert provisioning.targets(_pod("b", affinity_pools=["batch", "other"]), pool)
    assert not provisioning.targets(_pod("c", selector={"team": "web"}), pool)
    assert not provisioning.targets(_pod("d", selector={"kubernetes.io/arch": "amd64"}), pool)  # asks nothing of this pool


def test_pool_with_pending_pods_reports_karpenter_message_event_and_conditions():
    pools = [_pool("impossible", _cond("Ready", "True")), _pool("general", _cond("Ready", "True"))]
    pods = [_pod("web-1", selector={"karpenter.sh/nodepool": "impossible"}), _pod("web-2", affinity_pools=["impossible"]),
            _pod("other", selector={"karpenter.sh/nodepool": "general"})]
    events = [
        _event("Pod", "web-1", "FailedScheduling", "0/3 nodes are available: 3 node(s) didn't match", "apps", "2026-12-05T08:00:00Z"),
        _event("Pod", "web-1", "FailedScheduling", KARPENTER_MESSAGE, "apps", "2026-12-05T08:02:00Z"),
        _event("Pod", "web-2", "FailedScheduling", KARPENTER_MESSAGE, "apps"),
        # kube-scheduler's, not Karpenter's: not a reason Karpenter gave
        _event("Pod", "other", "FailedScheduling", "0/3 nodes are available", "apps"),
        _event("NodePool", "impossible", "NoCompatibleInstanceTypes", "NodePool requirements filtered out all compatible available instance types"),
    ]
    facts, findings = provisioning.node_pools(pools, [], pods, events)
    assert [f["subject"] for f in findings] == ["NodePool/impossible"]
    found = findings[0]
    assert found["detail"]["pending_pods"] == ["apps/web-1", "apps/web-2"]
    assert "2 pod(s) pending that Karpenter cannot place (apps/web-1, apps/web-2): " + KARPENTER_MESSAGE in found["message"]
    assert "NodePool event NoCompatibleInstanceTypes: NodePool requirements filtered out" in found["message"]
    assert {p["name"]: p["pending_pods"] for p in facts} == {"impossible": ["apps/web-1", "apps/web-2"], "general": []}


def test_pool_named_only_in_karpenter_message_and_unplaced_pod_without_pool():
    message = 'Failed to schedule pod, all available instance types exceed limits for nodepool, NodePool/limited'
    pods = [_pod("a"), _pod("b")]
    events = [_event("Pod", "a", "FailedScheduling", message, "apps"),
              _event("Pod", "b", "FailedScheduling", "Failed to schedule pod, no nodepools found", "apps")]
    _facts, findings = provisioning.node_pools([_pool("limited", _cond("Ready", "True"))], [], pods, events)
    assert [(f["subject"], f["detail"].get("pending_pods")) for f in findings] == [
        ("NodePool/limited", ["apps/a"]), ("Pod/apps/b", None)]
    assert findings[1]["message"] == "pending, Karpenter cannot place it: Failed to schedule pod, no nodepools found"


def test_pool_not_ready_and_failing_nodeclaims():
    pool = _pool("gpu", _cond("NodeClassReady", "False", "NodeClassNotReady", "EC2NodeClass gpu is not ready"),
                 _cond("Ready", "False", "UnhealthyDependents"))
    claims = [{"metadata": {"name": "gpu-abcde", "labels": {"karpenter.sh/nodepool": "gpu"}},
               "status": {"conditions": [_cond("Launched", "False", "InsufficientCapacityError", "no capacity for g5.xlarge")]}},
              {"metadata": {"name": "other-1", "labels": {"karpenter.sh/nodepool": "other"}}, "status": {"conditions": []}}]
    facts, findings = provisioning.node_pools([pool], claims, [], [])
    message = findings[0]["message"]
    assert "NodePool conditions: NodeClassReady=False (NodeClassNotReady: EC2NodeClass gpu is not ready); Ready=False" in message
    assert "NodeClaim gpu-abcde: Launched=False (InsufficientCapacityError: no capacity for g5.xlarge)" in message
    assert facts[0]["nodeclaims"] == 1


def test_healthy_pool_and_bound_pods_give_nothing():
    pods = [_pod("bound", selector={"karpenter.sh/nodepool": "general"}, node="ip-10-0-0-1")]
    facts, findings = provisioning.assess({"karpenter_installed": True, "nodepools": [_pool("general", _cond("Ready", "True"))],
                                           "pending_pods": pods, "warning_events": [
                                               _event("Pod", "bound", "FailedScheduling", KARPENTER_MESSAGE, "apps")]})
    assert findings == [] and facts["node_pools"][0]["pending_pods"] == []


def test_not_installed_and_merge_into_the_health_report():
    assert provisioning.assess({"karpenter_installed": False}) == ({"installed": False, "node_classes": [], "node_pools": []}, [])
    report = {"health": {"server_version": "v1.35.4"}, "findings": [
        health.finding("storage", "critical", "etcd", "full"), health.finding("webhooks", "info", "w", "m")],
        "summary": {"info": 1, "warning": 0, "critical": 1}}
    merged = provisioning.merge(report, {"karpenter_installed": True, "ec2nodeclasses": [NO_SUBNET]})
    assert [f["check"] for f in merged["findings"]] == ["storage", "karpenter", "webhooks"]
    assert merged["summary"] == {"info": 1, "warning": 1, "critical": 1}
    assert merged["health"]["karpenter"]["installed"] is True and merged["health"]["server_version"] == "v1.35.4"
