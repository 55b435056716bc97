# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why Karpenter does not provision, in its own words: the conditions of EC2NodeClasses, NodePools and
NodeClaims, and the events Karpenter publishes on NodePools and pending pods.

Pure functions, no I/O: the ``cluster_health`` module reads the objects and hands the plain dictionaries
here. :func:`assess` returns ``(facts, findings)`` like the checks of ``module_utils.health``.
"""

from __future__ import annotations

import re

from ansible_collections.nodeless.eks.plugins.module_utils.health import SEVERITIES, finding, summary

CHECK = "karpenter"
POOL_LABEL = "karpenter.sh/nodepool"
# Condition types where True is the state to report, not False (disruption markers of a NodeClaim).
NEGATIVE_CONDITIONS = frozenset(("Consolidatable", "Drifted", "Drained", "VolumesDetached", "InstanceTerminating",
                                 "DisruptionReason", "Empty", "Expired"))
# Karpenter's FailedScheduling message starts so (kube-scheduler's says "0/N nodes are available").
KARPENTER_FAILED = "Failed to schedule pod"
# A NodePool named in Karpenter's own messages: `NodePool/name` (structured errors) or `nodepool "name"`.
_POOL_IN_MESSAGE = re.compile(r'(?:NodePool/|nodepool "|NodePool=)([a-z0-9]([-a-z0-9.]*[a-z0-9])?)')


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def failing_conditions(obj: dict) -> list:
    """The object's conditions that are not as they should be, each {type, status, reason, message}. Unknown is
    not failing: Karpenter sets it while it waits (a NodePool's NodeRegistrationHealthy until a node registers)."""
    out = []
    for cond in (obj.get("status") or {}).get("conditions") or []:
        bad = cond.get("status") == ("True" if cond.get("type") in NEGATIVE_CONDITIONS else "False")
        if bad:
            out.append({key: cond.get(key, "") for key in ("type", "status", "reason", "message")})
    return out


def describe(conditions: list) -> str:
    """`Type=Status (Reason: message)` joined, the Ready condition last (it only sums up the others)."""
    ordered = sorted(conditions, key=lambda c: c["type"] == "Ready")
    return "; ".join(f"{c['type']}={c['status']} ({c['reason']}: {c['message']})" if c["message"] else
                     f"{c['type']}={c['status']} ({c['reason']})" for c in ordered)


def _ready(obj: dict) -> str | None:
    """The Ready condition's status; None while the controller has not reconciled the object."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status")
    return None


def node_classes(classes: list) -> tuple:
    """EC2NodeClasses: Ready, NotReady (with the conditions saying why) or not reconciled yet."""
    facts, findings = [], []
    for node_class in classes:
        name, ready = _name(node_class), _ready(node_class)
        bad = failing_conditions(node_class)
        facts.append({"name": name, "ready": ready, "conditions": bad})
        if ready is not None and ready != "True":
            findings.append(finding(CHECK, "warning", f"EC2NodeClass/{name}",
                                    f"NotReady: {describe(bad)}. Karpenter launches no node for a NodePool using this class; "
                                    "fix its selectors, role or AMI terms", conditions=bad))
    return facts, findings


def _pod_wants(pod: dict) -> dict:
    """Node labels a pod requires: {key: allowed values} from its nodeSelector and required node affinity (In)."""
    spec = pod.get("spec") or {}
    wants = {key: {value} for key, value in (spec.get("nodeSelector") or {}).items()}
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchExpressions") or []:
            if expr.get("operator") == "In":
                wants.setdefault(expr.get("key", ""), set()).update(expr.get("values") or [])
    return wants


def targets(pod: dict, pool: dict) -> bool:
    """Whether a pod asks for this NodePool's nodes: it requires at least one label the pool puts on its nodes
    (its template labels, or karpenter.sh/nodepool=<name>), each with the pool's value."""
    labels = dict((((pool.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
    labels[POOL_LABEL] = _name(pool)
    wants = _pod_wants(pod)
    shared = [key for key in wants if key in labels]
    return bool(shared) and all(labels[key] in wants[key] for key in shared)


def _latest(events: list) -> dict:
    """Per involved object (kind, namespace, name): its latest event."""
    latest: dict = {}
    for event in events:
        ref = event.get("involvedObject") or event.get("regarding") or {}
        key = (ref.get("kind", ""), ref.get("namespace") or "", ref.get("name", ""))
        stamp = event.get("lastTimestamp") or event.get("eventTime") or (event.get("metadata") or {}).get("creationTimestamp") or ""
        if key not in latest or str(stamp) >= str(latest[key][0]):
            latest[key] = (stamp, event)
    return {key: value[1] for key, value in latest.items()}


def node_pools(pools: list, claims: list, pending_pods: list, events: list) -> tuple:
    """NodePools that do not provision: their failing conditions, Karpenter's warnings on them (such as
    NoCompatibleInstanceTypes: no instance type satisfies the requirements), the pending pods Karpenter
    could not place (its FailedScheduling message) and their NodeClaims' failing conditions."""
    latest = _latest([e for e in events if e.get("type", "Warning") == "Warning"])
    pool_events = {key[2]: e for key, e in latest.items() if key[0] == "NodePool"}
    unplaced = []  # (pod, Karpenter's message)
    for pod in pending_pods:
        meta = pod.get("metadata") or {}
        event = latest.get(("Pod", meta.get("namespace", ""), meta.get("name", "")))
        if event and event.get("reason") == "FailedScheduling" and str(event.get("message", "")).startswith(KARPENTER_FAILED):
            unplaced.append((pod, event["message"]))
    facts, findings, placed = [], [], set()
    for pool in pools:
        name = _name(pool)
        bad = failing_conditions(pool)
        own_claims = [c for c in claims if ((c.get("metadata") or {}).get("labels") or {}).get(POOL_LABEL) == name]
        bad_claims = [{"name": _name(c), "conditions": failing_conditions(c)} for c in own_claims if failing_conditions(c)]
        pods = [(p, m) for p, m in unplaced if targets(p, pool) or name in {g[0] for g in _POOL_IN_MESSAGE.findall(m)}]
        placed.update(id(p) for p, _m in pods)
        warning = pool_events.get(name)
        facts.append({"name": name, "ready": _ready(pool), "conditions": bad, "nodeclaims": len(own_claims),
                      "failing_nodeclaims": bad_claims, "pending_pods": [_ns_name(p) for p, _m in pods],
                      "warning": {"reason": warning.get("reason", ""), "message": warning.get("message", "")} if warning else None})
        if not (bad or pods or warning or bad_claims):
            continue
        parts = []
        if pods:
            parts.append(f"{len(pods)} pod(s) pending that Karpenter cannot place ({', '.join(_ns_name(p) for p, _m in pods[:3])}"
                         f"{', ...' if len(pods) > 3 else ''}): {pods[0][1]}")
        if warning:
            parts.append(f"NodePool event {warning.get('reason', '')}: {warning.get('message', '')}")
        if bad:
            parts.append(f"NodePool conditions: {describe(bad)}")
        for claim in bad_claims:
            parts.append(f"NodeClaim {claim['name']}: {describe(claim['conditions'])}")
        findings.append(finding(CHECK, "warning", f"NodePool/{name}", ". ".join(parts), conditions=bad,
                                pending_pods=[_ns_name(p) for p, _m in pods], nodeclaims=bad_claims,
                                event=facts[-1]["warning"]))
    for pod, message in unplaced:
        if id(pod) not in placed:
            findings.append(finding(CHECK, "warning", f"Pod/{_ns_name(pod)}", f"pending, Karpenter cannot place it: {message}"))
    return facts, findings


def _ns_name(pod: dict) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def assess(inputs: dict) -> tuple:
    """{installed, node_classes, node_pools} and the findings, from the module's reads: ``karpenter_installed``
    (the CRDs are served), ``ec2nodeclasses``, ``nodepools``, ``nodeclaims``, ``pending_pods`` (phase Pending,
    not bound to a node) and ``warning_events``."""
    if not inputs.get("karpenter_installed"):
        return {"installed": False, "node_classes": [], "node_pools": []}, []
    classes, f_classes = node_classes(inputs.get("ec2nodeclasses") or [])
    pending = [p for p in inputs.get("pending_pods") or [] if not (p.get("spec") or {}).get("nodeName")]
    pools, f_pools = node_pools(inputs.get("nodepools") or [], inputs.get("nodeclaims") or [], pending,
                                inputs.get("warning_events") or [])
    return {"installed": True, "node_classes": classes, "node_pools": pools}, f_classes + f_pools


def merge(report: dict, inputs: dict) -> dict:
    """The health report (``health.assess``) with this check's facts (``health.karpenter``) and findings added."""
    facts, findings = assess(inputs)
    merged = sorted(report["findings"] + findings, key=lambda f: (-SEVERITIES.index(f["severity"]), f["check"], f["subject"]))
    return {**report, "health": {**report["health"], "karpenter": facts}, "findings": merged, "summary": summary(merged)}
