# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: the collection's IAM policy files (``policies/<name>.yml``), read by the ``iam_policy`` lookup
and the ``irsa_plan`` filters, so no plugin imports another plugin."""

from __future__ import annotations

from pathlib import Path

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.yaml import yaml_load

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"


def available() -> list[str]:
    return sorted(p.stem for p in POLICY_DIR.glob("*.yml"))


def load(name: str) -> dict:
    """The policy file's data: description, upstream, document (with ${parameters})."""
    path = POLICY_DIR / f"{name}.yml"
    if not path.is_file():
        raise AnsibleLookupError(f"iam_policy: unknown policy {name!r}; known: {', '.join(available())}")
    return yaml_load(path.read_text(encoding="utf-8"))
