# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster health and upgrade readiness: findings computed from what the API server already says.

Pure functions, no I/O: the ``cluster_health`` module reads ``/metrics``, ``/version``, nodes,
webhook configurations, PodDisruptionBudgets and Deployments, and hands the plain dictionaries here.
Every check returns ``(facts, findings)``; a finding is a dict made by :func:`finding`.
"""

from __future__ import annotations

import importlib.util
import re

# prometheus_client is imported where /metrics is parsed, not here: this file is imported by a filter, and Ansible
# loads every filter file of the collection in each task that uses any nodeless.eks filter.
HAS_PROMETHEUS_CLIENT = importlib.util.find_spec("prometheus_client") is not None

SEVERITIES = ("info", "warning", "critical")
GIB = 1024 ** 3
# Kubelets may be up to three minors older than the API server (Kubernetes >= 1.28 skew policy).
MAX_KUBELET_SKEW = 3
# Add-ons whose image minor must equal the cluster's minor (upstream releases one per Kubernetes minor).
DEFAULT_ADDON_IMAGES = ("cluster-autoscaler", "kube-proxy")

_PROBES = ("/readyz", "/livez", "/healthz")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)")
_TAG_VERSION = re.compile(r":v?(\d+)\.(\d+)(?:\.\d+)?[^:/]*$")


def finding(check: str, severity: str, subject: str, message: str, **detail) -> dict:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
    return {"check": check, "severity": severity, "subject": subject, "message": message, "detail": detail}


def parse_metrics(text: str, families: tuple) -> dict:
    """Prometheus text exposition -> {sample name: [(labels, value), ...]} for the wanted names only, parsed by
    prometheus_client (the module fails with missing_required_lib before this when it cannot be imported). Text that
    is not the exposition format raises ValueError."""
    from prometheus_client.parser import text_string_to_metric_families  # pylint: disable=import-outside-toplevel

    out: dict = {name: [] for name in families}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in out:
                    out[sample.name].append((dict(sample.labels), float(sample.value)))
    except ValueError as exc:
        raise ValueError(f"/metrics is not the Prometheus text format: {exc}") from exc
    return out


def minor(version: str) -> tuple | None:
    match = _VERSION.match(version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _fmt(ver: tuple) -> str:
    return f"{ver[0]}.{ver[1]}"


def request_errors(samples: list, min_requests: int, warning_ratio: float, critical_ratio: float) -> tuple:
    """apiserver_request_total -> error ratio (5xx and 429) by verb and resource; counters since the API server started."""
    groups: dict = {}
    for labels, value in samples:
        if not labels.get("resource") and labels.get("subresource", "").startswith(_PROBES):
            continue  # health probes answer 500 by design while a component is not ready
        resource = "/".join(p for p in (labels.get("group"), labels.get("resource"), labels.get("subresource")) if p)
        key = (labels.get("verb", ""), resource or "(non-resource)")
        total, errors = groups.get(key, (0.0, 0.0))
        code = labels.get("code", "")
        groups[key] = (total + value, errors + (value if code.startswith("5") or code == "429" else 0.0))
    rows = sorted(({"verb": verb, "resource": res, "requests": int(total), "errors": int(errors),
                    "ratio": round(errors / total, 4) if total else 0.0}
                   for (verb, res), (total, errors) in groups.items()),
                  key=lambda r: (-r["ratio"], -r["requests"], r["verb"], r["resource"]))
    findings = []
    for row in rows:
        if row["requests"] < min_requests or row["ratio"] < warning_ratio:
            continue
        severity = "critical" if row["ratio"] >= critical_ratio else "warning"
        findings.append(finding("request_errors", severity, f"{row['verb']} {row['resource']}",
                                f"{row['errors']} of {row['requests']} {row['verb']} requests on {row['resource']} failed "
                                f"({row['ratio']:.1%}): look at the API server logs and at webhooks or throttling (429)",
                                **row))
    total = sum(r["requests"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    facts = {"requests": total, "errors": errors, "ratio": round(errors / total, 4) if total else 0.0,
             "worst": [r for r in rows if r["errors"]][:10]}
    return facts, findings


def storage(metrics: dict, limit_bytes: int, warning_ratio: float, critical_ratio: float) -> tuple:
    """Database size (apiserver_storage_size_bytes, or the older etcd metric names) against the limit."""
    size = None
    for family in ("apiserver_storage_size_bytes", "apiserver_storage_db_total_size_in_bytes", "etcd_db_total_size_in_bytes"):
        values = [sample[1] for sample in metrics.get(family) or []]
        if values:
            size = int(max(values))
            break
    facts = {"size_bytes": size, "limit_bytes": limit_bytes,
             "ratio": round(size / limit_bytes, 4) if size is not None else None}
    if size is None:
        return facts, [finding("storage", "info", "etcd", "the API server exposes no storage size metric; check the database size another way")]
    if facts["ratio"] < warning_ratio:
        return facts, []
    severity = "critical" if facts["ratio"] >= critical_ratio else "warning"
    return facts, [finding("storage", severity, "etcd",
                           f"the cluster database is {size / GIB:.2f} GiB, {facts['ratio']:.0%} of its {limit_bytes / GIB:.2f} GiB limit: "
                           "delete unused objects (old ReplicaSets, Events, large ConfigMaps/Secrets, CRs) before it becomes read-only",
                           size_bytes=size, limit_bytes=limit_bytes, ratio=facts["ratio"])]


def deprecated_apis(samples: list, target: tuple | None) -> tuple:
    """apiserver_requested_deprecated_apis (1 = requested since the API server started)."""
    apis, findings = [], []
    for labels, value in samples:
        if not value:
            continue
        group = labels.get("group") or "core"
        api = {"group": labels.get("group", ""), "version": labels.get("version", ""), "resource": labels.get("resource", ""),
               "subresource": labels.get("subresource", ""), "removed_release": labels.get("removed_release", "")}
        apis.append(api)
        name = f"{group}/{api['version']} {api['resource']}" + (f"/{api['subresource']}" if api["subresource"] else "")
        removed = minor(api["removed_release"])
        # Deprecated without a removal date (core/v1 Endpoints, ComponentStatus) is worth knowing, not a blocker.
        if removed is None:
            severity = "info"
        else:
            severity = "critical" if target is not None and removed <= target else "warning"
        when = f"removed in {api['removed_release']}" if api["removed_release"] else "deprecated (no removal release announced)"
        findings.append(finding("deprecated_apis", severity, name,
                                f"clients requested {name}, {when}: find them in the audit log "
                                "(annotation k8s.io/deprecated) and move them to the replacement version", **api))
    apis.sort(key=lambda a: (a["group"], a["version"], a["resource"], a["subresource"]))
    findings.sort(key=lambda f: f["subject"])
    return apis, findings


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """metav1.LabelSelector semantics; an absent or empty selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _catch_all(rule: dict) -> bool:
    return ("*" in (rule.get("apiGroups") or []) and "*" in (rule.get("apiVersions") or [])
            and bool({"*", "*/*"} & set(rule.get("resources") or [])))


def webhooks(configs: list, kube_system_labels: dict) -> tuple:
    """Admission webhooks whose rules catch every resource and that fail closed (failurePolicy Fail)."""
    risky, findings = [], []
    for config in configs:
        kind, name = config.get("kind", ""), (config.get("metadata") or {}).get("name", "")
        for hook in config.get("webhooks") or []:
            rules = hook.get("rules") or []
            policy = hook.get("failurePolicy") or "Fail"  # the admissionregistration/v1 default
            if policy != "Fail" or not any(_catch_all(r) for r in rules):
                continue
            includes_kube_system = selector_matches(hook.get("namespaceSelector"), kube_system_labels)
            entry = {"kind": kind, "configuration": name, "webhook": hook.get("name", ""), "failure_policy": policy,
                     "excludes_kube_system": not includes_kube_system,
                     "operations": sorted({op for r in rules for op in r.get("operations") or []}),
                     "object_selector": bool(hook.get("objectSelector"))}
            risky.append(entry)
            if includes_kube_system:
                msg = ("catches every resource, fails closed and includes kube-system: when its service is down no pod, "
                       "lease or node update is admitted, the cluster stalls. Narrow its rules, exclude kube-system with a "
                       "namespaceSelector, or set failurePolicy Ignore")
            else:
                msg = "catches every resource and fails closed: when its service is down every write outside kube-system is refused"
            findings.append(finding("admission_webhooks", "critical" if includes_kube_system else "warning",
                                    f"{kind}/{name} {entry['webhook']}", msg, **entry))
    return risky, findings


def version_skew(server_version: str, nodes: list) -> tuple:
    """Kubelet versions from node info against the control plane: newer is unsupported, n-3 blocks the next upgrade."""
    control = minor(server_version)
    by_version: dict = {}
    for node in nodes:
        kubelet = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
        by_version.setdefault(kubelet, []).append((node.get("metadata") or {}).get("name", ""))
    facts = {"control_plane": server_version, "kubelets": {v: len(n) for v, n in sorted(by_version.items())}}
    findings = []
    for kubelet, names in sorted(by_version.items()):
        ver = minor(kubelet)
        if control is None or ver is None:
            continue
        behind = (control[0] - ver[0]) * 100 + control[1] - ver[1]
        detail = {"kubelet_version": kubelet, "nodes": sorted(names), "minors_behind": behind}
        subject = f"{len(names)} node(s) on {kubelet}"
        if behind < 0:
            findings.append(finding("version_skew", "critical", subject,
                                    f"kubelet {_fmt(ver)} is newer than the control plane {_fmt(control)}: unsupported, "
                                    "upgrade the control plane first", **detail))
        elif behind > MAX_KUBELET_SKEW:
            findings.append(finding("version_skew", "critical", subject,
                                    f"kubelet {_fmt(ver)} is {behind} minors behind the control plane {_fmt(control)}, beyond the "
                                    f"supported {MAX_KUBELET_SKEW}: replace these nodes now", **detail))
        elif behind == MAX_KUBELET_SKEW:
            findings.append(finding("version_skew", "warning", subject,
                                    f"kubelet {_fmt(ver)} is {behind} minors behind: upgrade these nodes before the next "
                                    "control plane upgrade", **detail))
        elif behind > 0:
            findings.append(finding("version_skew", "info", subject,
                                    f"kubelet {_fmt(ver)} is {behind} minor(s) behind the control plane {_fmt(control)}", **detail))
    return facts, findings


def addon_images(deployments: list, cluster_version: str, names: tuple = DEFAULT_ADDON_IMAGES) -> tuple:
    """Containers of Deployments and DaemonSets running an add-on whose image minor must equal the cluster's."""
    cluster = minor(cluster_version)
    seen, findings = [], []
    for obj in deployments:
        meta = obj.get("metadata") or {}
        containers = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
        for container in containers:
            image = container.get("image") or ""
            repo = image.rsplit(":", 1)[0].rsplit("/", 1)[-1]
            if repo not in names:
                continue
            match = _TAG_VERSION.search(image)
            ver = (int(match.group(1)), int(match.group(2))) if match else None
            entry = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                     "container": container.get("name", ""), "image": image, "minor": _fmt(ver) if ver else None}
            seen.append(entry)
            if ver and cluster and ver != cluster:
                findings.append(finding("addon_images", "warning", f"{entry['kind']}/{entry['namespace']}/{entry['name']}",
                                        f"{repo} image {image} is for Kubernetes {_fmt(ver)} but the cluster runs {_fmt(cluster)}: "
                                        f"use the {repo} release whose minor matches the cluster", **entry))
    return seen, findings


def disruption_budgets(pdbs: list) -> tuple:
    """PodDisruptionBudgets that allow zero disruptions: node drains (and so upgrades) hang on them."""
    blocked, findings = [], []
    for pdb in pdbs:
        meta, spec, status = pdb.get("metadata") or {}, pdb.get("spec") or {}, pdb.get("status") or {}
        expected = status.get("expectedPods") or 0
        zero_spec = str(spec.get("maxUnavailable", "")) in ("0", "0%")
        if not zero_spec and not (expected > 0 and (status.get("disruptionsAllowed") or 0) == 0):
            continue
        entry = {"namespace": meta.get("namespace", ""), "name": meta.get("name", ""), "expected_pods": expected,
                 "disruptions_allowed": status.get("disruptionsAllowed") or 0,
                 "min_available": spec.get("minAvailable"), "max_unavailable": spec.get("maxUnavailable")}
        blocked.append(entry)
        findings.append(finding("disruption_budgets", "warning", f"{entry['namespace']}/{entry['name']}",
                                "allows zero disruptions: draining its nodes during an upgrade waits forever. Add replicas "
                                "or relax minAvailable/maxUnavailable before the upgrade", **entry))
    return blocked, findings


def _addon_row(addon: dict, now: str, then: str) -> tuple:
    """One add-on against the versions EKS lists for the cluster's minor (NOW) and the target's (THEN): (row, finding)."""
    name, version = addon["name"], addon["version"]
    compatible = addon.get("compatible_versions") or {}
    current_versions = (compatible.get(now) or {}).get("versions") or []
    target = compatible.get(then) or {}
    target_versions, default = target.get("versions") or [], target.get("default")
    both = [v for v in target_versions if v in current_versions]  # newest first, as eks_addon_info lists them
    row = {"name": name, "version": version, "cluster_version": now, "target_version": then,
           "target_versions": list(target_versions), "target_default": default, "update_to": None}
    subject = f"add-on {name}"
    if version in target_versions:
        return dict(row, action="none", status=f"compatible with {then}"), None
    if both:
        pick = default if default in both else both[0]
        row.update(action="update_before_upgrade", update_to=pick, status=f"update to {pick} before the upgrade")
        return row, finding("addon_versions", "critical", subject,
                            f"{name} {version} is not compatible with Kubernetes {then}: update the add-on to {pick} "
                            f"(compatible with {now} and {then}) before the control plane upgrade", **row)
    if target_versions:
        pick = default or target_versions[0]
        row.update(action="update_after_upgrade", update_to=pick, status=f"update to {pick} right after the upgrade")
        return row, finding("addon_versions", "info", subject,
                            f"no version of {name} EKS lists runs on both {now} and {then} (released per Kubernetes minor, "
                            f"as kube-proxy is): update it to {pick} right after the control plane upgrade", **row)
    row.update(action="no_version", status=f"EKS lists no version for {then}")
    return row, finding("addon_versions", "warning", subject,
                        f"EKS lists no version of {name} for Kubernetes {then}: is {then} offered in this region yet? "
                        "Do not upgrade the control plane before it is", **row)


def addon_versions(addons: list, cluster_version: str, target: str | None) -> tuple:
    """Upgrade readiness of EKS managed add-ons: each installed version against the versions EKS lists for the target
    minor. ``addons``: nodeless.eks.eks_addon_info's ``addons`` read with ``kubernetes_versions`` [cluster minor, target]
    (``compatible_versions``: {minor: {versions: newest first, default}}).

    - compatible with the target: nothing to do;
    - not, but a version runs on both minors: critical, update the add-on to it (the target's default when it runs on
      both, else the newest that does) before the control plane upgrade;
    - no version runs on both (kube-proxy, one release per minor, may lag the control plane): info, update it right
      after the upgrade;
    - no version at all for the target: warning, the target is not offered for it yet.
    """
    now, then = minor(cluster_version), minor(target or "")
    if now is None or then is None:
        return [], []
    rows, findings = [], []
    for addon in sorted(addons or [], key=lambda a: a["name"]):
        row, found = _addon_row(addon, _fmt(now), _fmt(then))
        rows.append(row)
        if found:
            findings.append(found)
    return rows, findings


def addons_errors(addons) -> list:
    """Messages naming each malformed entry of the module's ``addons`` option (eks_addon_info's shape)."""
    errors = []
    for index, addon in enumerate(addons or []):
        where = f"addons[{index}]"
        for key in ("name", "version"):
            if not isinstance(addon.get(key), str) or not addon.get(key):
                errors.append(f"{where}.{key}: must be the add-on's {key} as eks_addon_info returns it, got {addon.get(key)!r}")
        compatible = addon.get("compatible_versions")
        if compatible is None:
            errors.append(f"{where}.compatible_versions: missing; read the add-ons with eks_addon_info's kubernetes_versions")
            continue
        if not isinstance(compatible, dict) or not all(
                isinstance(v, dict) and isinstance(v.get("versions") or [], list) for v in compatible.values()):
            errors.append(f"{where}.compatible_versions: must map a Kubernetes minor to {{versions, default}}, got {compatible!r}")
    return errors


def next_minor(version: str) -> str | None:
    ver = minor(version)
    return f"{ver[0]}.{ver[1] + 1}" if ver else None


def summary(findings: list) -> dict:
    return {sev: sum(1 for f in findings if f["severity"] == sev) for sev in SEVERITIES}


def at_or_above(findings: list, threshold: str) -> list:
    """The findings whose severity is threshold or worse (threshold 'none' selects nothing)."""
    if threshold == "none":
        return []
    floor = SEVERITIES.index(threshold)
    return [f for f in findings if SEVERITIES.index(f["severity"]) >= floor]


def validate_thresholds(params: dict) -> list:
    """Messages naming each bad threshold; an empty list when all are sound."""
    errors = []
    for key in ("error_ratio_warning", "error_ratio_critical", "storage_warning_ratio", "storage_critical_ratio"):
        value = params.get(key)
        if value is None or not 0 < value <= 1:
            errors.append(f"{key}: must be a ratio greater than 0 and at most 1, got {value!r}")
    for low, high in (("error_ratio_warning", "error_ratio_critical"), ("storage_warning_ratio", "storage_critical_ratio")):
        if not errors and params[low] > params[high]:
            errors.append(f"{low}: {params[low]} is above {high} ({params[high]})")
    if (params.get("storage_limit_bytes") or 0) <= 0:
        errors.append(f"storage_limit_bytes: must be a positive number of bytes, got {params.get('storage_limit_bytes')!r}")
    if (params.get("min_requests") or 0) < 0:
        errors.append(f"min_requests: must be 0 or more, got {params.get('min_requests')!r}")
    target = params.get("target_version")
    if target and not re.match(r"^1\.\d+$", str(target)):
        errors.append(f"target_version: must be a Kubernetes minor such as 1.36, got {target!r}")
    return errors + addons_errors(params.get("addons"))


METRIC_FAMILIES = ("apiserver_request_total", "apiserver_requested_deprecated_apis", "apiserver_storage_size_bytes",
                   "apiserver_storage_db_total_size_in_bytes", "etcd_db_total_size_in_bytes")


def assess(inputs: dict, params: dict) -> dict:
    """Every check over what the module read: {health: facts per check, findings, summary}.

    ``inputs``: metrics_text, server_version, nodes, webhook_configurations, kube_system_labels,
    workloads (Deployments and DaemonSets), pdbs.
    """
    metrics = parse_metrics(inputs.get("metrics_text") or "", METRIC_FAMILIES)
    server = inputs.get("server_version") or ""
    target = params.get("target_version") or next_minor(server)
    requests, f_requests = request_errors(metrics["apiserver_request_total"], params["min_requests"],
                                          params["error_ratio_warning"], params["error_ratio_critical"])
    size, f_storage = storage(metrics, params["storage_limit_bytes"], params["storage_warning_ratio"], params["storage_critical_ratio"])
    deprecated, f_deprecated = deprecated_apis(metrics["apiserver_requested_deprecated_apis"], minor(target or ""))
    hooks, f_hooks = webhooks(inputs.get("webhook_configurations") or [], inputs.get("kube_system_labels") or {})
    skew, f_skew = version_skew(server, inputs.get("nodes") or [])
    images, f_images = addon_images(inputs.get("workloads") or [], server, tuple(params.get("addon_images") or ()))
    pdbs, f_pdbs = disruption_budgets(inputs.get("pdbs") or [])
    addons, f_addons = addon_versions(params.get("addons") or [], server, target)
    findings = f_requests + f_storage + f_deprecated + f_hooks + f_skew + f_images + f_pdbs + f_addons
    findings.sort(key=lambda f: (-SEVERITIES.index(f["severity"]), f["check"], f["subject"]))
    health = {"server_version": server, "target_version": target, "request_errors": requests, "storage": size,
              "deprecated_apis": deprecated, "admission_webhooks": hooks, "version_skew": skew,
              "addon_images": images, "disruption_budgets": pdbs, "addon_versions": addons}
    return {"health": health, "findings": findings, "summary": summary(findings)}
