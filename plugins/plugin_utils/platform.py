# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: which ansible-core releases the collection supports: the range in meta/runtime.yml, read where the
collection is installed, so the check and the declaration cannot disagree."""

from __future__ import annotations

import os

from ansible.module_utils.common.yaml import yaml_load

try:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
except ImportError:  # ansible-core itself depends on packaging; say so instead of guessing
    SpecifierSet = Version = None

RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "meta", "runtime.yml")


def requires_ansible(runtime_path=RUNTIME):
    """The collection's declared ansible-core range (meta/runtime.yml requires_ansible)."""
    with open(runtime_path, encoding="utf-8") as handle:
        return yaml_load(handle)["requires_ansible"]


def unsupported_ansible(version, requirement=None):
    """'' when ansible-core VERSION is inside the declared range, else a message naming the range."""
    requirement = requirement or requires_ansible()
    if SpecifierSet is None:
        raise ValueError("the Python library packaging is needed to compare ansible-core versions")
    if SpecifierSet(requirement).contains(Version(str(version)).base_version):
        return ""
    return (f"nodeless.eks supports ansible-core {requirement} (meta/runtime.yml requires_ansible); this is "
            f"ansible-core {version}. Install a supported release (docs/compatibility.md).")
