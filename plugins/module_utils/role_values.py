# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role variables read as the Jinja filters the roles' checks used read them (``| int``, ``| unique``, ``~``), so a
check moved out of vars Jinja into Python decides and words its message as before. Pure functions, unit-tested."""

from __future__ import annotations


def as_int(value, default: int = 0) -> int:
    """Jinja's ``int`` filter: an int, a whole-number string, else the int part of a float, else DEFAULT."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def text(value) -> str:
    """Jinja's ``~``: str() of the value (None as 'None', True as 'True')."""
    return str(value)


def unique(values: list) -> list:
    """Ansible's ``unique`` filter: first occurrences, strings compared case-insensitively (Jinja's default)."""
    seen, out = [], []
    for value in values:
        marker = value.lower() if isinstance(value, str) else value
        if marker not in seen:
            seen.append(marker)
            out.append(value)
    return out
