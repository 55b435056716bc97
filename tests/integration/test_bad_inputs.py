"""Every case of tests/bad_inputs/*.yml: a clear failure naming the field, nothing written anywhere."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from support import playbook as runner
from support.snapshots import untouched

CATALOGUE = Path(__file__).resolve().parents[1] / "bad_inputs"
CASES = [case for path in sorted(CATALOGUE.glob("*.yml")) for case in yaml.safe_load(path.read_text()) or []]


def _play(case: dict) -> list:
    play = {"name": f"bad input {case['id']}", "hosts": "lab", "gather_facts": False, "vars": case.get("extravars", {})}
    if "role" in case:
        play["roles"] = [{"role": case["role"], "vars": case.get("vars", {})}]
    else:
        play["tasks"] = [{"name": f"call {case['module']}", case["module"]: case.get("args", {})}]
    return [play]


def test_catalogue_ids_are_unique():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate bad-input ids"
    assert all(c.get("expect") for c in CASES), "every case must say what the message names"


@pytest.mark.lab
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_fails_clearly_and_writes_nothing(lab, case):
    with untouched():
        result = runner.run(_play(case), check=bool(case.get("check")))
    assert result.rc != 0, f"{case['id']}: the run succeeded but should have failed"
    text = result.failure_text()
    missing = [e for e in case["expect"] if e not in text]
    assert not missing, f"{case['id']}: failure text lacks {missing}:\n{text}"
    assert "Traceback" not in text, f"{case['id']}: a stack trace reached the user:\n{text}"
