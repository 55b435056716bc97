"""The kubeconfig role's preflight checks (filter kubeconfig_errors) and its compare-before-apply (k8s_stale)."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.filter.k8s_stale import k8s_stale
from ansible_collections.nodeless.eks.plugins.filter.kubeconfig import kubeconfig_errors

# A token-mode run that passes every check: what the role's vars hand over after its preflight reads.
GOOD = {
    "mode": "token", "state": "present", "break_glass_enabled": False, "service_account": "ci", "cluster_role_wanted": "",
    "cluster_role": "view", "rules": [], "namespace": "default", "rbac_namespaces": [], "allow_cluster_admin": False,
    "token_expiration": 86400, "token_renew_before": 3600, "exec_role_arn": "", "exec_profile": "",
    "server": "https://api.example.com", "ca": "LS0t", "insecure": False, "path": "/home/ci/.kube/lab", "set_fact": False,
    "dir": {"exists": True, "isdir": True, "writeable": True, "woth": False, "mode": "0755"},
    "probe": {"path": "/home/ci/.kube/.nodeless-eks-probe-x"}, "clusterroles_found": 1, "existing_namespaces": None,
    "record": True, "record_name": "kubeconfig",
}


def errors(**over):
    return kubeconfig_errors(dict(GOOD, **over))


def test_good_settings_pass():
    assert errors() == []
    assert errors(service_account="ci.bot") == []  # a ServiceAccount name is a DNS-1123 subdomain, as names.py checks it
    assert errors(mode="exec", service_account="", cluster_role="", clusterroles_found=None,
                  exec_role_arn="arn:aws:iam::123456789012:role/ops") == []


@pytest.mark.parametrize("over, message", [
    ({"mode": "break_glass", "service_account": "", "cluster_role": "cluster-admin"},
     "kubeconfig_mode is break_glass but kubeconfig_break_glass_enabled is not true. A break-glass cluster-admin "
     "bypasses IAM; opt in explicitly (see docs/kubeconfig.md for rotation and revocation)."),
    ({"mode": "exec", "service_account": "ci"}, "kubeconfig_mode is exec: conflicting modes."),
    ({"exec_profile": "ops"}, "kubeconfig_mode is token: conflicting modes."),
    ({"rules": [{"verbs": ["get"]}], "cluster_role_wanted": "edit"}, "kubeconfig_rules and kubeconfig_cluster_role exclude each other."),
    ({"service_account": "CI_bot"}, "kubeconfig_service_account: CI_bot must be a DNS-1123 name in token mode"),
    ({"service_account": ""}, "kubeconfig_service_account: unset must be a DNS-1123 name in token mode"),
    ({"cluster_role": "cluster-admin"}, "kubeconfig_cluster_role: cluster-admin needs kubeconfig_allow_cluster_admin=true"),
    ({"token_expiration": 599}, "kubeconfig_token_expiration (599) must be at least 600 seconds, the TokenRequest API "
                                "minimum, and kubeconfig_token_renew_before (3600) less than it."),
    ({"token_renew_before": 86400}, "kubeconfig_token_renew_before (86400) less than it."),
    ({"token_renew_before": -1}, "kubeconfig_token_renew_before (-1) less than it."),
    ({"server": "http://api.example.com"}, "kubeconfig_server (http://api.example.com) must be an https URL"),
    ({"ca": ""}, "needs kubeconfig_ca_data (base64 PEM) unless kubeconfig_insecure is true."),
    ({"path": "", "dir": None, "probe": None}, "kubeconfig_path (unset) must be an absolute file path, or set kubeconfig_set_fact"),
    ({"path": "kube/lab"}, "kubeconfig_path (kube/lab) must be an absolute file path"),
    ({"path": "/nonexistent/lab", "dir": {"exists": False}, "probe": None},
     "kubeconfig_path: directory /nonexistent must exist, be writable by this user and not be world-writable (it is "
     "missing), since the file holds a credential."),
    ({"dir": dict(GOOD["dir"], woth=True, mode="0777")}, "world-writable (it is mode 0777)"),
    ({"path": "/proc/kubeconfig", "probe": {"msg": "Permission denied"}},
     "kubeconfig_path: no file can be created in /proc (Permission denied), so the kubeconfig could not be written there."),
    ({"mode": "exec", "service_account": "", "cluster_role": "", "clusterroles_found": None, "exec_role_arn": "ops"},
     "kubeconfig_exec_role_arn: ops is not an IAM role ARN"),
    ({"record_name": "Ops Viewer"}, "kubeconfig_record_name: Ops Viewer must be lowercase letters, digits, - and _ (at most 50), "
                                    "the name of the kubeconfig's convergence record"),
    ({"record_name": ""}, "kubeconfig_record_name: unset must be lowercase letters"),
    ({"cluster_role": "auditor", "clusterroles_found": 0}, "kubeconfig_cluster_role: ClusterRole auditor does not exist in the cluster"),
    ({"rbac_namespaces": ["apps", "default", "web", "apps"], "existing_namespaces": ["kube-system"]},
     "kubeconfig_rbac_namespaces: apps, web do not exist (only kubeconfig_namespace is made by this role)"),
])
def test_each_broken_setting_is_named(over, message):
    found = errors(**over)
    assert len(found) == 1 and message in found[0], found


def test_every_broken_setting_is_reported_at_once():
    found = errors(service_account="", token_expiration=60, server="http://x", path="rel")
    assert [e.split(" ")[0] for e in found] == ["kubeconfig_service_account:", "kubeconfig_token_expiration",
                                                "kubeconfig_server", "kubeconfig_path"]


def test_flags_are_read_as_ansible_reads_booleans():
    assert errors(cluster_role="cluster-admin", allow_cluster_admin="yes") == []
    assert errors(ca="", insecure="true") == []
    assert errors(path="", dir=None, probe=None, set_fact="1") == []


def test_stale_keeps_missing_and_differing_objects_only():
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ci", "namespace": "default"}}
    role = {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "resources": ["pods"]}]}
    live_sa = dict(sa, metadata=dict(sa["metadata"], uid="1", resourceVersion="7"), secrets=[])
    live_role = dict(role, rules=[{"verbs": ["get", "list"], "resources": ["pods"]}])
    reads = [{"item": sa, "resources": [live_sa]}, {"item": role, "resources": [live_role]},
             {"item": dict(sa, metadata={"name": "other"}), "resources": []}]
    assert k8s_stale(reads) == [role, dict(sa, metadata={"name": "other"})]
