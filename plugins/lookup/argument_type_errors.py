# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: argument_type_errors
author:
  - nodeless.eks contributors (@nodeless)
version_added: 0.1.0
short_description: A role's variables that are a mapping or a list where its argument spec declares a string
description:
  - Ansible checks a role's variables against its C(meta/argument_specs.yml) when the role starts, but turns a
    mapping or a list given for a C(type=str) option into text instead of refusing it; the role then reads the
    mapping itself and fails late, or writes its text.
  - This lookup reads the role's argument spec (the collection's own C(roles/<role>/meta/argument_specs.yml)) and
    returns one message per such variable, naming it, so the role's preflight refuses it before any write.
  - Pure check on the controller; no AWS or Kubernetes call is made.
options:
  _terms:
    description: Role names of this collection (without the C(nodeless.eks.) prefix).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Refuse a mapping or a list where a string is expected
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join('; ') }}"
    quiet: true
  vars:
    _errors: "{{ query('nodeless.eks.argument_type_errors', 'karpenter') }}"
"""

RETURN = r"""
_raw:
  description: One message per variable, naming it, in option order; empty when every value fits.
  type: list
  elements: str
"""

from pathlib import Path

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.yaml import yaml_load
from ansible.plugins.lookup import LookupBase

from ansible_collections.nodeless.eks.plugins.module_utils.argument_types import type_errors

ROLES = Path(__file__).resolve().parents[2] / "roles"


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        errors = []
        for role in terms:
            path = ROLES / role / "meta" / "argument_specs.yml"
            if not path.is_file():
                raise AnsibleLookupError(f"argument_type_errors: no role {role!r} in this collection")
            options = yaml_load(path.read_text(encoding="utf-8"))["argument_specs"]["main"].get("options") or {}
            given = {name: self._templar.template(variables[name]) for name in options if name in variables}
            errors.extend(type_errors(options, given))
        return errors
