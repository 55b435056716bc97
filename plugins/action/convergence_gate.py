# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of nodeless.eks.convergence_gate: what only the controller knows, then the module.

It digests the run's raw inputs (plugin_utils/run_inputs.py: the collection's files, the play's variables of a role
prefix or ``nodeless_eks_``, the cluster facts, the local files and tools they name), turns site.yml's steps into the
capabilities whose records they keep and, for the write, collects what each role's convergence_record task left as
a host fact in this run. Then it runs the module with those.
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase

from ansible_collections.nodeless.eks.plugins.module_utils.convergence import fact_name
from ansible_collections.nodeless.eks.plugins.module_utils.convergence_run import expected, skipped_steps
from ansible_collections.nodeless.eks.plugins.plugin_utils.run_inputs import inputs_digest

OWN_ARGS = ("steps", "records", "independent_records", "since", "full_check")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        own = {k: args.pop(k, None) for k in OWN_ARGS}
        state = args.get("state") or "check"
        independent_records = own["independent_records"] or {}
        if not isinstance(own["steps"], list) or not isinstance(own["records"], dict) or not isinstance(independent_records, dict):
            result.update(failed=True, msg="steps (a list of site.yml steps), records and independent_records (step: [capabilities]) are required")
            return result
        caps = expected(own["steps"], own["records"])
        independent = expected(own["steps"], independent_records)
        if state == "write":
            # The digest the check took before any role ran: the roles' set_fact results (irsa_roles, vpc_cni_env, ...)
            # carry role prefixes too, and are not inputs.
            if not args.get("inputs_digest"):
                result.update(failed=True, msg="inputs_digest: give the check's (its result's inputs_digest) with state=write")
                return result
            since = float(own["since"] or 0)
            facts = task_vars.get("ansible_facts") or {}
            args["facts"] = {cap: facts[fact_name(cap)] for cap in caps + independent
                             if isinstance(facts.get(fact_name(cap)), dict) and float(facts[fact_name(cap)].get("at") or 0) >= since}
        else:
            args["inputs_digest"] = inputs_digest(task_vars, self._templar)
        args["capabilities"], args["independent"] = caps, independent
        if state == "check" and own["full_check"]:
            reasons = ["nodeless_eks_full_check: every role takes its full path"]
            result.update(changed=False, in_sync=False, reasons=reasons, run=None, skip=[], skip_steps=[], unrecorded=[], write=True,
                          started=time.time(), changes=[], inputs_digest=args["inputs_digest"],
                          msg=f"run gate: off, every role runs ({reasons[0]})")
            return result
        result.update(self._execute_module(module_name="nodeless.eks.convergence_gate", module_args=args, task_vars=task_vars))
        result.setdefault("inputs_digest", args["inputs_digest"])
        if state == "check":
            # site.yml skips these steps' roles; the run record is written unless every recorded step was skipped.
            recorded = [step for step in own["steps"] if own["records"].get(step) or independent_records.get(step)]
            result["skip_steps"] = skipped_steps(own["steps"], [own["records"], independent_records], result.get("skip") or [])
            result["write"] = bool(set(recorded) - set(result["skip_steps"]))
        return result
