"""cluster-autoscaler image choice and command line."""
import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import autoscaler as ca


def test_image_follows_the_cluster_minor():
    result = ca.plan("prod", "1.35")
    assert result["errors"] == []
    assert result["image"] == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.1"
    assert result["version"] == "1.35.1"


def test_every_known_release_matches_its_minor():
    for minor, version in ca.RELEASES.items():
        assert version.startswith(minor + "."), f"{minor} maps to {version}"


def test_unknown_minor_without_image_fails_naming_the_variable():
    result = ca.plan("prod", "1.99")
    assert result["image"] == ""
    assert any("cluster_autoscaler_image" in e and "Kubernetes 1.99" in e for e in result["errors"])


def test_image_override_wins_even_for_an_unknown_minor():
    result = ca.plan("prod", "1.99", image="example.com/ca:v1.99.0")
    assert result["errors"] == [] and result["image"] == "example.com/ca:v1.99.0"


def test_releases_override_extends_and_replaces_the_map():
    assert ca.plan("prod", "1.99", releases={"1.99": "v1.99.2"})["image"].endswith(":v1.99.2")
    assert ca.plan("prod", "1.35", releases={"1.35": "1.35.0"}, repository="mirror/ca")["image"] == "mirror/ca:v1.35.0"


def test_command_has_the_eks_flags():
    command = ca.plan("prod", "1.35")["command"]
    assert command[0] == "./cluster-autoscaler"
    for flag in ("--cloud-provider=aws",
                 "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod",
                 "--expander=least-waste", "--balance-similar-node-groups", "--skip-nodes-with-system-pods=false",
                 "--skip-nodes-with-local-storage=false", "--expendable-pods-priority-cutoff=-10"):
        assert flag in command


def test_discovery_tags_match_the_discovery_flag():
    result = ca.plan("prod", "1.35")
    flag = next(f for f in result["command"] if f.startswith("--node-group-auto-discovery="))
    assert flag.split("asg:tag=", 1)[1].split(",") == list(result["discovery_tags"])
    assert result["discovery_tags"] == {"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/prod": "owned"}


def test_extra_flags_are_appended_and_rendered_by_type():
    command = ca.plan("prod", "1.35", extra_flags={"scale-down-unneeded-time": "5m", "--ignore-daemonsets-utilization": True,
                                                   "scale-down-enabled": False})["command"]
    assert "--scale-down-unneeded-time=5m" in command
    assert "--ignore-daemonsets-utilization" in command
    assert "--scale-down-enabled=false" in command


@pytest.mark.parametrize("flags,expected", [
    ({"expander": "random"}, "cluster_autoscaler_extra_flags.expander: set by the role"),
    ({"Bad_Flag": "1"}, "cluster_autoscaler_extra_flags.Bad_Flag: not a flag name"),
])
def test_extra_flags_problems(flags, expected):
    assert any(expected in e for e in ca.plan("prod", "1.35", extra_flags=flags)["errors"])


@pytest.mark.parametrize("expander,ok", [
    ("least-waste", True), ("priority,least-waste", True), ("most-pods", True), ("least-nodes", True),
    ("cheapest", False), ("price", False), ("least-waste,least-waste", False), ("", False),
])
def test_expanders(expander, ok):
    errors = ca.expander_errors(expander)
    assert (errors == []) is ok, errors
    assert all(e.startswith("cluster_autoscaler_expander:") for e in errors)


def test_grpc_expander_needs_its_url():
    assert any("grpc-expander-url" in e for e in ca.plan("prod", "1.35", expander="grpc")["errors"])
    assert ca.plan("prod", "1.35", expander="grpc", extra_flags={"grpc-expander-url": "x:1"})["errors"] == []
