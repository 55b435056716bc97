# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn one task result into change entries (see module_utils/changes.py) for the plan callback.

Our modules report ``changes`` themselves. For amazon.aws / kubernetes.core / builtin modules the
entry is derived from the result: Kubernetes objects from ``result``, Helm releases from
``status``, AWS resources from the task's name-like argument. A Kubernetes apply is an ``add`` when
the module says it created the object, or when its diff (``--diff``) has nothing before.

A check-mode task that only predicts a change no module can dry-run (e.g. an object in a namespace
the same run creates first) states it as ``ansible.builtin.debug`` with ``msg: {changes: [...]}``
and ``changed_when: true``; those entries are taken as they are.
"""

from __future__ import annotations

import re

_NAME_ARGS = ("name", "role_name", "policy_name", "queue_name", "release_name", "cluster_name", "arn", "path", "dest")
_SKIP = ("ansible.builtin.set_fact", "set_fact", "ansible.builtin.assert", "assert", "ansible.builtin.debug", "debug",
         "ansible.builtin.include_role", "ansible.builtin.import_role", "ansible.builtin.include_tasks")


def _short(action: str) -> str:
    return action.split(".")[-1]


def _k8s_identity(obj: dict, args: dict) -> tuple:
    """(kind, namespace/name) from the returned object, else from the arguments the task ran with."""
    meta = obj.get("metadata") or {}
    definition = args.get("definition") if isinstance(args.get("definition"), dict) else {}
    kind = obj.get("kind") or definition.get("kind") or args.get("kind") or "Object"
    dmeta = definition.get("metadata") or {}
    name = meta.get("name") or dmeta.get("name") or args.get("name") or ""
    namespace = meta.get("namespace") or dmeta.get("namespace") or args.get("namespace")
    return kind, "/".join(p for p in (namespace, name) if p)


def _render_loop_var(value, result: dict):
    """``{{ item.x }}`` in a task argument, filled from the loop item (loop results keep no rendered arguments)."""
    loop_var = result.get("ansible_loop_var", "item")
    if not isinstance(value, str) or loop_var not in result:
        return value

    def lookup(match):
        node = result[loop_var]
        for key in filter(None, (match.group(1) or "").split(".")):
            node = node.get(key) if isinstance(node, dict) else None
        return str(node) if node is not None else match.group(0)
    return re.sub(r"\{\{\s*" + re.escape(loop_var) + r"((?:\.\w+)*)\s*\}\}", lookup, value)


def _helm_first_release(status) -> bool:
    """kubernetes.core.helm: a real run returns the release (revision 1 = just installed); check mode
    returns ``values.declared``, the release found (empty when there is none yet)."""
    if not isinstance(status, dict):
        return True
    if "revision" in status:
        return str(status["revision"]) == "1"
    return not (status.get("values") or {}).get("declared")


def entries(action: str, args: dict, result: dict) -> list[dict]:
    """Change entries for one changed result (one loop item or a whole task)."""
    if not result.get("changed"):
        return []
    if _short(action) == "debug" and isinstance(result.get("msg"), dict) and isinstance(result["msg"].get("changes"), list):
        return [dict(c) for c in result["msg"]["changes"] if isinstance(c, dict) and "resource" in c]
    if action in _SKIP:
        return []
    if "censored" in result and action.startswith("nodeless.eks."):
        return []  # no_log hid our module's own ``changes``; the role restates them (see the module docstring)
    # The arguments as the module received them (loop variables rendered), when Ansible kept them.
    invoked = (result.get("invocation") or {}).get("module_args")
    args = invoked if isinstance(invoked, dict) else {k: _render_loop_var(v, result) for k, v in args.items()}
    if isinstance(result.get("changes"), list):
        return [dict(c) for c in result["changes"] if isinstance(c, dict) and "resource" in c]
    short = _short(action)
    state = str(args.get("state", "present"))
    verb = "remove" if state == "absent" else "change"
    if short in ("k8s", "k8s_json_patch", "k8s_scale"):
        obj = result.get("result") if isinstance(result.get("result"), dict) else {}
        if isinstance(obj.get("results"), list):  # a definition holding several objects: one result each
            return [e for sub in obj["results"] if isinstance(sub, dict) for e in entries(action, {"state": args.get("state")}, sub)]
        kind, path = _k8s_identity(obj, args)
        method = result.get("method")
        diff = result.get("diff") if isinstance(result.get("diff"), dict) else {}
        created = method == "create" or (method == "apply" and "before" in diff and not diff["before"] and diff.get("after"))
        verb = "add" if created else ("remove" if method == "delete" or state == "absent" else "change")
        return [{"resource": f"k8s:{kind}/{path}", "action": verb}]
    if short == "helm":
        name = args.get("release_name") or args.get("name")
        verb = "remove" if state == "absent" else ("add" if _helm_first_release(result.get("status")) else "change")
        return [{"resource": f"k8s:HelmRelease/{args.get('release_namespace', '')}/{name}", "action": verb}]
    name = next((str(args[k]) for k in _NAME_ARGS if args.get(k)), "?")
    diff = result.get("diff")
    if verb == "change" and isinstance(diff, dict) and diff.get("before") in ({}, "", None) and diff.get("after"):
        verb = "add"
    system = "k8s" if action.startswith("kubernetes.") else ("aws" if action.startswith(("amazon.aws.", "community.aws.")) else "host")
    return [{"resource": f"{system}:{short}/{name}", "action": verb}]


def collect(action: str, args: dict, result: dict) -> list[dict]:
    """Entries for a task result, looking into loop items."""
    if isinstance(result.get("results"), list):
        found = []
        for item in result["results"]:
            if isinstance(item, dict):
                found.extend(entries(action, args, item))
        return found
    return entries(action, args, result)
