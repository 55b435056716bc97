"""The Kubernetes and IAM name rules every module, filter and role preflight shares (module_utils/names.py)."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.filter.common_errors import common_errors
from ansible_collections.nodeless.eks.plugins.module_utils.names import (
    cluster_identity_error, iam_path_error, is_dns1123_label, is_dns1123_subdomain, is_policy_arn, is_policy_name, is_role_arn, role_name_error,
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


@pytest.mark.parametrize("name, region, ok", [
    ("prod-eu", "eu-west-1", True), ("a", "us-gov-west-1", True), ("1_a", "ap-southeast-2", True),
    ("", "eu-west-1", False), (None, "eu-west-1", False), ("-prod", "eu-west-1", False), ("a" * 101, "eu-west-1", False),
    ("prod", "mars-1", False), ("prod", "", False), ({"a": 1}, "eu-west-1", False), ("prod", ["eu-west-1"], False),
])
def test_cluster_identity_error_names_both_settings(name, region, ok):
    message = cluster_identity_error(name, region)
    assert (message == "") is ok
    if not ok:
        assert "nodeless_eks_cluster_name (" + (str(name) if name else "unset") + ")" in message
        assert "nodeless_eks_region (" + (str(region) if region else "unset") + ")" in message


def test_common_errors_lists_the_release_then_types_then_identity_and_nothing_when_all_hold():
    from ansible.release import __version__ as ansible_core_version

    assert common_errors(ansible_core_version, "prod", "eu-west-1", []) == []
    errors = common_errors("2.10.0", "", "eu-west-1", ["nodeless_eks_region: a string, not a mapping"])
    assert len(errors) == 3
    assert "2.10.0" in errors[0] and errors[1].startswith("nodeless_eks_region: a string")
    assert errors[2].startswith("nodeless_eks_cluster_name (unset)")
