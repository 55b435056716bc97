"""The fargate role's preflight (module_utils/fargate.py role_errors): EKS's profile limits, private subnets only,
unique names, a profile for CoreDNS; every message as the role printed it from vars Jinja before."""
from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.filter.fargate_errors import fargate_errors

EXPOSURE = {"subnet-0a": "public", "subnet-0b": "public", "subnet-0p": "private"}
PRIVATE = ["subnet-0p", "subnet-0q"]


def errors(profiles, coredns=False, default_subnets=None):
    return fargate_errors(profiles, EXPOSURE, PRIVATE if default_subnets is None else default_subnets, coredns, "kube-system", "lab")


def test_good_profiles_pass_and_coredns_needs_its_namespace_selected():
    dns = {"name": "dns", "selectors": [{"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}]}
    assert errors([dns, {"name": "web", "selectors": [{"namespace": "web"}], "subnets": ["subnet-0p"]}], coredns=True) == []
    assert errors([{"name": "web", "selectors": [{"namespace": "web"}]}], coredns=True) == [
        "fargate_coredns is true but no entry of fargate_profiles selects namespace kube-system; CoreDNS would stay Pending. "
        "Add a profile selecting it (labels k8s-app: kube-dns) or set fargate_coredns: false."]


def test_eks_limits_name_the_profile_and_its_selector_count():
    six = [{"namespace": c} for c in "abcdef"]
    limit = ("a profile needs a name (letters, digits, - and _), 1 to 5 selectors (it has {}), each with a namespace and "
             "at most 5 labels. EKS enforces these limits; split a larger set over several profiles.")
    assert errors([{"name": "many", "selectors": six}]) == ["fargate_profiles[0] (many): " + limit.format(6)]
    assert errors([{"selectors": [{"labels": {}}]}]) == ["fargate_profiles[0] (unnamed): " + limit.format(1)]
    assert errors([{"name": "x", "selectors": [{"namespace": "a", "labels": {str(i): "v" for i in range(6)}}]}])[0].startswith(
        "fargate_profiles[0] (x): a profile needs")


def test_public_subnets_unique_names_and_no_private_subnet():
    assert errors([{"name": "w", "selectors": [{"namespace": "w"}], "subnets": ["subnet-0a", "subnet-0b", "subnet-0p"]}]) == [
        "fargate_profiles[0].subnets (w): subnet-0a, subnet-0b are public subnets (default route to an internet gateway); "
        "Fargate profiles take private subnets only, e.g. subnet-0p, subnet-0q."]
    assert errors([{"name": "Web", "selectors": [{"namespace": "a"}]}, {"name": "web", "selectors": [{"namespace": "b"}]}]) == [
        "fargate_profiles: names must be unique (Web, web)"]
    assert errors([{"name": "w", "selectors": [{"namespace": "w"}]}], default_subnets=[]) == [
        "fargate_profiles: cluster lab has no private subnet (all route 0.0.0.0/0 to an internet gateway); give each profile "
        "private subnets explicitly."]
