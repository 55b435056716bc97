# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: plan
type: aggregate
short_description: A terraform-plan-like table of what a run changes (or would change), per cluster
version_added: 0.1.0
description:
  - At the end of a run, prints one table per inventory host (one host per cluster) of the AWS
    resources and Kubernetes objects that were added, changed or removed, with the role owning each.
  - In check mode the table is the prediction; in a real run it is what changed.
  - Reads the C(changes) list every nodeless.eks module returns; for other modules the entry is
    derived from the result (Kubernetes object kind and name, Helm release, AWS resource name).
  - Optionally writes the same data as JSON, for comparing a check-mode plan with the real run.
author:
  - nodeless.eks contributors (@nodeless)
requirements:
  - enable in ansible.cfg (C(callbacks_enabled = nodeless.eks.plan)) or ANSIBLE_CALLBACKS_ENABLED
options:
  plan_file:
    description: Write the plan as JSON to this path.
    type: path
    env:
      - name: NODELESS_EKS_PLAN_FILE
    ini:
      - section: nodeless_eks_plan
        key: plan_file
"""

import json

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.nodeless.eks.plugins.module_utils.plan import collect

_SYMBOL = {"add": "+", "change": "~", "remove": "-"}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "nodeless.eks.plan"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._plan = {}

    def _record(self, result):
        task = result._task
        entries = collect(task.action, task.args or {}, result._result)
        if not entries:
            return
        owner = task._role.get_name(include_role_fqcn=False) if task._role else "playbook"
        host = result._host.get_name()
        rows = self._plan.setdefault(host, [])
        for entry in entries:
            row = {"resource": entry["resource"], "action": entry["action"], "role": owner}
            if row not in rows:  # one row per resource and action, however many tags or fields changed
                rows.append(row)

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_playbook_on_stats(self, stats):
        check = bool(context.CLIARGS.get("check"))
        title = "Plan (check mode: nothing was changed)" if check else "Changes made"
        for host in sorted(set(stats.processed) | set(self._plan)):
            rows = sorted(self._plan.get(host, []), key=lambda r: (r["role"], r["resource"]))
            counts = {a: sum(1 for r in rows if r["action"] == a) for a in _SYMBOL}
            self._display.display(f"\n{title} for {host}: {counts['add']} to add, {counts['change']} to change, "
                                  f"{counts['remove']} to remove" if check else
                                  f"\n{title} on {host}: {counts['add']} added, {counts['change']} changed, "
                                  f"{counts['remove']} removed")
            width = max([len(r["resource"]) for r in rows] + [8])
            for row in rows:
                self._display.display(f"  {_SYMBOL[row['action']]} {row['resource']:<{width}}  ({row['role']})")
        path = self.get_option("plan_file")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"check_mode": check, "hosts": self._plan}, handle, indent=2, sort_keys=True)
