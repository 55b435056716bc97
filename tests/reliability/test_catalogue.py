"""Bad inputs: every role and module present has cases in tests/bad_inputs/ (run by tests/integration/test_bad_inputs.py)."""
from __future__ import annotations


import pytest
import yaml

from reliability_common import REPO, record

CASES = [c for p in sorted((REPO / "tests" / "bad_inputs").glob("*.yml")) for c in yaml.safe_load(p.read_text()) or []]
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))


def test_catalogue_size():
    record("bad inputs", "cases in tests/bad_inputs", len(CASES))
    assert len(CASES) >= 40, f"{len(CASES)} bad-input cases; the collection promises at least 40"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_bad_input_cases(role):
    assert any(c.get("role") == f"nodeless.eks.{role}" for c in CASES), f"no case in tests/bad_inputs/ for role {role}"


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_bad_input_cases(module):
    assert any(c.get("module") == f"nodeless.eks.{module}" for c in CASES), f"no case in tests/bad_inputs/ for module {module}"
