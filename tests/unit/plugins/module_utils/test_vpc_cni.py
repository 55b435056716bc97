"""The VPC CNI settings decided once (module_utils/vpc_cni.py): the aws-node environment and the checks, shared by the
vpc_cni role's DaemonSet patch and the addons role's vpc-cni configuration values."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.filter.vpc_cni import vpc_cni_env, vpc_cni_errors
from ansible_collections.nodeless.eks.plugins.module_utils.vpc_cni import env, settings_errors

DEFAULTS = {"prefix_delegation": True, "warm_prefix_target": 1, "warm_ip_target": None, "minimum_ip_target": None,
            "warm_eni_target": None, "extra_env": {}}


def test_defaults_give_prefix_delegation_and_one_warm_prefix():
    assert env(DEFAULTS) == {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}
    assert settings_errors(DEFAULTS) == []


def test_null_settings_are_left_out_numbers_become_strings_and_extra_env_is_added():
    got = env(dict(DEFAULTS, prefix_delegation="false", warm_prefix_target=None, warm_ip_target=5, minimum_ip_target="10",
                   extra_env={"AWS_VPC_K8S_CNI_LOGLEVEL": "INFO"}))
    assert got == {"ENABLE_PREFIX_DELEGATION": "false", "WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10",
                   "AWS_VPC_K8S_CNI_LOGLEVEL": "INFO"}


@pytest.mark.parametrize("over, words", [
    ({"warm_eni_target": "two"}, ["vpc_cni_warm_eni_target must be a whole number", "two"]),
    ({"warm_ip_target": -1}, ["vpc_cni_warm_ip_target", "-1"]),
    ({"warm_prefix_target": 0}, ["vpc_cni_warm_prefix_target (0) must not be 0"]),
    ({"warm_prefix_target": None, "warm_ip_target": 0, "minimum_ip_target": 0}, ["must not both be 0"]),
    ({"extra_env": {"lower": "x"}}, ["vpc_cni_extra_env must map upper-case"]),
    ({"extra_env": {"AWS_VPC_ENI_MTU": 9001}}, ["quoted strings"]),
    ({"extra_env": {"WARM_IP_TARGET": "3"}}, ["must not set ENABLE_PREFIX_DELEGATION, WARM_PREFIX_TARGET"]),
])
def test_each_broken_setting_is_named(over, words):
    errors = settings_errors(dict(DEFAULTS, **over))
    assert len(errors) == 1 and all(w in errors[0] for w in words), errors


def test_zero_prefix_target_is_fine_without_prefix_delegation():
    assert settings_errors(dict(DEFAULTS, prefix_delegation=False, warm_prefix_target=0)) == []


def test_filters_take_templated_values():
    assert vpc_cni_env(DEFAULTS) == env(DEFAULTS)
    assert vpc_cni_errors(dict(DEFAULTS, warm_prefix_target=0)) == settings_errors(dict(DEFAULTS, warm_prefix_target=0))


def _daemonset(image, container="aws-node"):
    return [{"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}]


def test_installed_errors_need_the_daemonset_and_prefix_delegation_since_1_9():
    from ansible_collections.nodeless.eks.plugins.filter.vpc_cni import vpc_cni_installed_errors

    where = {"namespace": "kube-system", "daemonset": "aws-node", "container": "aws-node", "cluster": "lab"}
    assert vpc_cni_installed_errors(_daemonset("r/amazon-k8s-cni:v1.20.4-eksbuild.1"), where, True) == []
    assert vpc_cni_installed_errors(_daemonset("r/amazon-k8s-cni:v1.8.9"), where, True) == [
        "vpc_cni_prefix_delegation needs VPC CNI 1.9.0 or later; the cluster runs r/amazon-k8s-cni:v1.8.9. Upgrade the "
        "vpc-cni add-on first."]
    assert vpc_cni_installed_errors(_daemonset("r/amazon-k8s-cni:v1.8.9"), where, False) == []
    assert vpc_cni_installed_errors(_daemonset("r/amazon-k8s-cni:latest"), where, True) == []
    missing = ["vpc_cni_daemonset: no DaemonSet kube-system/aws-node with a container named aws-node in cluster lab; is the "
               "Amazon VPC CNI installed?"]
    assert vpc_cni_installed_errors([], where, True) == missing
    assert vpc_cni_installed_errors(_daemonset("x:v1.20.0", container="other"), where, True) == missing
