"""nodeless.eks.gate_reads: the one decision every recorded role's gate task makes (read the record or not)."""
import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.nodeless.eks.plugins.lookup.gate_reads import LookupModule


def _lookup(variables: dict, *terms):
    loader = DataLoader()
    return LookupModule(loader=loader, templar=Templar(loader=loader, variables=variables)).run(list(terms), variables)


def test_reads_by_default_when_neither_variable_is_set():
    assert _lookup({}, "irsa", "kubeconfig") == [True, True]


def test_a_full_check_run_reads_no_record():
    assert _lookup({"nodeless_eks_full_check": True}, "irsa", "vpc_cni") == [False, False]
    assert _lookup({"nodeless_eks_full_check": "yes"}, "irsa") == [False]  # as given with -e


def test_unrecorded_records_are_not_read_and_the_others_are():
    variables = {"nodeless_eks_unrecorded": ["addons_after_capacity", "irsa"]}
    assert _lookup(variables, "irsa", "addons", "addons_after_capacity") == [False, True, False]


def test_templated_variables_are_rendered_first():
    """site.yml passes nodeless_eks_unrecorded as a template over its run gate's result."""
    variables = {"_gate": {"unrecorded": ["istio"]}, "nodeless_eks_unrecorded": trust_as_template("{{ _gate.unrecorded }}"),
                 "nodeless_eks_full_check": trust_as_template("{{ false }}")}
    assert _lookup(variables, "istio", "fargate") == [False, True]


@pytest.mark.parametrize(("variables", "named"), [
    ({"nodeless_eks_full_check": "perhaps"}, "nodeless_eks_full_check"),
    ({"nodeless_eks_unrecorded": "irsa"}, "nodeless_eks_unrecorded"),
])
def test_a_bad_value_is_refused_naming_the_variable(variables, named):
    with pytest.raises(AnsibleLookupError, match=named):
        _lookup(variables, "irsa")
