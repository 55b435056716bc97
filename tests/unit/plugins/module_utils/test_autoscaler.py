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


# The role's preflight (role_errors, filter cluster_autoscaler_errors) and the ASGs lacking the tags after tagging
# (lacking, filter cluster_autoscaler_lacking); every message as the role printed it from vars Jinja before.
OWNED = {"Statement": [{"Effect": "Allow", "Action": "autoscaling:SetDesiredCapacity", "Resource": "*",
                        "Condition": {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/lab": "owned"}}},
                       {"Effect": "Allow", "Action": "autoscaling:Describe*", "Resource": "*"}]}
LAB = {"name": "lab", "version": "1.35", "oidc_issuer": "https://127.0.0.1:6443"}
TAGS_WORDS = ("The cluster_autoscaler policy's tag conditions {} are not among the discovery tags "
              "{'k8s.io/cluster-autoscaler/enabled': 'true', 'k8s.io/cluster-autoscaler/lab': 'owned'}; "
              "cluster-autoscaler would find node groups it may not scale.")


def role_errors(cluster=None, policy=None, replicas=1, cutoff=-10, **plan_options):
    from ansible_collections.nodeless.eks.plugins.filter.cluster_autoscaler import cluster_autoscaler_errors

    cluster = cluster or LAB
    return cluster_autoscaler_errors(ca.plan(cluster["name"], cluster["version"], **plan_options), cluster,
                                     OWNED if policy is None else policy, replicas, cutoff)


def test_role_errors_pass_on_the_defaults_and_the_collections_policy():
    assert role_errors() == []


def test_role_errors_start_with_the_plans_errors():
    assert role_errors(expander="cheapest")[0].startswith("cluster_autoscaler_expander: unknown expander 'cheapest'")


@pytest.mark.parametrize("replicas, cutoff", [("x", -10), (1.5, -10), (-1, -10), (None, -10), (1, "x"), (1, -1.5), (1, "+3")])
def test_replicas_must_be_whole_and_the_cutoff_an_integer(replicas, cutoff):
    assert role_errors(replicas=replicas, cutoff=cutoff) == [
        f"cluster_autoscaler_replicas ({replicas}) must be a whole number and "
        f"cluster_autoscaler_expendable_pods_priority_cutoff ({cutoff}) an integer."]


@pytest.mark.parametrize("replicas, cutoff", [(0, 0), ("3", "-10"), (2, 5)])
def test_whole_numbers_given_as_text_pass(replicas, cutoff):
    assert role_errors(replicas=replicas, cutoff=cutoff) == []


def test_a_cluster_without_an_oidc_issuer_is_named():
    assert role_errors(cluster=dict(LAB, oidc_issuer="")) == [
        "nodeless_eks_cluster_name: cluster lab has no OIDC issuer, so cluster-autoscaler cannot get AWS credentials "
        "through IRSA. Enable the issuer (eksctl utils associate-iam-oidc-provider)."]


@pytest.mark.parametrize("equals, shown", [
    ({"aws:ResourceTag/k8s.io/cluster-autoscaler/other": "owned"}, "{'k8s.io/cluster-autoscaler/other': 'owned'}"),
    ({"aws:ResourceTag/k8s.io/cluster-autoscaler/lab": "shared"}, "{'k8s.io/cluster-autoscaler/lab': 'shared'}"),
    ({"aws:RequestTag/k8s.io/cluster-autoscaler/lab": "owned"}, "{}"),
])
def test_policy_tag_conditions_must_be_discovery_tags(equals, shown):
    policy = {"Statement": [{"Effect": "Allow", "Condition": {"StringEquals": equals}}]}
    assert role_errors(policy=policy) == [TAGS_WORDS.replace("{}", shown, 1)]


def test_a_policy_without_tag_conditions_is_refused():
    assert role_errors(policy={"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}) == [TAGS_WORDS]


def test_policy_tags_read_string_equals_resource_tags_the_later_statement_winning():
    policy = {"Statement": [{"Condition": {"StringEquals": {"aws:ResourceTag/a": "1", "aws:RequestTag/b": "2"}}},
                            {"Condition": {"StringLike": {"aws:ResourceTag/c": "3"}}}, {"Action": "x"},
                            {"Condition": {"StringEquals": {"aws:ResourceTag/a": "4", "aws:ResourceTag/d": "5"}}}]}
    assert ca.policy_tags(policy) == {"a": "4", "d": "5"}


def test_lacking_names_asgs_missing_a_tag_or_with_another_value_in_their_order():
    from ansible_collections.nodeless.eks.plugins.filter.cluster_autoscaler import cluster_autoscaler_lacking

    wanted = ca.discovery_tags("lab")
    tagged = dict(wanted, Name="x")
    asgs = ["eks-a", "eks-b", "eks-c", "eks-d"]
    tags = {"eks-a": tagged, "eks-b": dict(tagged, **{"k8s.io/cluster-autoscaler/lab": "shared"}), "eks-c": {"Name": "x"}}
    assert cluster_autoscaler_lacking(asgs, wanted, tags) == ["eks-b", "eks-c", "eks-d"]
    assert cluster_autoscaler_lacking(asgs[:1], wanted, tags) == []
    assert cluster_autoscaler_lacking([], wanted, {}) == []
