"""Every case of tests/bad_inputs/*.yml: a clear failure naming the field, nothing written anywhere.

The cases run in two ansible-playbook runs (the check-mode cases, then the others) instead of one run
each: every case is an inventory host of its own (the lab host's variables plus the case's `extravars`)
that includes its role (the case's `vars` are its host's variables) or its own task file (the module
call), so a failing case stops only its host. Each case is still its own test, judged on its host's failure text; AWS and the cluster
must be untouched by the whole batch. `NODELESS_BAD_INPUTS_ONE_BY_ONE=1` runs each case in a run of its
own, to find which case wrote when the batch did.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from support import playbook as runner
from support import role_fuzz
from support.snapshots import untouched

CATALOGUE = Path(__file__).resolve().parents[1] / "bad_inputs"
CASES = [case for path in sorted(CATALOGUE.glob("*.yml")) for case in yaml.safe_load(path.read_text()) or []]
LAB_INVENTORY = Path(__file__).resolve().parents[1] / "inventory" / "lab.yml"
ONE_BY_ONE = os.environ.get("NODELESS_BAD_INPUTS_ONE_BY_ONE") == "1"
GENERATED = role_fuzz.cases()  # not catalogue cases: bad role variables drawn from the roles' argument specs


def _tasks(case: dict) -> list:
    """A module case as tasks: its module call (role cases are a play's role, or their host's include_role)."""
    return [{"name": f"call {case['module']}", case["module"]: case.get("args", {})}]


def _play(case: dict) -> list:
    play = {"name": f"bad input {case['id']}", "hosts": "lab", "gather_facts": False, "vars": case.get("extravars", {})}
    if "role" in case:
        play["roles"] = [{"role": case["role"], "vars": case.get("vars", {})}]
    else:
        play["tasks"] = _tasks(case)
    return [play]


def _cluster_facts() -> dict:
    """The lab cluster's facts as the common role reads them (nodeless.eks.eks_cluster_info), read once for the
    batch: every case's host starts with them, so common skips its own read, as it does for the second role of a
    play, and a case costs its own checks. A case naming another cluster or region still reads that one."""
    play = [{"name": "the lab cluster's facts", "hosts": "lab", "gather_facts": False, "tasks": [
        {"name": "read the cluster", "nodeless.eks.eks_cluster_info": {
            "name": "{{ nodeless_eks_cluster_name }}", "region": "{{ nodeless_eks_region }}", "nodegroups": True}}]}]
    return runner.run(play).task("read the cluster")["cluster"]


def _run_batch(cases: list[dict], check: bool, workdir: Path, cluster: dict) -> runner.Result:
    """One host per case. A role case's variables are its host's (inventory) variables and every host of a role
    includes it with the same task, so Ansible runs that role's tasks once for all of them (its linear strategy
    runs one task at a time across the hosts at it: one task file per case made as many rounds as host-tasks, each
    round looking at every host); a module case includes a task file of its own (its arguments are its own)."""
    lab_host = dict(yaml.safe_load(LAB_INVENTORY.read_text())["all"]["hosts"]["lab"], nodeless_eks_cluster=cluster)
    hosts = {}
    for case in cases:
        host = dict(lab_host, **case.get("extravars", {}))
        if "role" in case:
            host.update(case.get("vars", {}), bad_input_role=case["role"])
        else:
            tasks = workdir / f"{case['id']}.yml"
            tasks.write_text(yaml.safe_dump(_tasks(case), sort_keys=False))
            host["bad_input_tasks"] = str(tasks)
        hosts[case["id"]] = host
    inventory = workdir / f"inventory-{'check' if check else 'run'}.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    play = [{"name": "bad inputs, one case per host", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "the case's role", "ansible.builtin.include_role": {"name": "{{ bad_input_role }}"},
         "when": "bad_input_role is defined"},
        {"name": "the case's module call", "ansible.builtin.include_tasks": "{{ bad_input_tasks }}",
         "when": "bad_input_tasks is defined"}]}]
    return runner.run(play, check=check, inventory=inventory)


@pytest.fixture(scope="module")
def batch(lab, request, tmp_path_factory) -> dict:
    """{case id: (its host failed, its failure text)} from the two batched runs of the selected cases."""
    if ONE_BY_ONE:
        return {}
    selected = {item.callspec.params["case"]["id"] for item in request.session.items
                if hasattr(item, "callspec") and "case" in item.callspec.params}
    workdir = tmp_path_factory.mktemp("bad_inputs")
    outcome = {}
    cluster = _cluster_facts()
    with untouched():
        for check in (True, False):
            cases = [c for c in CASES + GENERATED if bool(c.get("check")) == check and c["id"] in selected]
            if not cases:
                continue
            result = _run_batch(cases, check, workdir, cluster)
            for case in cases:
                failed = result.stats.get(case["id"], {}).get("failures", 0) > 0
                outcome[case["id"]] = (failed, result.failure_text(case["id"]))
    return outcome


def test_catalogue_ids_are_unique():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate bad-input ids"
    assert all(c.get("expect") for c in CASES), "every case must say what the message names"


def _judge(case: dict, batch: dict, how: str = "") -> None:
    """CASE failed, its message names every `expect` string and none of `not_expect`, no stack trace (HOW: how to
    reproduce it, for generated cases)."""
    if ONE_BY_ONE:
        with untouched():
            result = runner.run(_play(case), check=bool(case.get("check")))
        failed, text = result.rc != 0, result.failure_text()
    else:
        failed, text = batch[case["id"]]
    assert failed, f"{case['id']}: the run succeeded but should have failed{how}"
    missing = [e for e in case["expect"] if e not in text]
    assert not missing, f"{case['id']}: failure text lacks {missing}{how}:\n{text}"
    misleading = [e for e in case.get("not_expect", []) if e in text]
    assert not misleading, f"{case['id']}: failure text holds {misleading}, which misleads:\n{text}"
    assert "Traceback" not in text, f"{case['id']}: a stack trace reached the user{how}:\n{text}"


@pytest.mark.lab
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_fails_clearly_and_writes_nothing(lab, batch, case):
    _judge(case, batch)


@pytest.mark.lab
@pytest.mark.parametrize("case", GENERATED, ids=[c["id"] for c in GENERATED])
def test_generated_bad_role_variable_fails_naming_it_and_writes_nothing(lab, batch, case):
    """A value the role's argument spec refuses (support/role_fuzz.py), in check mode and in a real run: refused
    naming the variable; the batch as a whole wrote nothing to AWS or the cluster (the fixture's untouched())."""
    picked = case["generated"]
    _judge(case, batch, f" ({case['role']} {picked['option']}={picked['value']!r}, seed {picked['seed']}; again: "
                        f"NODELESS_ROLE_FUZZ_SEED={picked['seed']} pytest tests/integration/test_bad_inputs.py -k {case['id']})")
