"""eks_addon_info's reads against botocore's Stubber: the add-ons, and with kubernetes_versions the versions EKS lists per minor."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils import eks_addon as ea
from ansible_collections.nodeless.eks.plugins.modules.eks_addon_info import read


def _version(version, *minors, default_for=()):
    return {"addonVersion": version, "compatibilities": [
        {"clusterVersion": m, "platformVersions": ["*"], "defaultVersion": m in default_for} for m in minors]}


def test_every_addon_with_its_versions_per_minor_one_describe_addon_versions_each(eks):
    client, stub = eks
    stub.add_response("list_addons", {"addons": ["vpc-cni"]}, {"clusterName": "prod"})
    stub.add_response("describe_addon", {"addon": {"addonName": "vpc-cni", "clusterName": "prod", "status": "ACTIVE",
                                                   "addonVersion": "v1.20.4-eksbuild.1"}},
                      {"clusterName": "prod", "addonName": "vpc-cni"})
    # no kubernetesVersion: every minor's versions in one call, split per minor here
    stub.add_response("describe_addon_versions", {"addons": [{"addonName": "vpc-cni", "addonVersions": [
        _version("v1.20.4-eksbuild.1", "1.34", "1.35", default_for=("1.35",)),
        _version("v1.21.1-eksbuild.1", "1.35", "1.36", default_for=("1.36",))]}]}, {"addonName": "vpc-cni"})
    addons = read(client, "prod", None, ["1.35", "1.36"])
    assert [(a["name"], a["version"]) for a in addons] == [("vpc-cni", "v1.20.4-eksbuild.1")]
    assert addons[0]["compatible_versions"] == {
        "1.35": {"versions": ["v1.21.1-eksbuild.1", "v1.20.4-eksbuild.1"], "default": "v1.20.4-eksbuild.1"},
        "1.36": {"versions": ["v1.21.1-eksbuild.1"], "default": "v1.21.1-eksbuild.1"}}


def test_without_kubernetes_versions_no_version_is_read(eks):
    client, stub = eks
    stub.add_client_error("describe_addon", "ResourceNotFoundException", "none", 404,
                          expected_params={"clusterName": "prod", "addonName": "coredns"})
    assert read(client, "prod", ["coredns"], None) == []


def test_kubernetes_versions_must_be_minors_named_by_index():
    assert ea.minors_errors(["1.35", "v1.36", "1.36.1", ""], "kubernetes_versions") == [
        "kubernetes_versions[1]: must be a Kubernetes minor such as 1.36, got 'v1.36'",
        "kubernetes_versions[2]: must be a Kubernetes minor such as 1.36, got '1.36.1'",
        "kubernetes_versions[3]: must be a Kubernetes minor such as 1.36, got ''"]
    assert ea.minors_errors(None, "kubernetes_versions") == []
