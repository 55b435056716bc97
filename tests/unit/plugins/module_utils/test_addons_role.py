"""The addons role's decisions (module_utils/addons_role.py): what each step sends to eks_addon, and its checks."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.filter.addons import addons_errors, addons_names, addons_request
from ansible_collections.nodeless.eks.plugins.module_utils.addons_role import errors, names, request

ROLE = "arn:aws:iam::123456789012:role/lab-kube-system-ebs-csi-controller-sa"
ALL = {"vpc_cni": True, "kube_proxy": True, "pod_identity_agent": True, "coredns": True, "ebs_csi_driver": True,
       "vpc_cni_env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}, "ebs_csi_driver_role_arn": ROLE,
       "remove": [], "allow_critical_removal": False, "coredns_fargate": False}


def test_before_capacity_is_vpc_cni_with_the_vpc_cni_settings_kube_proxy_and_the_pod_identity_agent():
    got = request(dict(ALL, vpc_cni_version="latest", vpc_cni_values={"resources": {"requests": {"cpu": "30m"}}}), "before_capacity")
    assert got == [
        {"name": "vpc-cni", "version": "latest", "configuration_values": {
            "env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}, "resources": {"requests": {"cpu": "30m"}}}},
        {"name": "kube-proxy", "configuration_values": {}},
        {"name": "eks-pod-identity-agent", "configuration_values": {}}]


def test_after_capacity_is_coredns_and_ebs_csi_with_its_role():
    assert request(ALL, "after_capacity") == [
        {"name": "coredns", "configuration_values": {}},
        {"name": "aws-ebs-csi-driver", "configuration_values": {}, "service_account_role_arn": ROLE}]


def test_disabled_addons_are_left_alone():
    off = dict(ALL, vpc_cni=False, kube_proxy=False, pod_identity_agent=False)
    assert request(off, "before_capacity") == []


def test_coredns_on_fargate_gets_compute_type_and_the_fargate_toleration_under_the_users_values():
    got = request(dict(ALL, coredns_fargate=True, coredns_values={"replicaCount": 3}), "after_capacity")[0]
    assert got["configuration_values"] == {
        "computeType": "Fargate", "replicaCount": 3,
        "tolerations": [{"key": "eks.amazonaws.com/compute-type", "operator": "Equal", "value": "fargate", "effect": "NoSchedule"}]}


def test_removals_go_to_the_step_of_their_addon_preserving_by_default():
    settings = dict(ALL, coredns=False, kube_proxy=False, remove=[{"name": "coredns"}, {"name": "kube-proxy", "preserve": False},
                                                                  {"name": "snapshot-controller"}])
    assert request(settings, "before_capacity")[-2:] == [{"name": "kube-proxy", "state": "absent", "preserve": False},
                                                         {"name": "snapshot-controller", "state": "absent", "preserve": True}]
    assert request(settings, "after_capacity")[-1] == {"name": "coredns", "state": "absent", "preserve": True}


def test_good_settings_pass():
    assert errors(ALL) == []
    assert errors(dict(ALL, coredns=False, remove=[{"name": "coredns"}])) == []
    assert errors(dict(ALL, kube_proxy=False, remove=[{"name": "kube-proxy", "preserve": False}], allow_critical_removal=True)) == []


def test_deleting_coredns_workload_needs_the_explicit_flag():
    got = errors(dict(ALL, coredns=False, remove=[{"name": "coredns", "preserve": False}]))
    assert got == ["addons_remove[0].preserve: deleting the coredns add-on's workload takes the cluster's DNS away from the "
                   "cluster; set addons_allow_critical_removal true to do it, or keep preserve true (EKS stops managing it, "
                   "the workload keeps running)"]


def test_every_broken_variable_is_named_at_once():
    got = errors(dict(ALL, kube_proxy_values="mode: ipvs", vpc_cni_values={"env": {"X": "1"}},
                      remove=[{"preserve": True}, {"name": "vpc-cni"}]))
    assert [e.split(":")[0].split(" ")[0] for e in got] == [
        "addons_kube_proxy_values", "addons_vpc_cni_values.env", "addons_remove[0].name", "addons_remove[1].name"]
    assert "set addons_vpc_cni false to remove it" in got[-1]


def test_filters_take_templated_values():
    assert addons_request(ALL, "after_capacity") == request(ALL, "after_capacity")
    assert addons_errors(ALL) == []


def test_names_are_the_converged_addons_of_both_steps():
    assert names(ALL) == ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"]
    assert addons_names(dict(ALL, vpc_cni=False, ebs_csi_driver=False)) == ["kube-proxy", "eks-pod-identity-agent", "coredns"]


def test_ebs_csi_under_pod_identity_gets_the_addons_own_association_and_no_irsa_role():
    assert request(dict(ALL, ebs_csi_driver_identity="pod_identity"), "after_capacity")[1] == {
        "name": "aws-ebs-csi-driver", "configuration_values": {},
        "pod_identity_associations": [{"service_account": "ebs-csi-controller-sa", "role_arn": ROLE}]}
