"""The overprovisioning role's preflight (module_utils/overprovisioning.py role_errors); every message as the role
printed it from vars Jinja before."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.filter.overprovisioning_errors import overprovisioning_errors

DEFAULTS = {"priority": -5, "expendable_cutoff": -10, "replicas": 1, "cpu": "500m", "memory": "512Mi", "class_name": "overprovisioning",
            "extra_classes": [], "default_class_enabled": True, "default_class_name": "default", "default_class_value": 0,
            "default_class_global_default": True}


def errors(live=(), **over):
    return overprovisioning_errors(dict(DEFAULTS, **over), list(live), "lab")


def test_defaults_pass():
    assert errors() == []


@pytest.mark.parametrize("over, shown", [
    ({"priority": -10}, "(-10) must be above overprovisioning_expendable_cutoff (-10)"),
    ({"priority": 5}, "(5) must be above"),
    ({"priority": "abc"}, "(abc)"),
    ({"default_class_enabled": False, "default_class_value": 100, "priority": 0}, "below the default priority (0)"),
])
def test_the_priority_must_sit_between_the_cutoff_and_the_default(over, shown):
    got = errors(**over)
    assert len(got) == 1 and got[0].startswith("overprovisioning_priority (") and shown in got[0]
    assert got[0].endswith("or they are not preempted by real pods.")


def test_quantities_classes_and_the_clusters_own_default():
    assert errors(cpu="1 core") == ["overprovisioning_replicas (1) must be a whole number, overprovisioning_cpu (1 core) a CPU "
                                    "quantity such as 500m and overprovisioning_memory (512Mi) a memory quantity such as 512Mi."]
    assert errors(cpu=0.5, memory="1.5Gi") == []
    assert errors(extra_classes=[{"name": "batch", "value": 100, "global_default": True}]) == [
        "overprovisioning_default_class_name, overprovisioning_class_name and overprovisioning_extra_classes must name "
        "different classes (default, overprovisioning, batch), and at most one may be globalDefault (declared globalDefault: "
        "default, batch)."]
    live = [{"metadata": {"name": "system-default"}, "globalDefault": True}, {"metadata": {"name": "default"}, "globalDefault": True}]
    assert errors(live) == [
        "overprovisioning_default_class_global_default: PriorityClass system-default is already globalDefault in cluster lab, "
        "and a cluster may have only one; this run declares default. Name that class instead, or set global_default to false."]
    assert errors(live, default_class_global_default=False) == []
