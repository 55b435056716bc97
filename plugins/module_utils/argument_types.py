# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a role's argument spec lets through: a mapping or a list given for a string option.

Ansible checks a role's variables against meta/argument_specs.yml when the role starts, but for a C(type: str)
option it turns a mapping or a list into its text instead of refusing it (a YAML indentation slip), and the role
then reads the mapping itself. Each role's preflight refuses those first, naming the variable (lookup
nodeless.eks.argument_type_errors)."""

from __future__ import annotations

from collections.abc import Mapping


def _kind(value) -> str:
    return "mapping" if isinstance(value, Mapping) else "list"


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_errors(options: Mapping, values: Mapping, prefix: str = "") -> list:
    """Messages for every option of OPTIONS (an argument spec's options) whose value in VALUES is a mapping or
    a list where the spec declares a string, at the top level, in suboptions and in lists of strings."""
    errors = []
    for name in sorted(options):
        if name not in values or values[name] is None:
            continue
        spec, value, where = options[name] or {}, values[name], f"{prefix}{name}"
        kind = spec.get("type", "str")
        if kind == "str" and isinstance(value, (Mapping, list)):
            errors.append(f"{where}: a {_kind(value)} ({_shown(value)}) where a string is expected; "
                          "check the YAML indentation or quote the value")
        elif kind == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                if spec.get("elements", "str") == "str" and isinstance(item, (Mapping, list)):
                    errors.append(f"{where}[{index}]: a {_kind(item)} ({_shown(item)}) where a string is expected")
                elif spec.get("options") and isinstance(item, Mapping):
                    errors.extend(type_errors(spec["options"], item, f"{where}[{index}]."))
        elif kind == "dict" and spec.get("options") and isinstance(value, Mapping):
            errors.extend(type_errors(spec["options"], value, f"{where}."))
    return errors
