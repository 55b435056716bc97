# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``cluster_health`` role's checks of its variables (before any write), each message naming its variables and
worded as the role printed them from vars Jinja before. Pure functions, unit-tested.

SETTINGS is the role's variables without their ``cluster_health_`` prefix, as given: ``error_ratio_warning``,
``error_ratio_critical``, ``storage_warning_ratio``, ``storage_critical_ratio``, ``storage_limit_bytes``,
``min_requests`` and ``target_version``."""

from __future__ import annotations

import re

from ansible_collections.nodeless.eks.plugins.module_utils.role_values import as_int, text

# The ratio variables, in the order their message names them.
RATIOS = ("error_ratio_warning", "error_ratio_critical", "storage_warning_ratio", "storage_critical_ratio")
_MINOR = re.compile(r"^1\.[0-9]+$")


def as_float(value, default: float = 0.0) -> float:
    """Jinja's ``float`` filter: float() of the value, else DEFAULT."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def role_errors(settings: dict) -> list[str]:
    """Every broken setting at once: ratios above 0 and at most 1, each warning level at most its critical level, a
    positive storage limit, a request floor of 0 or more, and a target version that is empty or a minor (1.N)."""
    values = {name: as_float(settings.get(name)) for name in RATIOS}
    # Not above 0 first (NaN included), then above 1: the order the role always printed them in.
    bad = [name for name in RATIOS if not values[name] > 0] + [name for name in RATIOS if values[name] > 1]
    errors = []
    if bad:
        errors.append(", ".join(f"cluster_health_{name}" for name in bad) + ": must be a ratio greater than 0 and at most 1")
    if values["error_ratio_warning"] > values["error_ratio_critical"] or values["storage_warning_ratio"] > values["storage_critical_ratio"]:
        errors.append(f"cluster_health_error_ratio_warning ({text(settings.get('error_ratio_warning'))}) must not exceed "
                      f"cluster_health_error_ratio_critical ({text(settings.get('error_ratio_critical'))}), and "
                      f"cluster_health_storage_warning_ratio ({text(settings.get('storage_warning_ratio'))}) must not exceed "
                      f"cluster_health_storage_critical_ratio ({text(settings.get('storage_critical_ratio'))}).")
    target = settings.get("target_version") or ""
    if as_int(settings.get("storage_limit_bytes")) <= 0 or as_int(settings.get("min_requests")) < 0 or (target and not _MINOR.match(text(target))):
        errors.append(f"cluster_health_storage_limit_bytes ({text(settings.get('storage_limit_bytes'))}) must be a positive number of "
                      f"bytes, cluster_health_min_requests ({text(settings.get('min_requests'))}) 0 or more, and "
                      f"cluster_health_target_version ({text(target or 'unset')}) empty or a Kubernetes minor such as 1.36.")
    return errors
