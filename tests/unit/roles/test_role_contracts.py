"""Every role keeps the collection's role contract: argument specs cover every default, a
preflight runs first, galaxy metadata names the namespace and role."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[3] / "roles").iterdir() if (p / "tasks").is_dir())


def _load(path: Path):
    return yaml.safe_load(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_cover_every_default(role):
    defaults = _load(role / "defaults" / "main.yml") or {}
    specs = _load(role / "meta" / "argument_specs.yml")
    assert specs, f"{role.name}: meta/argument_specs.yml is missing"
    options = specs["argument_specs"]["main"].get("options", {})
    missing = sorted(set(defaults) - set(options))
    assert not missing, f"{role.name}: defaults without an argument spec: {missing}"
    for name, spec in options.items():
        assert spec.get("description"), f"{role.name}: option {name} has no description"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_preflight_runs_before_anything_else(role):
    assert (role / "tasks" / "preflight.yml").exists(), f"{role.name}: tasks/preflight.yml is missing"
    first = (_load(role / "tasks" / "main.yml") or [{}])[0]
    target = str(first.get("ansible.builtin.import_tasks") or first.get("ansible.builtin.include_tasks") or "")
    assert target.endswith("preflight.yml"), f"{role.name}: the first task must run preflight.yml, not {first.get('name')}"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_galaxy_metadata(role):
    meta = _load(role / "meta" / "main.yml")
    assert meta["galaxy_info"]["namespace"] == "nodeless"
    assert meta["galaxy_info"].get("role_name", role.name).lstrip("_") == role.name.lstrip("_")
