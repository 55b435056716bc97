# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Istio mutual TLS, as plain data: the PeerAuthentications we want, the plan to get there, and the
mode each namespace and pod really gets.

No I/O: modules read the cluster and pass plain dicts in. Istio's precedence, as istiod applies it:
a workload policy (selector matching the pod) beats the namespace policy (no selector, in the pod's
namespace), which beats the mesh policy (no selector, in the root namespace); ``UNSET`` inherits from
the next level up; with nothing set the mode is ``PERMISSIVE``. When two policies compete at one level
the oldest wins.
"""

from __future__ import annotations

import json
import re

from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_label
from ansible_collections.nodeless.eks.plugins.module_utils.role_values import as_int

MODES = ("STRICT", "PERMISSIVE", "DISABLE", "UNSET")
API_VERSION = "security.istio.io/v1"
KIND = "PeerAuthentication"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
MANAGED_VALUE = "nodeless.eks.istio"
REASON_ANNOTATION = "nodeless.eks/mtls-exception-reason"
MESH_POLICY_NAME = "default"
NAMESPACE_EXCEPTION_NAME = "mtls-exception"
WORKLOAD_EXCEPTION_PREFIX = "mtls-exception-"
SIDECAR = "istio-proxy"


def _mode_error(field: str, mode) -> list[str]:
    if mode not in MODES:
        return [f"{field}: {mode!r} is not an mTLS mode; use one of {', '.join(MODES)}"]
    return []


ROLE_FIELDS = {"mode": "istio_mtls_mode", "exceptions": "istio_mtls_exceptions",
               "workload_exceptions": "istio_mtls_workload_exceptions", "allow_disable": "istio_allow_disable_mesh_wide"}


def validate(mode, exceptions, workload_exceptions, root_namespace, allow_disable_mesh_wide=False, fields=None) -> list[str]:
    """Every problem with the policy inputs, each naming its field (the role's variable names by default)."""
    fields = dict(ROLE_FIELDS, **(fields or {}))
    errors = _mode_error(fields["mode"], mode)
    if mode == "DISABLE" and not allow_disable_mesh_wide:
        errors.append(f"{fields['mode']}: DISABLE turns mutual TLS off for the whole mesh; "
                      f"set {fields['allow_disable']}: true if that is really meant")
    seen = set()
    for i, exc in enumerate(exceptions or []):
        field = f"{fields['exceptions']}[{i}]"
        if not isinstance(exc, dict):
            errors.append(f"{field}: must be a mapping with namespace, mode and reason")
            continue
        namespace = exc.get("namespace")
        if not is_dns1123_label(namespace):
            errors.append(f"{field}.namespace: {namespace!r} is not a namespace name")
        elif namespace == root_namespace:
            errors.append(f"{field}.namespace: {namespace} is the mesh root namespace; change {fields['mode']} instead")
        elif namespace in seen:
            errors.append(f"{field}.namespace: {namespace} has more than one exception")
        seen.add(namespace)
        errors += _mode_error(f"{field}.mode", exc.get("mode"))
        if not str(exc.get("reason") or "").strip():
            errors.append(f"{field}.reason: say why {namespace} needs an exception (it is recorded on the policy)")
    names = set()
    for i, exc in enumerate(workload_exceptions or []):
        field = f"{fields['workload_exceptions']}[{i}]"
        if not isinstance(exc, dict):
            errors.append(f"{field}: must be a mapping with namespace, name, selector, ports and reason")
            continue
        for key in ("namespace", "name"):
            if not is_dns1123_label(exc.get(key)):
                errors.append(f"{field}.{key}: {exc.get(key)!r} is not a DNS-1123 label")
        if (exc.get("namespace"), exc.get("name")) in names:
            errors.append(f"{field}.name: {exc.get('name')} is declared twice in {exc.get('namespace')}")
        names.add((exc.get("namespace"), exc.get("name")))
        if not exc.get("selector"):
            errors.append(f"{field}.selector: a workload exception needs the pod labels it applies to")
        errors += _mode_error(f"{field}.mode", exc.get("mode", "UNSET"))
        for port, port_mode in (exc.get("ports") or {}).items():
            if not str(port).isdigit() or not 1 <= int(port) <= 65535:
                errors.append(f"{field}.ports: {port!r} is not a port number")
            errors += _mode_error(f"{field}.ports.{port}", port_mode)
        if not str(exc.get("reason") or "").strip():
            errors.append(f"{field}.reason: say why this workload needs an exception (it is recorded on the policy)")
    return errors


def missing_namespaces(exceptions, workload_exceptions, known, fields=None) -> list[str]:
    """One message naming the exceptions' namespaces that are not in KNOWN (existing, enrolled or to be made
    with ``create: true``); [] when none is missing. A malformed name is validate's to report, as malformed
    only: "Create the namespace first" would be the wrong advice for it."""
    fields = dict(ROLE_FIELDS, **(fields or {}))

    def absent(entries, unique):
        names = [e.get("namespace") for e in entries or [] if isinstance(e, dict)]
        names = [n for n in names if is_dns1123_label(n) and n not in known]
        return list(dict.fromkeys(names)) if unique else names

    missing, missing_workload = absent(exceptions, False), absent(workload_exceptions, True)
    if not missing and not missing_workload:
        return []
    return [(f"{fields['exceptions']}: namespace {', '.join(missing)} does not exist. " if missing else "")
            + (f"{fields['workload_exceptions']}: namespace {', '.join(missing_workload)} does not exist. "
               if missing_workload else "")
            + "Create the namespace first, or set create: true on a namespace exception."]


_ISTIO_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")


def istioctl_version(result: dict) -> str | None:
    """The version ``istioctl version --remote=false --output json`` reports (a command result), None if it failed."""
    if result.get("rc", 1) != 0:
        return None
    return json.loads(result["stdout"])["clientVersion"]["version"]


def role_errors(settings: dict) -> list[str]:
    """Every broken setting of the ``istio`` role at once: the mTLS mode and exceptions (validate, and the namespaces
    they name must exist: ``namespaces`` read, ``injection_namespaces`` enrolled, or ``create: true``), the install
    settings, and istioctl's version.

    ``settings``: the role's variables without the ``istio_`` prefix (``mtls_mode``, ``mtls_exceptions``,
    ``mtls_workload_exceptions``, ``allow_disable_mesh_wide`` as a boolean, ``injection_namespaces``, ``version``,
    ``revision``, ``namespace``, ``profile``, ``readiness_timeout``, ``istioctl``), ``root_namespace``, ``namespaces``
    (the names of the cluster's namespaces) and ``istioctl_result`` (the result of asking istioctl its version).
    """
    exceptions, workload_exceptions = settings.get("mtls_exceptions"), settings.get("mtls_workload_exceptions")
    injection = list(settings.get("injection_namespaces") or [])
    created = [e.get("namespace") for e in exceptions or [] if isinstance(e, dict) and e.get("create")]
    known = set(list(settings.get("namespaces") or []) + injection + created)
    errors = validate(settings.get("mtls_mode"), exceptions, workload_exceptions, settings.get("root_namespace"),
                      settings.get("allow_disable_mesh_wide"))
    errors += missing_namespaces(exceptions, workload_exceptions, known)
    version, revision, namespace = settings.get("version"), settings.get("revision"), settings.get("namespace")
    bad_injection = [n for n in injection if not is_dns1123_label(n)]
    if (not _ISTIO_VERSION.match(str(version)) or (revision and not is_dns1123_label(revision))
            or not is_dns1123_label(namespace) or not settings.get("profile") or as_int(settings.get("readiness_timeout")) <= 0
            or bad_injection):
        errors.append(f"Istio settings: istio_version ({version}) must be X.Y.Z; istio_revision ({revision}) must be empty "
                      "or a DNS-1123 label (lower case letters, digits and '-', at most 63); istio_namespace "
                      f"({namespace}) a DNS-1123 label; istio_profile non-empty; istio_readiness_timeout > 0; "
                      f"istio_injection_namespaces names ({', '.join(map(str, bad_injection))}) DNS-1123 labels.")
    result = settings.get("istioctl_result") or {}
    reports = istioctl_version(result)
    if reports != version:
        ran = f"is version {reports}" if reports is not None else f"did not run: {result.get('msg', result.get('stderr', ''))}"
        errors.append(f"istio_version: {version} was asked for, but istio_istioctl ({settings.get('istioctl')}) {ran}. "
                      f"Point istio_istioctl at istioctl {version}.")
    return errors


def _policy(name: str, namespace: str, spec: dict, reason: str | None = None) -> dict:
    metadata = {"name": name, "namespace": namespace, "labels": {MANAGED_LABEL: MANAGED_VALUE}}
    if reason:
        metadata["annotations"] = {REASON_ANNOTATION: reason.strip()}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def desired_policies(root_namespace: str, mode: str, exceptions=None, workload_exceptions=None) -> list[dict]:
    """The PeerAuthentications we own: mesh-wide ``default``, then one per exception."""
    policies = [_policy(MESH_POLICY_NAME, root_namespace, {"mtls": {"mode": mode}})]
    for exc in exceptions or []:
        policies.append(_policy(NAMESPACE_EXCEPTION_NAME, exc["namespace"], {"mtls": {"mode": exc["mode"]}}, exc["reason"]))
    for exc in workload_exceptions or []:
        spec = {"selector": {"matchLabels": dict(exc["selector"])}, "mtls": {"mode": exc.get("mode") or "UNSET"}}
        if exc.get("ports"):
            spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in sorted(exc["ports"].items(), key=lambda i: int(i[0]))}
        policies.append(_policy(WORKLOAD_EXCEPTION_PREFIX + exc["name"], exc["namespace"], spec, exc["reason"]))
    return policies


def key(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def is_managed(obj: dict) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_LABEL) == MANAGED_VALUE


def _owned_view(obj: dict | None) -> dict | None:
    """The parts of a PeerAuthentication this role decides: spec, our label, the reason."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return {
        "spec": obj.get("spec") or {},
        "managed": is_managed(obj),
        "reason": annotations.get(REASON_ANNOTATION),
    }


def plan(desired: list[dict], live: list[dict]) -> list[dict]:
    """Steps to reach ``desired`` from ``live`` (every PeerAuthentication in the cluster).

    One step per object: ``add`` / ``change`` (with ``before`` the live object) / ``remove`` for our
    policies that are no longer declared (only those carrying our label). Unchanged objects: no step.
    """
    live_by_key = {key(obj): obj for obj in live}
    steps = []
    wanted = set()
    for obj in desired:
        wanted.add(key(obj))
        before = live_by_key.get(key(obj))
        if before is None:
            steps.append({"action": "add", "object": obj, "before": None})
        elif _owned_view(before) != _owned_view(obj):
            steps.append({"action": "change", "object": obj, "before": before})
    for k, obj in sorted(live_by_key.items()):
        if k not in wanted and is_managed(obj):
            steps.append({"action": "remove", "object": obj, "before": obj})
    return steps


def summary(obj: dict | None) -> dict | None:
    """What a person reads in a diff: name, namespace, spec, reason."""
    if obj is None:
        return None
    view = _owned_view(obj)
    out = {"namespace": (obj.get("metadata") or {}).get("namespace"), "name": (obj.get("metadata") or {}).get("name"),
           "spec": view["spec"]}
    if view["reason"]:
        out["reason"] = view["reason"]
    return out


# --- effective modes -------------------------------------------------------------------------

def root_namespace(mesh_config: dict | None, istio_namespace: str) -> str:
    """``meshConfig.rootNamespace``, or the control plane's namespace when the mesh config does not say."""
    return (mesh_config or {}).get("rootNamespace") or istio_namespace


def _mode_of(policy: dict) -> str:
    return ((policy.get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET"


def _oldest(policies: list[dict]) -> dict | None:
    """Istio's tie-break between competing policies: the oldest by creation time, then by name."""
    if not policies:
        return None
    return min(policies, key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "", key(p)))


def _selectorless(policies: list[dict], namespace: str) -> list[dict]:
    return [p for p in policies if (p.get("metadata") or {}).get("namespace") == namespace
            and not ((p.get("spec") or {}).get("selector") or {}).get("matchLabels")]


def namespace_mode(policies: list[dict], root_ns: str, namespace: str) -> tuple[str, str | None]:
    """(effective mode, ``namespace/name`` of the deciding policy or None) for a namespace's pods
    that no workload policy selects."""
    mesh = _oldest(_selectorless(policies, root_ns))
    mode, source = "PERMISSIVE", None
    if mesh and _mode_of(mesh) != "UNSET":
        mode, source = _mode_of(mesh), key(mesh)
    local = _oldest(_selectorless(policies, namespace)) if namespace != root_ns else None
    if local and _mode_of(local) != "UNSET":
        mode, source = _mode_of(local), key(local)
    return mode, source


def pod_mode(policies: list[dict], root_ns: str, namespace: str, labels: dict) -> tuple[str, str | None, dict]:
    """(mode, deciding policy, {port: mode}) for one pod, workload policies included."""
    mode, source = namespace_mode(policies, root_ns, namespace)
    selecting = []
    for p in policies:
        match = ((p.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if (p.get("metadata") or {}).get("namespace") == namespace and match \
                and all((labels or {}).get(k) == v for k, v in match.items()):
            selecting.append(p)
    workload = _oldest(selecting)
    ports = {}
    if workload:
        if _mode_of(workload) != "UNSET":
            mode, source = _mode_of(workload), key(workload)
        for port, setting in sorted(((workload.get("spec") or {}).get("portLevelMtls") or {}).items()):
            port_mode = (setting or {}).get("mode") or "UNSET"
            ports[str(port)] = mode if port_mode == "UNSET" else port_mode
    return mode, source, ports


def injection(labels: dict | None) -> tuple[bool, str | None]:
    """(injection on, revision) from a namespace's labels; ``istio-injection`` wins over ``istio.io/rev``."""
    labels = labels or {}
    legacy = labels.get("istio-injection")
    if legacy is not None:
        return legacy == "enabled", None
    rev = labels.get("istio.io/rev")
    return (bool(rev), rev or None)


def has_sidecar(pod: dict) -> bool:
    """istio-proxy as a container, or as a native sidecar (an init container)."""
    spec = pod.get("spec") or {}
    return any(c.get("name") == SIDECAR for c in (spec.get("containers") or []) + (spec.get("initContainers") or []))


def _counts(pod: dict) -> bool:
    """Pods that take traffic: not finished, not on the host network (never injected)."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and not (pod.get("spec") or {}).get("hostNetwork")


def report(namespaces: list[dict], pods: list[dict], policies: list[dict], root_ns: str, ignore=()) -> dict:
    """Per namespace: effective mode and its source, injection, pods without a sidecar; and the pods
    at risk: no istio-proxy while their effective mode is STRICT (outside the mesh, yet the mesh
    demands mTLS from them)."""
    by_ns: dict = {}
    for pod in pods:
        by_ns.setdefault((pod.get("metadata") or {}).get("namespace"), []).append(pod)
    rows, at_risk = [], []
    for ns in sorted(namespaces, key=lambda n: n["metadata"]["name"]):
        name = ns["metadata"]["name"]
        mode, source = namespace_mode(policies, root_ns, name)
        enabled, revision = injection(ns["metadata"].get("labels"))
        row = {"namespace": name, "mode": mode, "source": source, "injection": enabled, "revision": revision,
               "ignored": name in ignore, "pods_without_sidecar": [], "at_risk": []}
        for pod in sorted(by_ns.get(name, []), key=lambda p: p["metadata"]["name"]):
            if not _counts(pod) or has_sidecar(pod):
                continue
            pod_name = pod["metadata"]["name"]
            row["pods_without_sidecar"].append(pod_name)
            effective = pod_mode(policies, root_ns, name, pod["metadata"].get("labels"))[0]
            if effective == "STRICT" and name not in ignore:
                row["at_risk"].append(pod_name)
                at_risk.append(f"{name}/{pod_name}")
        rows.append(row)
    mesh_mode = namespace_mode(policies, root_ns, root_ns)[0]
    return {"root_namespace": root_ns, "mesh_mode": mesh_mode, "namespaces": rows, "at_risk": at_risk}


def overlay(live: list[dict], planned: list[dict]) -> list[dict]:
    """The policies as they will be once ``planned`` (our desired set) is applied: ours replaced, the rest kept."""
    return [p for p in live if not is_managed(p) and key(p) not in {key(q) for q in planned}] + list(planned)


def namespace_writes(live: list[dict], enroll: list[str], labels: dict, create: list[str]) -> list[dict]:
    """Namespaces to apply: enrolled ones lacking the injection labels, and ``create`` ones that do not exist.

    Compared locally so that a re-run sends nothing."""
    current = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}) for n in live}
    writes = []
    for name in dict.fromkeys(enroll):
        have = current.get(name)
        if have is None or any(have.get(k) != v for k, v in labels.items()):
            writes.append({"name": name, "labels": dict(labels)})
    for name in dict.fromkeys(create):
        if name not in current and name not in enroll:
            writes.append({"name": name, "labels": {}})
    return writes
