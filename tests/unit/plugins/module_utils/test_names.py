"""The Kubernetes name rules every module, filter and role preflight shares."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_label, is_dns1123_subdomain, is_role_arn


@pytest.mark.parametrize("value, ok", [("canary", True), ("1-30-3", True), ("Canary", False), ("1.30", False),
                                       ("-a", False), ("a" * 63, True), ("a" * 64, False), ("", False), (None, False)])
def test_dns1123_label(value, ok):
    assert is_dns1123_label(value) is ok


@pytest.mark.parametrize("value, ok", [("aws-node", True), ("k8s.io", True), ("a.b-c.d", True), ("a..b", False),
                                       ("A.b", False), ("a.", False), (".a", False), ("a" * 253, True), ("a" * 254, False),
                                       ("", False), (7, False)])
def test_dns1123_subdomain(value, ok):
    assert is_dns1123_subdomain(value) is ok


def test_subdomain_with_a_shorter_bound():
    assert is_dns1123_subdomain("a" * 63, max_length=63) and not is_dns1123_subdomain("a" * 64, max_length=63)


def test_the_jinja_tests_apply_the_same_rules():
    from ansible_collections.nodeless.eks.plugins.test.names import TestModule  # noqa: PLC0415

    tests = TestModule().tests()
    assert tests["dns1123_label"]("kube-system") and not tests["dns1123_label"]("kube.system")
    assert tests["dns1123_subdomain"]("kube.system") and not tests["dns1123_subdomain"]("Kube")


def test_role_arns_in_every_partition_and_nothing_else():
    assert is_role_arn("arn:aws:iam::123456789012:role/ops")
    assert is_role_arn("arn:aws-cn:iam::123456789012:role/path/to/ops+x=y,z.w@v_u-t")
    assert not is_role_arn("arn:aws:iam::123456789012:user/ops")
    assert not is_role_arn("arn:aws:iam::12345678901:role/ops")
    assert not is_role_arn("ops") and not is_role_arn(None)
