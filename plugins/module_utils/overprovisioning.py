# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``overprovisioning`` role's preflight checks: the pause pods' priority between cluster-autoscaler's cutoff and
the default priority, their replicas and requests, and the PriorityClasses it declares (distinct names, one
globalDefault at most, in the cluster too), all reported at once. Pure functions, unit-tested."""

from __future__ import annotations

import re

from ansible_collections.nodeless.eks.plugins.module_utils.role_values import as_int, unique

_WHOLE = re.compile(r"^-?[0-9]+$")
_COUNT = re.compile(r"^[0-9]+$")
_CPU = re.compile(r"^[0-9]+(\.[0-9]+)?m?$")
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?([EPTGMk]i?)?$")


def declared_classes(settings: dict) -> list[dict]:
    """The PriorityClasses the role declares, ``{name, global_default}``: the default class (when enabled), the pause
    pods' class, then ``extra_classes`` as given."""
    declared = []
    if settings.get("default_class_enabled"):
        declared.append({"name": settings.get("default_class_name"), "global_default": bool(settings.get("default_class_global_default"))})
    declared.append({"name": settings.get("class_name"), "global_default": False})
    return declared + [dict(c) for c in settings.get("extra_classes") or []]


def role_errors(settings: dict, live_classes: list, cluster_name: str) -> list[str]:
    """Every broken setting at once, each naming its variable.

    ``settings``: the role's variables without the ``overprovisioning_`` prefix, as given (``priority``,
    ``expendable_cutoff``, ``replicas``, ``cpu``, ``memory``, ``class_name``, ``extra_classes``, ``default_class_name``,
    ``default_class_value``) and ``default_class_enabled`` / ``default_class_global_default`` as booleans.
    ``live_classes``: the PriorityClasses already in the cluster.
    """
    priority, cutoff = settings.get("priority"), settings.get("expendable_cutoff")
    # The value pods without a class get: the declared default class, else 0 (Kubernetes' own default).
    floor = settings.get("default_class_value") if settings.get("default_class_enabled") else 0
    declared = declared_classes(settings)
    names = [c.get("name") for c in declared]
    defaults = [c.get("name") for c in declared if c.get("global_default")]
    others = [c["metadata"]["name"] for c in live_classes or [] if c.get("globalDefault") and c["metadata"]["name"] not in defaults]
    errors = []
    if (not _WHOLE.match(str(priority)) or not _WHOLE.match(str(cutoff))
            or as_int(priority) <= as_int(cutoff) or as_int(priority) >= as_int(floor)):
        errors.append(f"overprovisioning_priority ({priority}) must be above overprovisioning_expendable_cutoff ({cutoff}), "
                      "or cluster-autoscaler ignores the pause pods and never scales up for them, and below the default "
                      f"priority ({floor}), or they are not preempted by real pods.")
    replicas, cpu, memory = settings.get("replicas"), settings.get("cpu"), settings.get("memory")
    if not _COUNT.match(str(replicas)) or not _CPU.match(str(cpu)) or not _MEMORY.match(str(memory)):
        errors.append(f"overprovisioning_replicas ({replicas}) must be a whole number, overprovisioning_cpu ({cpu}) a CPU "
                      f"quantity such as 500m and overprovisioning_memory ({memory}) a memory quantity such as 512Mi.")
    if len(unique(names)) != len(declared) or len(defaults) > 1:
        errors.append("overprovisioning_default_class_name, overprovisioning_class_name and overprovisioning_extra_classes "
                      f"must name different classes ({', '.join(map(str, names))}), and at most one may be globalDefault "
                      f"(declared globalDefault: {', '.join(map(str, defaults))}).")
    if defaults and others:
        errors.append(f"overprovisioning_default_class_global_default: PriorityClass {', '.join(others)} is already "
                      f"globalDefault in cluster {cluster_name}, and a cluster may have only one; this run declares "
                      f"{', '.join(map(str, defaults))}. Name that class instead, or set global_default to false.")
    return errors
