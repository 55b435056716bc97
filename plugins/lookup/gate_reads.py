# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: gate_reads
author:
  - nodeless.eks contributors (@nodeless)
version_added: 0.1.0
short_description: Whether a role's convergence gate reads its stored record this run
description:
  - Each recorded role starts with a gate (O(nodeless.eks.convergence_record#module:state=check)) that compares its stored
    record with the live state and ends the role when they agree. This lookup says whether that read is worth making,
    from two run-wide variables, so that every role decides it the same way.
  - C(false) when O(ignore:nodeless_eks_full_check) is true (every role takes its full path).
  - C(false) when the record is in O(ignore:nodeless_eks_unrecorded), the records C(site.yml)'s run gate
    (M(nodeless.eks.convergence_gate)) found nothing stored for, a first run; the role's read would only find that again.
  - C(true) otherwise. Each role adds its own conditions (its C(<role>_record) switch, its identity mode).
  - Pure decision on the controller; no AWS or Kubernetes call is made.
options:
  _terms:
    description: The record's name (the role's capability record, for example C(irsa) or C(addons_after_capacity)).
    required: true
    type: list
    elements: str
notes:
  - Reads the variables C(nodeless_eks_full_check) (default C(false)) and C(nodeless_eks_unrecorded) (default C([])).
"""

EXAMPLES = r"""
- name: Compare the live state with the convergence record
  nodeless.eks.convergence_record:
    capability: istio
    region: "{{ nodeless_eks_region }}"
    inputs: "{{ _istio_record_inputs }}"
  register: _istio_gate
  when: istio_record | bool and lookup('nodeless.eks.gate_reads', 'istio')
"""

RETURN = r"""
_raw:
  description: One boolean per term, C(true) when that record's gate reads it.
  type: list
  elements: bool
"""

from ansible.errors import AnsibleLookupError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.lookup import LookupBase

from ansible_collections.nodeless.eks.plugins.module_utils.convergence_run import gate_reads


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        full_check = self._templar.template(variables.get("nodeless_eks_full_check", False))
        unrecorded = self._templar.template(variables.get("nodeless_eks_unrecorded", []))
        try:
            full_check = boolean(full_check)
        except TypeError as exc:
            raise AnsibleLookupError(f"nodeless_eks_full_check: {exc}") from exc
        if not isinstance(unrecorded, (list, tuple)):
            raise AnsibleLookupError(f"nodeless_eks_unrecorded: a list of record names, not {type(unrecorded).__name__}")
        return [gate_reads(str(term), full_check, unrecorded) for term in terms]
