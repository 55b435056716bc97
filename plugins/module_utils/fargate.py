# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``fargate`` role's preflight checks: EKS's limits on a Fargate profile, private subnets only, unique names and a
profile for CoreDNS, all reported at once. Pure functions, unit-tested."""

from __future__ import annotations

import re

from ansible_collections.nodeless.eks.plugins.module_utils.role_values import unique

# EKS: a profile name of letters, digits, - and _ (at most 100), 1 to 5 selectors, at most 5 labels a selector.
_PROFILE_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
MAX_SELECTORS = 5
MAX_LABELS = 5


def _shape_ok(profile: dict) -> bool:
    selectors = profile.get("selectors", [])
    return bool(_PROFILE_NAME.match(str(profile.get("name", "")))) and 1 <= len(selectors) <= MAX_SELECTORS and all(
        "namespace" in s and len(s.get("labels", {})) <= MAX_LABELS for s in selectors)


def role_errors(profiles: list, exposure: dict, default_subnets: list, coredns: bool, coredns_namespace: str,
                cluster_name: str) -> list[str]:
    """Every broken entry of ``fargate_profiles`` at once, each naming its field.

    ``exposure``: subnet ID -> ``public`` / ``private`` (filter ``subnet_exposure``) for the subnets the profiles name;
    ``default_subnets``: the cluster's private subnets (filter ``private_subnets``), used by a profile naming none.
    """
    public_of = [subnet for subnet, kind in (exposure or {}).items() if kind == "public"]
    errors = []
    for index, profile in enumerate(profiles):
        name = profile.get("name", "unnamed")
        if not _shape_ok(profile):
            errors.append(f"fargate_profiles[{index}] ({name}): a profile needs a name (letters, digits, - and _), 1 to 5 "
                          f"selectors (it has {len(profile.get('selectors', []))}), each with a namespace and at most 5 labels. "
                          "EKS enforces these limits; split a larger set over several profiles.")
        public = [s for s in profile.get("subnets", []) if s in public_of]
        if public:
            errors.append(f"fargate_profiles[{index}].subnets ({name}): {', '.join(map(str, public))}"
                          f"{' is a public subnet' if len(public) == 1 else ' are public subnets'} (default route to an "
                          "internet gateway); Fargate profiles take private subnets only, e.g. "
                          f"{', '.join(map(str, default_subnets or []))}.")
    names = [p.get("name", "") for p in profiles]
    if len(unique(names)) != len(profiles):
        errors.append(f"fargate_profiles: names must be unique ({', '.join(map(str, names))})")
    selected = [s.get("namespace") for p in profiles for s in p.get("selectors", []) if "namespace" in s]
    if coredns and coredns_namespace not in selected:
        errors.append(f"fargate_coredns is true but no entry of fargate_profiles selects namespace {coredns_namespace}; "
                      "CoreDNS would stay Pending. Add a profile selecting it (labels k8s-app: kube-dns) or set "
                      "fargate_coredns: false.")
    if not default_subnets and any("subnets" not in p for p in profiles):
        errors.append(f"fargate_profiles: cluster {cluster_name} has no private subnet (all route 0.0.0.0/0 to an internet "
                      "gateway); give each profile private subnets explicitly.")
    return errors
