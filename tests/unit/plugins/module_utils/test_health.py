import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import health

PARAMS = {"error_ratio_warning": 0.01, "error_ratio_critical": 0.05, "min_requests": 100, "storage_limit_bytes": 8 * health.GIB,
          "storage_warning_ratio": 0.5, "storage_critical_ratio": 0.8, "target_version": None,
          "addon_images": list(health.DEFAULT_ADDON_IMAGES)}

METRICS = """\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 900
apiserver_request_total{code="500",component="apiserver",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 100
apiserver_request_total{code="429",component="apiserver",group="apps",resource="deployments",subresource="",verb="PATCH",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",group="apps",resource="deployments",subresource="",verb="PATCH",version="v1"} 198
apiserver_request_total{code="404",component="apiserver",group="",resource="secrets",subresource="",verb="GET",version="v1"} 500
apiserver_request_total{code="503",component="apiserver",group="",resource="nodes",subresource="status",verb="PATCH",version="v1"} 5
apiserver_request_total_other{code="500"} 7
apiserver_request_total{code="500",component="",dry_run="",group="",resource="",scope="",subresource="/readyz",verb="GET",version=""} 420
apiserver_requested_deprecated_apis{group="",removed_release="",resource="endpoints",subresource="",version="v1"} 1
apiserver_requested_deprecated_apis{group="flowcontrol.apiserver.k8s.io",removed_release="1.32",resource="flowschemas",subresource="",version="v1beta3"} 1
apiserver_requested_deprecated_apis{group="example.com",removed_release="1.40",resource="widgets",subresource="status",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="example.com",removed_release="",resource="gone",subresource="",version="v1"} 0
apiserver_storage_size_bytes{storage_cluster_id="etcd-0"} 4.5e+09
apiserver_storage_size_bytes{storage_cluster_id="etcd-1"} 1.0e+06
"""


def _families():
    return health.parse_metrics(METRICS, health.METRIC_FAMILIES)


def test_parse_metrics_keeps_only_wanted_families_with_labels_and_values():
    fams = _families()
    assert len(fams["apiserver_request_total"]) == 7  # the _other family is not mixed in
    labels, value = fams["apiserver_request_total"][1]
    assert (labels["code"], labels["verb"], labels["resource"], value) == ("500", "LIST", "pods", 100.0)
    assert fams["etcd_db_total_size_in_bytes"] == []


def test_parse_metrics_unescapes_label_values_and_refuses_what_is_not_the_exposition_format():
    fams = health.parse_metrics('m{a="x\\"y",b="1"} 2\nm 3 1700000000\n', ("m",))
    assert fams["m"] == [({"a": 'x"y', "b": "1"}, 2.0), ({}, 3.0)]
    with pytest.raises(ValueError):
        health.parse_metrics('m{a="z"} NaNx\n', ("m",))


def test_request_errors_count_5xx_and_429_by_verb_and_resource():
    facts, findings = health.request_errors(_families()["apiserver_request_total"], 100, 0.01, 0.05)
    by_subject = {f["subject"]: f for f in findings}
    assert by_subject["LIST pods"]["severity"] == "critical"
    assert by_subject["LIST pods"]["detail"]["ratio"] == 0.1
    assert by_subject["PATCH apps/deployments"]["severity"] == "warning"  # 429 throttling counts
    assert "GET secrets" not in by_subject  # 404 is a client's business
    assert "PATCH nodes/status" not in by_subject  # 5 requests: too few to judge
    assert facts["requests"] == 1705 and facts["errors"] == 107  # /readyz 500s are probes, not errors
    assert facts["worst"][0]["resource"] == "nodes/status"


def test_storage_warning_at_half_and_critical_at_eighty_percent():
    facts, findings = health.storage(_families(), 8 * health.GIB, 0.5, 0.8)
    assert facts["size_bytes"] == 4_500_000_000  # the largest member
    assert [f["severity"] for f in findings] == ["warning"]
    findings = health.storage(_families(), 5 * health.GIB, 0.5, 0.8)[1]
    assert findings[0]["severity"] == "critical"
    findings = health.storage(_families(), 100 * health.GIB, 0.5, 0.8)[1]
    assert findings == []


def test_storage_falls_back_to_etcd_metric_and_reports_when_absent():
    facts = health.storage({"etcd_db_total_size_in_bytes": [({}, 2048.0)]}, health.GIB, 0.5, 0.8)[0]
    assert facts["size_bytes"] == 2048
    facts, findings = health.storage({}, health.GIB, 0.5, 0.8)
    assert facts["size_bytes"] is None and findings[0]["severity"] == "info"


def test_deprecated_apis_severity_follows_removal_against_target():
    apis, findings = health.deprecated_apis(_families()["apiserver_requested_deprecated_apis"], (1, 36))
    assert len(apis) == 3  # value 0 = not requested
    sev = {f["subject"]: f["severity"] for f in findings}
    assert sev == {"core/v1 endpoints": "info", "flowcontrol.apiserver.k8s.io/v1beta3 flowschemas": "critical",
                   "example.com/v1beta1 widgets/status": "warning"}


KUBE_SYSTEM = {"kubernetes.io/metadata.name": "kube-system"}


def _config(name, rules, policy=None, ns_selector=None, kind="ValidatingWebhookConfiguration"):
    hook = {"name": f"{name}.example.com", "rules": rules}
    if policy:
        hook["failurePolicy"] = policy
    if ns_selector is not None:
        hook["namespaceSelector"] = ns_selector
    return {"kind": kind, "metadata": {"name": name}, "webhooks": [hook]}


NOT_KUBE_SYSTEM = {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}
ALL = [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "operations": ["*"]}]


@pytest.mark.parametrize("config,severity", [
    (_config("a", ALL), "critical"),  # failurePolicy defaults to Fail in admissionregistration/v1
    (_config("b", ALL, "Fail", {"matchExpressions": [NOT_KUBE_SYSTEM]}), "warning"),
    (_config("c", ALL, "Fail", {"matchLabels": {"team": "x"}}), "warning"),
    (_config("d", ALL, "Ignore"), None),
    (_config("e", [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "Fail"), None),
    (_config("f", [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}], "Fail", {}, "MutatingWebhookConfiguration"),
     "critical"),
])
def test_webhooks_that_catch_everything_and_fail_closed(config, severity):
    risky, findings = health.webhooks([config], KUBE_SYSTEM)
    assert [f["severity"] for f in findings] == ([severity] if severity else [])
    if severity:
        assert risky[0]["excludes_kube_system"] == (severity == "warning")
        assert findings[0]["subject"].startswith(config["kind"])


@pytest.mark.parametrize("selector,labels,expected", [
    (None, {}, True), ({"matchLabels": {"a": "1"}}, {"a": "1"}, True), ({"matchLabels": {"a": "1"}}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "x"}, False),
])
def test_selector_matches(selector, labels, expected):
    assert health.selector_matches(selector, labels) is expected


def _node(name, kubelet):
    return {"metadata": {"name": name}, "status": {"nodeInfo": {"kubeletVersion": kubelet}}}


def test_version_skew_by_kubelet_version():
    nodes = [_node("a", "v1.35.4-eks-1"), _node("b", "v1.34.2"), _node("c", "v1.32.1"), _node("d", "v1.31.0"),
             _node("e", "v1.36.0"), _node("f", "v1.32.9")]
    facts, findings = health.version_skew("v1.35.4", nodes)
    sev = {f["detail"]["kubelet_version"]: f["severity"] for f in findings}
    assert sev == {"v1.34.2": "info", "v1.32.1": "warning", "v1.32.9": "warning", "v1.31.0": "critical", "v1.36.0": "critical"}
    assert facts["kubelets"]["v1.35.4-eks-1"] == 1


def _workload(kind, name, image):
    return {"kind": kind, "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}


def test_addon_images_minor_must_match_cluster():
    objs = [_workload("Deployment", "ca", "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0"),
            _workload("Deployment", "ca-ok", "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.1"),
            _workload("DaemonSet", "kube-proxy", "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.34.0-eksbuild.1"),
            _workload("Deployment", "coredns", "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.12.1-eksbuild.2"),
            _workload("Deployment", "other", "example.com/my-cluster-autoscaler-fork:v1.20.0")]
    seen, findings = health.addon_images(objs, "v1.35.4")
    assert [s["name"] for s in seen] == ["ca", "ca-ok", "kube-proxy"]
    assert sorted(f["subject"] for f in findings) == ["DaemonSet/kube-system/kube-proxy", "Deployment/kube-system/ca"]


def test_disruption_budgets_allowing_zero_disruptions():
    pdbs = [
        {"metadata": {"namespace": "a", "name": "blocked"}, "spec": {"minAvailable": 1},
         "status": {"expectedPods": 1, "disruptionsAllowed": 0}},
        {"metadata": {"namespace": "a", "name": "fine"}, "spec": {"minAvailable": 1}, "status": {"expectedPods": 3, "disruptionsAllowed": 2}},
        {"metadata": {"namespace": "a", "name": "nothing-yet"}, "spec": {"minAvailable": 1}, "status": {}},
        {"metadata": {"namespace": "b", "name": "zero"}, "spec": {"maxUnavailable": 0}, "status": {}},
    ]
    blocked, findings = health.disruption_budgets(pdbs)
    assert [b["name"] for b in blocked] == ["blocked", "zero"]
    assert all(f["severity"] == "warning" for f in findings)


def test_assess_combines_checks_most_severe_first():
    inputs = {"metrics_text": METRICS, "server_version": "v1.35.4", "nodes": [_node("a", "v1.35.4")],
              "webhook_configurations": [_config("a", ALL)], "kube_system_labels": KUBE_SYSTEM, "workloads": [], "pdbs": []}
    result = health.assess(inputs, PARAMS)
    assert result["health"]["target_version"] == "1.36"
    assert result["findings"][0]["severity"] == "critical"
    assert result["summary"] == {"info": 1, "warning": 3, "critical": 3}
    assert [f["check"] for f in health.at_or_above(result["findings"], "critical")] == \
        ["admission_webhooks", "deprecated_apis", "request_errors"]
    assert health.at_or_above(result["findings"], "none") == []
    assert len(health.at_or_above(result["findings"], "info")) == 7


def test_finding_rejects_unknown_severity():
    with pytest.raises(ValueError):
        health.finding("x", "fatal", "s", "m")


@pytest.mark.parametrize("override,field", [
    ({"error_ratio_warning": 0}, "error_ratio_warning"), ({"storage_critical_ratio": 1.5}, "storage_critical_ratio"),
    ({"error_ratio_warning": 0.5, "error_ratio_critical": 0.1}, "error_ratio_warning: 0.5 is above error_ratio_critical"),
    ({"storage_limit_bytes": 0}, "storage_limit_bytes"), ({"min_requests": -1}, "min_requests"),
    ({"target_version": "v2"}, "target_version"),
])
def test_validate_thresholds_names_the_field(override, field):
    errors = health.validate_thresholds(dict(PARAMS, **override))
    assert len(errors) == 1 and errors[0].startswith(field)


def test_validate_thresholds_accepts_defaults():
    assert health.validate_thresholds(PARAMS) == []
    assert health.next_minor("v1.35.4-eks-1") == "1.36" and health.next_minor("") is None


def _addon(name, version, now, then, then_default=None):
    """An add-on as eks_addon_info returns it with kubernetes_versions [1.35, 1.36] (versions newest first)."""
    return {"name": name, "version": version, "compatible_versions": {
        "1.35": {"versions": now, "default": now[-1] if now else None}, "1.36": {"versions": then, "default": then_default}}}


UPGRADE_ADDONS = [
    # compatible with 1.36 already
    _addon("aws-ebs-csi-driver", "v1.51.1-eksbuild.1", ["v1.53.0-eksbuild.1", "v1.51.1-eksbuild.1"],
           ["v1.53.0-eksbuild.1", "v1.51.1-eksbuild.1"], "v1.53.0-eksbuild.1"),
    # not compatible; the 1.36 default runs on 1.35 too: update to it before
    _addon("vpc-cni", "v1.20.4-eksbuild.1", ["v1.21.1-eksbuild.1", "v1.20.4-eksbuild.1"], ["v1.21.1-eksbuild.1"], "v1.21.1-eksbuild.1"),
    # not compatible; the 1.36 default does not run on 1.35: the newest version that runs on both
    _addon("coredns", "v1.12.1-eksbuild.2", ["v1.12.4-eksbuild.1", "v1.12.3-eksbuild.1", "v1.12.1-eksbuild.2"],
           ["v1.13.0-eksbuild.1", "v1.12.4-eksbuild.1", "v1.12.3-eksbuild.1"], "v1.13.0-eksbuild.1"),
    # one release per minor: no version spans both, update right after
    _addon("kube-proxy", "v1.35.0-eksbuild.2", ["v1.35.0-eksbuild.2"], ["v1.36.0-eksbuild.1"], "v1.36.0-eksbuild.1"),
    # EKS lists nothing for 1.36
    _addon("example-addon", "v0.1.0-eksbuild.1", ["v0.1.0-eksbuild.1"], []),
]


def test_addon_versions_decide_what_to_update_before_and_after_the_upgrade():
    rows, findings = health.addon_versions(UPGRADE_ADDONS, "v1.35.4", "1.36")
    assert [(r["name"], r["action"], r["update_to"]) for r in rows] == [
        ("aws-ebs-csi-driver", "none", None),
        ("coredns", "update_before_upgrade", "v1.12.4-eksbuild.1"),
        ("example-addon", "no_version", None),
        ("kube-proxy", "update_after_upgrade", "v1.36.0-eksbuild.1"),
        ("vpc-cni", "update_before_upgrade", "v1.21.1-eksbuild.1"),
    ]
    assert {(f["subject"], f["severity"]) for f in findings} == {
        ("add-on coredns", "critical"), ("add-on vpc-cni", "critical"), ("add-on kube-proxy", "info"),
        ("add-on example-addon", "warning")}
    vpc_cni = next(f for f in findings if f["subject"] == "add-on vpc-cni")
    assert vpc_cni["check"] == "addon_versions"
    assert vpc_cni["message"] == ("vpc-cni v1.20.4-eksbuild.1 is not compatible with Kubernetes 1.36: update the add-on to "
                                  "v1.21.1-eksbuild.1 (compatible with 1.35 and 1.36) before the control plane upgrade")
    assert vpc_cni["detail"]["target_versions"] == ["v1.21.1-eksbuild.1"]
    assert rows[0]["status"] == "compatible with 1.36" and rows[0]["target_default"] == "v1.53.0-eksbuild.1"


def test_addon_versions_need_both_minors_and_an_empty_list_finds_nothing():
    assert health.addon_versions(UPGRADE_ADDONS, "", "1.36") == ([], [])
    assert health.addon_versions(UPGRADE_ADDONS, "v1.35.4", None) == ([], [])
    assert health.addon_versions([], "v1.35.4", "1.36") == ([], [])
    # a target minor the add-ons were not read for: no version listed (a warning each), never a crash
    rows, findings = health.addon_versions(UPGRADE_ADDONS[:1], "v1.35.4", "1.37")
    assert rows[0]["action"] == "no_version" and findings[0]["severity"] == "warning"


def test_assess_adds_the_addon_findings_to_the_gate():
    inputs = {"metrics_text": "", "server_version": "v1.35.4", "nodes": [], "webhook_configurations": [],
              "kube_system_labels": KUBE_SYSTEM, "workloads": [], "pdbs": []}
    result = health.assess(inputs, dict(PARAMS, addons=UPGRADE_ADDONS))
    assert [r["name"] for r in result["health"]["addon_versions"]] == sorted(a["name"] for a in UPGRADE_ADDONS)
    assert [f["subject"] for f in health.at_or_above(result["findings"], "critical")] == ["add-on coredns", "add-on vpc-cni"]
    assert health.assess(inputs, PARAMS)["health"]["addon_versions"] == []


@pytest.mark.parametrize("addon,field", [
    ({"name": "", "version": "v1", "compatible_versions": {}}, "addons[0].name"),
    ({"name": "x", "version": 3, "compatible_versions": {}}, "addons[0].version"),
    ({"name": "x", "version": "v1"}, "addons[0].compatible_versions: missing"),
    ({"name": "x", "version": "v1", "compatible_versions": {"1.36": ["v1"]}}, "addons[0].compatible_versions: must map"),
])
def test_validate_thresholds_names_a_malformed_addon(addon, field):
    errors = health.validate_thresholds(dict(PARAMS, addons=[addon]))
    assert len(errors) == 1 and errors[0].startswith(field), errors
