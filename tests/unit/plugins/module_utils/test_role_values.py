"""Role variables read as the Jinja filters the roles' checks used (module_utils/role_values.py)."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils.role_values import as_int, unique


@pytest.mark.parametrize("value, expected", [(5, 5), ("-7", -7), ("1.9", 1), (2.7, 2), ("abc", 0), (None, 0), (True, 1)])
def test_as_int_reads_like_jinjas_int_filter(value, expected):
    assert as_int(value) == expected


def test_unique_keeps_first_occurrences_and_ignores_case_like_ansibles_filter():
    assert unique(["Web", "web", "", "", 3, 3]) == ["Web", "", 3]
