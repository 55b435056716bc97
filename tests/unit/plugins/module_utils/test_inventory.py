from ansible_collections.nodeless.eks.plugins.module_utils.inventory import cluster_conflicts, unknown_tags

HV = {
    "a": {"nodeless_eks_cluster_name": "prod", "nodeless_eks_region": "eu-west-1", "istio_mtls_mode": "STRICT"},
    "b": {"nodeless_eks_cluster_name": "prod", "nodeless_eks_region": "eu-west-1", "istio_mtls_mode": "PERMISSIVE"},
    "c": {"nodeless_eks_cluster_name": "prod", "nodeless_eks_region": "us-east-1", "istio_mtls_mode": "PERMISSIVE"},
    "d": {"nodeless_eks_cluster_name": "dev", "nodeless_eks_region": "eu-west-1", "unrelated": 1},
}


def test_same_cluster_different_settings_is_a_conflict():
    problems = cluster_conflicts(HV, ["a", "b", "c", "d"])
    assert problems == ["hosts a and b both manage cluster prod in eu-west-1 with different settings: istio_mtls_mode"]


def test_same_settings_or_other_region_is_fine():
    assert cluster_conflicts(HV, ["a", "c", "d"]) == []
    assert cluster_conflicts({"x": HV["a"], "y": dict(HV["a"])}, ["x", "y"]) == []


def test_unknown_tags():
    assert unknown_tags(["all"], ["irsa"]) == []
    assert unknown_tags(["irsa", "istoi"], ["irsa", "istio"]) == ["istoi"]
