# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The uniform change report every nodeless.eks module returns, read by the ``nodeless.eks.plan`` callback.

A module returns ``changes``: a list of entries made by :func:`change`, one per resource it adds,
changes or removes (predicted in check mode, done otherwise). ``resource`` is
``<system>:<kind>/<name>`` with system ``aws`` or ``k8s``, e.g. ``aws:iam-role/lab-irsa-x`` or
``k8s:NodePool/default`` (namespaced: ``k8s:ServiceAccount/kube-system/cluster-autoscaler``).
"""

from __future__ import annotations

ACTIONS = ("add", "change", "remove")


def change(system: str, kind: str, name: str, action: str, namespace: str | None = None, detail: str | None = None) -> dict:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
    if system not in ("aws", "k8s"):
        raise ValueError(f"system must be aws or k8s, not {system!r}")
    path = f"{namespace}/{name}" if namespace else name
    entry = {"resource": f"{system}:{kind}/{path}", "action": action}
    if detail:
        entry["detail"] = detail
    return entry
