# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects the nodeless.eks way: compare first, then server-side apply with a field manager.

Generic (any kind). ``plan`` decides locally, from one read, whether an apply would change anything:
our desired fields must already be in the live object, and no field our manager owns may have been
dropped from the desired object (server-side apply would remove it). Only then do we write, so a
re-run makes no write at all. Check mode sends the same apply as a server-side dry run, so CRD
defaults and CEL rules are applied and checked exactly as for real. API rejections become
``field: message`` text instead of a stack trace.
"""

from __future__ import annotations

import json
import time

_VOLATILE_META = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")


class K8sError(Exception):
    """An API server rejection, already turned into readable text."""


def desired_paths(obj, prefix=()) -> set:
    """Leaf paths of a desired object: mappings recurse, lists and scalars are leaves."""
    if isinstance(obj, dict) and obj:
        paths = set()
        for key, value in obj.items():
            paths |= desired_paths(value, prefix + (key,))
        return paths
    return {prefix}


def _fields_paths(node, prefix=()) -> set:
    keys = [k for k in (node or {}) if k.startswith("f:")]
    if not keys or any(not k.startswith("f:") and k != "." for k in node):
        return {prefix}  # a leaf, or a list whose elements are keyed: the whole list is the unit
    paths = set()
    for key in keys:
        paths |= _fields_paths(node[key], prefix + (key[2:],))
    return paths


def owned_paths(obj: dict, field_manager: str) -> set:
    """Paths owned by ``field_manager`` through apply, from metadata.managedFields."""
    paths = set()
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            paths |= _fields_paths(entry.get("fieldsV1") or {})
    return {p for p in paths if p and p[0] not in ("apiVersion", "kind")}


def contains(live, desired) -> bool:
    """True when every desired field is in ``live`` with the same value (live may hold server defaults)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(contains(a, b) for a, b in zip(live, desired))
    return live == desired


def stale(reads: list) -> list:
    """The desired objects that a kubernetes.core.k8s_info loop (``loop`` over them, registered) found missing,
    or found without one of their fields: what a role applies, so that a converged object gets no request."""
    return [read["item"] for read in reads
            if not read.get("resources") or not contains(read["resources"][0], read["item"])]


def _covered(path: tuple, paths: set) -> bool:
    return any(p[:len(path)] == path or path[:len(p)] == p for p in paths)


def needs_apply(live: dict | None, desired: dict, field_manager: str) -> bool:
    if not live:
        return True
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
    if not contains(live, body):
        return True
    wanted = desired_paths(body)
    return any(not _covered(p, wanted) for p in owned_paths(live, field_manager))


def project(obj: dict | None, paths: set) -> dict:
    """Only the given paths of ``obj`` (the fields we manage), for a readable diff."""
    out: dict = {}
    if not obj:
        return out
    for path in sorted(paths):
        node, value = obj, None
        for key in path:
            if not isinstance(node, dict) or key not in node:
                node = None
                break
            node = node[key]
        value = node
        if value is None:
            continue
        target = out
        for key in path[:-1]:
            target = target.setdefault(key, {})
        if path:
            target[path[-1]] = value
    return out


def managed_diff(live: dict | None, result: dict | None, desired: dict, field_manager: str) -> dict:
    paths = desired_paths({k: v for k, v in desired.items() if k not in ("apiVersion", "kind")})
    paths |= owned_paths(live or {}, field_manager)
    return {"before": project(live, paths), "after": project(result, paths)}


def api_error_text(exc) -> str:
    """DynamicApiError / ApiException -> 'field: message; field: message' (the API server's causes)."""
    body = getattr(exc, "body", None)
    try:
        data = json.loads(body) if isinstance(body, (str, bytes)) else (body or {})
    except ValueError:
        data = {}
    causes = ((data.get("details") or {}).get("causes")) or []
    if causes:
        return "; ".join(f"{c.get('field', '')}: {c.get('message', '')}".strip(": ") for c in causes)
    return data.get("message") or getattr(exc, "reason", None) or str(exc)


def list_objects(client, api_version: str, kind: str) -> dict:
    """{name: object} of one kind, cluster-wide: one LIST call."""
    resource = client.resources.get(api_version=api_version, kind=kind)
    items = resource.get().to_dict().get("items") or []
    return {i["metadata"].get("namespace", "") + "/" + i["metadata"]["name"] if i["metadata"].get("namespace") else i["metadata"]["name"]: i
            for i in items}


def apply(client, desired: dict, field_manager: str, dry_run: bool, force_conflicts: bool = True) -> dict:
    """Server-side apply (dry run in check mode). Raises K8sError with the API server's field paths."""
    from kubernetes.dynamic.exceptions import DynamicApiError

    resource = client.resources.get(api_version=desired["apiVersion"], kind=desired["kind"])
    params = {"field_manager": field_manager, "force_conflicts": force_conflicts}
    if dry_run:
        params["dry_run"] = "All"
    try:
        return client.server_side_apply(resource, body=desired, namespace=desired["metadata"].get("namespace"), **params).to_dict()
    except DynamicApiError as exc:
        raise K8sError(f"{desired['kind']}/{desired['metadata']['name']}: the API server refused it: {api_error_text(exc)}") from exc


def wait_until(check, timeout: float, what: str, sleep: float = 0.5):
    """Call CHECK until it returns something true and return that; after TIMEOUT seconds raise TimeoutError
    saying WHAT did not happen ("<what> within <timeout>s"). The one poll loop of the collection."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g}s")
        time.sleep(sleep)


def delete(client, api_version: str, kind: str, name: str, namespace: str | None, dry_run: bool, timeout: float,
           sleep: float = 0.5) -> None:
    """Delete, then wait (up to ``timeout`` seconds) for finalizers to let the object go."""
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError

    resource = client.resources.get(api_version=api_version, kind=kind)
    try:
        resource.delete(name=name, namespace=namespace, **({"dry_run": "All"} if dry_run else {}))
    except NotFoundError:
        return
    except DynamicApiError as exc:
        raise K8sError(f"{kind}/{name}: the API server refused the deletion: {api_error_text(exc)}") from exc
    if dry_run:
        return
    live: dict = {}

    def gone() -> bool:
        try:
            live.update(resource.get(name=name, namespace=namespace).to_dict())
        except NotFoundError:
            return True
        return False

    try:
        wait_until(gone, timeout, f"{kind}/{name}: not deleted", sleep)
    except TimeoutError:
        finalizers = ", ".join((live.get("metadata") or {}).get("finalizers") or []) or "none"
        raise K8sError(f"{kind}/{name}: still present after {timeout:g}s waiting for its finalizers ({finalizers}) to be removed") from None


def strip_volatile(obj: dict | None) -> dict | None:
    if not obj:
        return obj
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_META}
    return out


def ensure_present(client, desired: list, field_manager: str, dry_run: bool, live: dict, force_conflicts: bool = True) -> list[dict]:
    """Apply each desired object that differs from ``live`` ({name: object}). One entry per object:
    {name, kind, action (add/change/None), before, after, object}."""
    outcomes = []
    for obj in desired:
        name = obj["metadata"]["name"]
        current = live.get(name)
        if not needs_apply(current, obj, field_manager):
            outcomes.append({"name": name, "kind": obj["kind"], "action": None, "object": strip_volatile(current),
                             **managed_diff(current, current, obj, field_manager)})
            continue
        result = apply(client, obj, field_manager, dry_run, force_conflicts)
        diff = managed_diff(current, result, obj, field_manager)
        action = "add" if current is None else ("change" if diff["before"] != diff["after"] else None)
        outcomes.append({"name": name, "kind": obj["kind"], "action": action, "object": strip_volatile(result), **diff})
    return outcomes
