"""The generated bad role variables (tests/support/role_fuzz.py) are bad by each role's own argument spec.

ansible-core's validator, the one that checks a role's variables when the role starts, must refuse every generated
value but one kind: a mapping for a string, which it turns into the mapping's text. Those cases are the roles' own
checks to refuse (tests/integration/test_bad_inputs.py runs the sample against the lab)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from support import role_fuzz  # noqa: E402 - the tests' own package, beside this layer

ROLES = sorted(p.name for p in role_fuzz.ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists())


def _spec(role: str) -> dict:
    data = yaml.safe_load((role_fuzz.ROLES / role / "meta" / "argument_specs.yml").read_text())
    return data["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES)
def test_generated_values_are_refused_by_the_declared_spec(role):
    spec = _spec(role)
    validator = ArgumentSpecValidator({name: dict(option, default=None) if "default" in option else option
                                       for name, option in spec.items()})
    pool = role_fuzz.candidates(role)
    assert pool, f"{role}: no option to generate a bad value for"
    for pick in pool:
        result = validator.validate({pick["option"]: pick["value"]})
        messages = " ".join(result.error_messages)
        if pick["kind"] == "mapping-for-a-string":
            assert not result.error_messages, f"{role} {pick}: ansible-core now refuses it: {messages}"
            continue
        assert result.error_messages, f"{role} {pick['option']}={pick['value']!r} ({pick['kind']}) passes its own spec"
        assert pick["option"] in messages, f"{role} {pick}: the refusal names no option: {messages}"


def test_the_sample_is_seeded_and_covers_every_role():
    first, again = role_fuzz.cases(seed=7), role_fuzz.cases(seed=7)
    assert first == again
    assert {case["role"].split(".")[-1] for case in first} == set(ROLES)
    assert all(case["expect"] == [case["generated"]["option"]] for case in first)
    assert {case["check"] for case in first} == {True, False}
