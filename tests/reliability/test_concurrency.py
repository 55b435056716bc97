"""Concurrency: two runs at once against one cluster end, and leave what a single run leaves.

site.yml goes first (collection order), on the private lab as `lab up` left it, so both runs of the pair
have everything to create (IAM OIDC provider and roles, policies, tags, Helm releases, Istio, bindings).
Before the pair, a check run of site.yml on that bare lab (make test's check -> converge -> re-run under the
strategy tests/ansible.cfg sets, Mitogen; oldest_site does the same under the default linear strategy):
it writes nothing, and what it plans is what the pair (and a retry) changed, as the plan callback shows both.

Accepted outcomes of a pair: both runs succeed; or one of them fails with a message (Ansible has no lock
across processes, and a Helm release or an IAM entity being made by the other run is a clear, safe reason to
stop) and a retry succeeds; a module crashing on such a refusal (a Python error) is not a message. Either
way a single run afterwards must change nothing, make no AWS or API write, leave the AWS and cluster
snapshots as they were, and nothing may exist twice or half-made (support.snapshots.duplicates)."""
from __future__ import annotations

import re
import threading

import pytest

from reliability_common import PLAYBOOKS, RECORDED, SITE, STARTED, measured, record, run_playbook
from support import labenv
from support.snapshots import aws_snapshot, aws_write_calls, duplicates, k8s_snapshot, write_names

pytestmark = pytest.mark.lab


def _targets() -> list[str]:
    # site.yml chains every capability playbook, on a bare lab where both runs have work to do; pairs
    # of single capability playbooks on a converged cluster would only repeat no-op runs (CI time).
    return ["site.yml"] if SITE.exists() else PLAYBOOKS


def _pair(name: str) -> tuple[list, list, list]:
    """Two runs of NAME at once (plan callback on, --diff); their results, the AWS calls and the API writes
    they made together."""
    labenv.aws_calls(reset=True)
    offset = labenv.k8s_writes()[0]
    results: list = [None, None]

    def go(i):
        try:
            results[i] = run_playbook(name, diff=True, plan=True)
        except Exception as exc:  # noqa: BLE001 - a timeout is a finding, reported below
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, labenv.aws_calls(), labenv.k8s_writes(offset)[1]


@pytest.mark.parametrize("name", _targets())
def test_two_runs_at_once_equal_one(runs, name):
    fresh = not STARTED  # nothing ran yet in this lab: both runs of the pair have everything to do
    check = measured(name, check=True, diff=True, plan=True) if fresh else None
    if check:
        assert check["result"].rc == 0, f"site.yml --check on a bare lab failed: {check['result'].failure_text()}"
        assert not aws_write_calls(check["calls"]) and not check["k8s_writes"], (
            f"site.yml --check wrote: {aws_write_calls(check['calls'])} "
            f"{write_names(check['k8s_writes'])}")
        assert check["result"].plan, "site.yml --check on a bare lab planned nothing"
        # No record stored yet: the run's gate says so once, and no role reads its record again.
        gate = check["result"].task("Compare every convergence record, the live state and this run's inputs with the run record")
        unrecorded = set(gate["unrecorded"])  # the records of the capabilities the demo inventory runs
        assert {"irsa", "discovery_tags", "kubeconfig"} <= unrecorded <= set(RECORDED), gate["unrecorded"]
        role_gates = [(name, res) for name, _host, res in check["result"].tasks()
                      if " : " in name and name.endswith("with the convergence record")]
        assert role_gates and all(res.get("skipped") for _name, res in role_gates), [
            name for name, res in role_gates if not res.get("skipped")]
    results, pair_calls, pair_writes = _pair(name)
    hung = [r for r in results if isinstance(r, Exception)]
    assert not hung, f"a run of the pair did not end: {hung}"
    if fresh:
        assert aws_write_calls(pair_calls) and pair_writes, "the pair on a bare lab made no AWS or API write"
    failed = [r for r in results if r.rc]
    outcome = "both rc=0"
    if failed:
        assert len(failed) == 1, "both runs of the pair failed:\n" + "\n---\n".join(r.failure_text() for r in failed)
        why = failed[0].failure_text().strip()
        assert why, f"a run of the pair failed without saying why (rc={failed[0].rc}):\n{failed[0].stdout[-2000:]}"
        # A race may refuse a write; a module dying of its own bug on the refusal is not a clear message.
        crash = re.search(r"\b(AttributeError|KeyError|TypeError|NameError|IndexError|UnboundLocalError)\b", why)
        assert not crash, f"a run of the pair crashed ({crash and crash.group(1)}) instead of failing clearly: {failed[0].reason()}"
        retry = run_playbook(name, diff=True, plan=True)
        assert retry.rc == 0, f"the retry after the pair failed: {retry.failure_text()}"
        results.append(retry)
        outcome = f"one rc={failed[0].rc} with a clear message ({failed[0].reason()}), retry converged"
    after_pair = (aws_snapshot(), k8s_snapshot())
    single = measured(name)
    result = single["result"]
    assert result.rc == 0 and result.total_changed() == 0, f"changed={result.total_changed()} {result.failure_text()}"
    assert not aws_write_calls(single["calls"]), f"a single run after the pair wrote to AWS: {aws_write_calls(single['calls'])}"
    assert not single["k8s_writes"], "a single run after the pair wrote to the cluster: " + ", ".join(
        write_names(single["k8s_writes"]))
    assert (aws_snapshot(), k8s_snapshot()) == after_pair, "the pair left a state a single run still changes"
    problems = duplicates()
    assert not problems, "the pair left duplicates or half-made objects:\n" + "\n".join(problems)
    if check:  # what the check run planned is what the runs changed together: each resource by one or both
        # (by resource, not action: the second run of a pair may update what the first just created)
        done = {row[:2] for r in results for row in r.plan}
        planned = {row[:2] for row in check["result"].plan}
        assert planned == done, (f"planned but not changed: {sorted(planned - done)}; "
                                 f"changed but not planned: {sorted(done - planned)}")
    # The clean converge the other checks share; the pair's calls too, so faults also hit the kinds it wrote.
    runs.remember(name, dict(single, calls=pair_calls + single["calls"]))
    if check:
        record("concurrency", f"{name} --check on the bare lab", f"{len(check['result'].plan)} changes planned, "
               f"0 writes; plan == what the pair changed; {check['seconds']:.0f}s")
    record("concurrency", name, f"2 runs at once{' on a bare lab' if fresh else ''} "
           f"({len(aws_write_calls(pair_calls))} AWS writes, {len(pair_writes)} API writes): {outcome}; "
           f"single run after: changed=0, 0 writes, no duplicates")
