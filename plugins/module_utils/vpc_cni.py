# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VPC CNI settings (aws-node environment) the ``vpc_cni`` role holds, decided once for both ways they are
delivered: the DaemonSet patch (self-managed VPC CNI) and the vpc-cni add-on's configuration values (EKS managed).

``settings`` is the role's variables without their ``vpc_cni_`` prefix: prefix_delegation, warm_prefix_target,
warm_ip_target, minimum_ip_target, warm_eni_target, extra_env. Pure functions, unit-tested.
"""

from __future__ import annotations

import re

from ansible.module_utils.compat.version import LooseVersion

# The aws-node variables the role owns, each from its own role variable (None: not owned).
OWNED = ("ENABLE_PREFIX_DELEGATION", "WARM_PREFIX_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET", "WARM_ENI_TARGET")
_NUMBERS = ("warm_prefix_target", "warm_ip_target", "minimum_ip_target", "warm_eni_target")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def env(settings: dict) -> dict:
    """The aws-node environment the settings give: owned variables that are not None, as strings, plus extra_env."""
    out = {"ENABLE_PREFIX_DELEGATION": str(_bool(settings.get("prefix_delegation", True))).lower()}
    for key in _NUMBERS:
        if settings.get(key) is not None:
            out[key.upper()] = str(settings[key])
    out.update({str(k): v for k, v in (settings.get("extra_env") or {}).items()})
    return out


def settings_errors(settings: dict) -> list[str]:
    """Every broken setting at once, each naming its variable (vpc_cni_<name>)."""
    errors = []
    for key in _NUMBERS:
        value = settings.get(key)
        if value is not None and not re.match(r"^[0-9]+$", str(value)):
            errors.append(f"vpc_cni_{key} must be a whole number >= 0 or null, not {value}")
    warm_prefix, warm_ip, minimum_ip = (settings.get(k) for k in ("warm_prefix_target", "warm_ip_target", "minimum_ip_target"))
    if _bool(settings.get("prefix_delegation", True)) and (
            (warm_prefix is not None and str(warm_prefix) == "0") or (str(warm_ip) == "0" and str(minimum_ip) == "0")):
        errors.append(f"vpc_cni_warm_prefix_target ({warm_prefix}) must not be 0, and vpc_cni_warm_ip_target and "
                      "vpc_cni_minimum_ip_target must not both be 0, while vpc_cni_prefix_delegation is true (the VPC CNI "
                      "does not support it).")
    extra = settings.get("extra_env") or {}
    if not isinstance(extra, dict) or any(not _ENV_NAME.match(str(k)) or not isinstance(v, str) or k in OWNED
                                          for k, v in extra.items()):
        errors.append(f"vpc_cni_extra_env must map upper-case variable names to quoted strings and must not set "
                      f"{', '.join(OWNED)} (use their own variables); got {extra}")
    return errors


# Lowest VPC CNI version that supports prefix delegation.
PREFIX_DELEGATION_SINCE = "1.9.0"
_IMAGE_VERSION = re.compile(r":v?([0-9]+[.][0-9]+[.][0-9]+)")


def installed_errors(daemonsets: list, where: dict, prefix_delegation: bool) -> list[str]:
    """What the installed VPC CNI refuses: no DaemonSet with the container, or prefix delegation on a version before
    PREFIX_DELEGATION_SINCE. ``daemonsets``: what preflight read (0 or 1); ``where``: ``namespace``, ``daemonset``,
    ``container`` (the role's variables) and ``cluster`` (its name)."""
    containers = [c for d in daemonsets or [] for c in ((d.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []]
    container = next((c for c in containers if c.get("name") == where.get("container")), None)
    if len(daemonsets or []) != 1 or container is None:
        return [f"vpc_cni_daemonset: no DaemonSet {where.get('namespace')}/{where.get('daemonset')} with a container named "
                f"{where.get('container')} in cluster {where.get('cluster')}; is the Amazon VPC CNI installed?"]
    match = _IMAGE_VERSION.search(container.get("image") or "")
    if prefix_delegation and match and LooseVersion(match.group(1)) < LooseVersion(PREFIX_DELEGATION_SINCE):
        return [f"vpc_cni_prefix_delegation needs VPC CNI {PREFIX_DELEGATION_SINCE} or later; the cluster runs "
                f"{container.get('image')}. Upgrade the vpc-cni add-on first."]
    return []
