"""The irsa role's plan (module_utils/irsa_plan.py); the plan as a whole is tested through its filters
(tests/unit/plugins/filter/test_irsa_filter.py)."""
from ansible_collections.nodeless.eks.plugins.module_utils import irsa_plan
from ansible_collections.nodeless.eks.plugins.module_utils.names import role_name_error


def test_default_role_names_fit_64_characters_and_stay_unique():
    assert irsa_plan.default_role_name("prod", "kube-system", "cluster-autoscaler") == "prod-kube-system-cluster-autoscaler"
    long_a = irsa_plan.default_role_name("production-eu-west-1", "kube-system", "aws-load-balancer-controller-aa")
    long_b = irsa_plan.default_role_name("production-eu-west-1", "kube-system", "aws-load-balancer-controller-bb")
    assert len(long_a) == len(long_b) == 64
    assert long_a != long_b
    assert long_a == irsa_plan.default_role_name("production-eu-west-1", "kube-system", "aws-load-balancer-controller-aa")
    assert role_name_error(long_a) is None
