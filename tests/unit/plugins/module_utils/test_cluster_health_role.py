"""The cluster_health role's preflight (module_utils/cluster_health_role.py role_errors, filter cluster_health_errors);
every message as the role printed it from vars Jinja before."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.filter.cluster_health_errors import cluster_health_errors
from ansible_collections.nodeless.eks.plugins.module_utils.cluster_health_role import as_float

DEFAULTS = {"error_ratio_warning": 0.01, "error_ratio_critical": 0.05, "storage_warning_ratio": 0.5, "storage_critical_ratio": 0.8,
            "storage_limit_bytes": 8589934592, "min_requests": 100, "target_version": ""}
ORDER = "must not exceed"


def errors(**over):
    return cluster_health_errors(dict(DEFAULTS, **over))


@pytest.mark.parametrize("target", ["", None, "1.36", "1.35", 1.36])
def test_defaults_and_minors_pass(target):
    assert errors(target_version=target) == []


def test_a_ratio_out_of_range_is_named_then_the_order_is_reported_with_every_value():
    assert errors(storage_warning_ratio=1.5) == [
        "cluster_health_storage_warning_ratio: must be a ratio greater than 0 and at most 1",
        "cluster_health_error_ratio_warning (0.01) must not exceed cluster_health_error_ratio_critical (0.05), and "
        "cluster_health_storage_warning_ratio (1.5) must not exceed cluster_health_storage_critical_ratio (0.8)."]


def test_not_positive_ratios_come_before_ratios_above_one():
    got = errors(error_ratio_critical=3, storage_critical_ratio=0, error_ratio_warning="abc", storage_warning_ratio=-1)
    assert got[0] == ("cluster_health_error_ratio_warning, cluster_health_storage_warning_ratio, cluster_health_storage_critical_ratio, "
                      "cluster_health_error_ratio_critical: must be a ratio greater than 0 and at most 1")
    assert len(got) == 1


@pytest.mark.parametrize("value", ["nan", None, "", [0.1], 0])
def test_what_is_not_a_positive_number_is_not_a_ratio(value):
    assert errors(error_ratio_critical=value)[0] == "cluster_health_error_ratio_critical: must be a ratio greater than 0 and at most 1"


def test_warning_above_critical_shows_the_values_as_given():
    got = errors(error_ratio_warning="0.2", error_ratio_critical=0.1)
    assert got == ["cluster_health_error_ratio_warning (0.2) must not exceed cluster_health_error_ratio_critical (0.1), and "
                   "cluster_health_storage_warning_ratio (0.5) must not exceed cluster_health_storage_critical_ratio (0.8)."]


@pytest.mark.parametrize("over, shown", [
    ({"storage_limit_bytes": 0}, "cluster_health_storage_limit_bytes (0)"),
    ({"storage_limit_bytes": "x"}, "cluster_health_storage_limit_bytes (x)"),
    ({"min_requests": -1}, "cluster_health_min_requests (-1)"),
    ({"target_version": "2.0.1"}, "cluster_health_target_version (2.0.1)"),
    ({"target_version": "1.36.0"}, "cluster_health_target_version (1.36.0)"),
    ({"target_version": "v1.36"}, "cluster_health_target_version (v1.36)"),
])
def test_limit_floor_and_target_in_one_message(over, shown):
    got = errors(**over)
    assert len(got) == 1 and shown in got[0] and got[0].endswith("empty or a Kubernetes minor such as 1.36.")
    assert "cluster_health_target_version (" + str(over.get("target_version") or "unset") + ")" in got[0]


def test_float_reads_like_jinja():
    assert as_float("0.5") == 0.5 and as_float(True) == 1.0 and as_float("x") == 0.0 and as_float(None) == 0.0
