"""The Kubernetes and IAM name rules every module, filter and role preflight shares (module_utils/names.py)."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils.names import (
    iam_path_error, is_dns1123_label, is_dns1123_subdomain, is_policy_arn, is_policy_name, is_role_arn, role_name_error,
    service_account_name_errors,
)


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


@pytest.mark.parametrize("namespace, sa, fields", [
    ("kube-system", "cluster-autoscaler", []),
    ("kube-system", "a.b", []),
    ("Kube", "ok", ["namespace"]),
    ("a" * 64, "ok", ["namespace"]),
    ("ns", "bad_name", ["service_account"]),
    ("", "", ["namespace", "service_account"]),
])
def test_name_errors(namespace, sa, fields):
    assert [f for f, _unused in service_account_name_errors(namespace, sa)] == fields


def test_role_name_and_path_errors():
    assert "65 characters" in role_name_error("r" * 65)
    assert "may only contain" in role_name_error("bad name")
    assert iam_path_error("/") is None and iam_path_error("/irsa/") is None
    assert iam_path_error("irsa") is not None


@pytest.mark.parametrize("arn, ok", [
    ("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy", True),
    ("arn:aws:iam::123456789012:policy/team/my-policy", True),
    ("arn:aws-cn:iam::123456789012:policy/x", True),
    ("arn:aws:iam::12345:policy/x", False),
    ("arn:aws:iam::123456789012:role/x", False),
    ("AmazonEKS_CNI_Policy", False),
])
def test_is_policy_arn(arn, ok):
    assert is_policy_arn(arn) is ok


@pytest.mark.parametrize("value, ok", [("my-policy", True), ("a+b=c,d.e@f_g-h", True), ("p" * 128, True), ("p" * 129, False),
                                       ("bad name", False), ("", False), (None, False)])
def test_is_policy_name(value, ok):
    assert is_policy_name(value) is ok
