# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML text as data, one way for modules and filters alike: ansible-core's loaders (PyYAML, which
ansible-core depends on), with PyYAML's errors turned into one ValueError that callers word for their field."""

from __future__ import annotations

from ansible.module_utils.common.yaml import yaml_load, yaml_load_all

try:  # PyYAML comes with ansible-core; only ansible-test's import check runs without it
    from yaml import YAMLError
except ImportError:
    YAMLError = ValueError


class YamlTextError(ValueError):
    """Text that is not YAML. ``str()`` is PyYAML's message, ``kind`` its error class (ScannerError, ...),
    ``first_line`` the message's first line."""

    def __init__(self, exc: Exception):
        super().__init__(str(exc))
        self.kind = type(exc).__name__
        text = str(exc).strip()
        self.first_line = text.splitlines()[0] if text else self.kind


def load(text: str):
    """The one YAML (or JSON) document in TEXT; None for empty text."""
    try:
        return yaml_load(text)
    except YAMLError as exc:
        raise YamlTextError(exc) from exc


def load_all(text: str) -> list:
    """Every document in TEXT, in order (empty ones included, as None)."""
    try:
        return list(yaml_load_all(text))
    except YAMLError as exc:
        raise YamlTextError(exc) from exc
