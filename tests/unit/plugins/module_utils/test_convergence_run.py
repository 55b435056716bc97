"""The run record (issue #23): when the run's gate may skip every role with a record, and what the write keeps."""
from __future__ import annotations

import json

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.module_utils import convergence_run as R

SEL = {"api_version": "apps/v1", "kind": "Deployment", "namespace": "kube-system", "label_selector": "app=x",
       "names": None, "track": "generation"}
DEPLOY = {"kind": "Deployment", "namespace": "kube-system", "name": "x", "uid": "u1", "generation": 3}
NOW = 1796515200  # 2026-12-06T00:00:00Z
SUBNET = {"type": "subnet", "id": "subnet-1", "sha256": "sha256:aa"}


def _record(cap="overprovisioning", inputs="sha256:in", k8s=(DEPLOY,), aws=(SUBNET,)):
    return C.build(cap, inputs, {"kubernetes": list(k8s), "aws": list(aws)}, "2026-12-05T10:00:00Z")


def _run(records: dict, inputs="sha256:raw"):
    entries = {cap: {"record": R.record_digest(rec), "selectors": [SEL]} for cap, rec in records.items()}
    return R.build_run(inputs, entries, "2026-12-05T10:01:00Z")


def test_unrecorded_are_the_capabilities_with_nothing_stored():
    texts = {"irsa": "{}", "addons": "not json"}  # stored, readable or not: their roles' gates read and judge them
    assert R.unrecorded(texts, ["irsa", "addons", "addons_after_capacity", "vpc_cni"], ["kubeconfig"]) == [
        "addons_after_capacity", "kubeconfig", "vpc_cni"]
    assert R.unrecorded({}, [], []) == []
    assert R.unrecorded({"kubeconfig": "{}"}, ["irsa"], ["kubeconfig", "irsa"]) == ["irsa"]


def test_expected_are_the_records_of_the_steps_run():
    records = {"identity": ["irsa"], "addons": ["addons", "addons_after_capacity"], "access": []}
    assert R.expected(["addons", "access", "identity"], records) == ["addons", "addons_after_capacity", "irsa"]
    assert R.expected(["access"], records) == []


def test_in_sync_needs_the_same_inputs_every_entry_and_the_stored_records():
    rec = _record()
    run = _run({"overprovisioning": rec})
    text = R.render_run(run)
    assert R.run_reasons(text, "sha256:raw", ["overprovisioning"], {"overprovisioning": rec}, {})[1] == []
    assert R.run_reasons(text, "sha256:other", ["overprovisioning"], {"overprovisioning": rec}, {})[1] == ["the run's inputs changed"]
    assert R.run_reasons(text, "sha256:raw", ["overprovisioning", "irsa"], {"overprovisioning": rec}, {})[1] == [
        "irsa: not in the run record"]
    rewritten = _record(k8s=[dict(DEPLOY, generation=4)])  # a per-role run rewrote it since
    assert R.run_reasons(text, "sha256:raw", ["overprovisioning"], {"overprovisioning": rewritten}, {})[1] == [
        "overprovisioning: record rewritten since the run record"]
    assert R.run_reasons(text, "sha256:raw", ["overprovisioning"], {}, {})[1] == ["overprovisioning: no record"]
    assert R.run_reasons(text, "sha256:raw", [], {}, {})[1] == ["no capability of this run keeps a record"]


def test_newer_nonsense_and_missing_run_records_are_never_in_sync():
    rec = _record()
    newer = dict(_run({"overprovisioning": rec}), version="9.0.0")
    run, reasons, warnings = R.run_reasons(json.dumps(newer), "sha256:raw", ["overprovisioning"], {"overprovisioning": rec}, {})
    assert run is None and reasons == warnings and "newer than this" in reasons[0]
    run, reasons, warnings = R.run_reasons("{not json", "sha256:raw", ["overprovisioning"], {"overprovisioning": rec}, {})
    assert run is None and reasons[0].startswith("run record ignored: not JSON") and "ignored: every role runs" in warnings[0]
    assert R.run_reasons(json.dumps({"schema": 1}), "x", ["a"], {}, {})[1][0].startswith("run record ignored: missing")
    assert R.run_reasons(None, "sha256:raw", ["overprovisioning"], {}, {})[1] == ["no run record"]


def test_an_untrusted_record_keeps_the_run_out_of_sync():
    rec = _record()
    text = R.render_run(_run({"overprovisioning": rec}))
    records, untrusted = R.trusted_records({"overprovisioning": json.dumps(dict(rec, schema=2))})
    assert records == {} and "schema 2" in untrusted["overprovisioning"]
    assert R.run_reasons(text, "sha256:raw", ["overprovisioning"], records, untrusted)[1][0].startswith("overprovisioning: record schema 2")


def _live(k8s=None, aws=(), files=(), errors=()):
    return {"kubernetes": k8s or {}, "aws": list(aws), "files": list(files), "errors": list(errors)}


def test_live_reasons_find_an_edit_a_deletion_an_addition_and_a_failed_read():
    rec = _record()
    run = _run({"overprovisioning": rec})
    key = C.canonical(SEL)
    records = {"overprovisioning": rec}
    assert R.live_reasons(run, ["overprovisioning"], records, _live({key: [DEPLOY]}, [SUBNET]), NOW) == []
    edited = R.live_reasons(run, ["overprovisioning"], records, _live({key: [dict(DEPLOY, generation=4)]}, [SUBNET]), NOW)
    assert edited == ["overprovisioning: Deployment kube-system/x: generation changed"]
    gone = R.live_reasons(run, ["overprovisioning"], records, _live({key: []}), NOW)
    assert gone == ["overprovisioning: Deployment kube-system/x: gone", "overprovisioning: aws subnet subnet-1: gone"]
    added = dict(DEPLOY, name="y", uid="u2")
    assert R.live_reasons(run, ["overprovisioning"], records, _live({key: [DEPLOY, added]}, [SUBNET]), NOW) == [
        "overprovisioning: Deployment kube-system/y: not in the record"]
    assert R.live_reasons(run, ["overprovisioning"], records, _live(errors=["AWS: throttled"]), NOW) == [
        "read failed: AWS: throttled"]


def test_live_reasons_read_the_files_a_record_lists_and_its_end():
    """The kubeconfig's record through the run's gate: its file edited, and its token's renewal due."""
    kept = C.file_entry("/k/view", b"token: abc", 0o600)
    rec = C.build("kubeconfig", "sha256:in", {"kubernetes": [], "files": [kept]}, "2026-12-05T10:00:00Z", valid_until=NOW + 10)
    run = _run({"kubeconfig": rec})
    records = {"kubeconfig": rec}
    assert R.wanted_files(records, ["kubeconfig"]) == ["/k/view"]
    assert R.live_reasons(run, ["kubeconfig"], records, _live(files=[kept]), NOW) == []
    assert R.live_reasons(run, ["kubeconfig"], records, _live(files=[C.file_entry("/k/view", b"edited", 0o600)]), NOW) == [
        "kubeconfig: file /k/view: sha256 changed"]
    assert R.live_reasons(run, ["kubeconfig"], records, _live(files=[kept]), NOW + 10) == [
        "kubeconfig: the record held until 2026-12-06T00:00:10Z (a renewal is due)"]


def test_selectors_two_capabilities_share_are_listed_once():
    run = _run({"a": _record("a"), "b": _record("b")})
    assert R.merged_selectors(run, ["a", "b"]) == [SEL]


def test_the_write_keeps_what_this_run_recorded_with_the_inputs_it_had():
    rec = _record()
    facts = {"overprovisioning": {"inputs": "sha256:in", "selectors": [SEL]}}
    entries, left = R.entries_for(["overprovisioning", "irsa"], facts, {"overprovisioning": rec})
    assert entries == {"overprovisioning": {"record": R.record_digest(rec), "selectors": [SEL]}}
    assert left == ["irsa: its role kept no record in this run"]
    # A run beside this one with other inputs wrote the record after this run's role: not this run's to vouch for.
    entries, left = R.entries_for(["overprovisioning"], facts, {"overprovisioning": _record(inputs="sha256:theirs")})
    assert entries == {} and left == ["overprovisioning: the stored record has other inputs than this run's"]


def test_stored_splits_records_from_the_run_record():
    rec = _record()
    run_cm = dict(R.run_configmap(_run({"overprovisioning": rec}), "nodeless-eks"), metadata={"name": R.RUN_NAME, "resourceVersion": "42"})
    items = [C.configmap(rec, "nodeless-eks"), run_cm]
    records, (run_text, version) = R.stored(items)
    assert list(records) == ["overprovisioning"] and version == "42"
    assert R.parse_run(run_text)["capabilities"]["overprovisioning"]["record"] == R.record_digest(rec)


def test_a_write_refused_when_another_run_wrote_meanwhile_carries_the_read_version():
    cm = R.run_configmap(_run({}), "nodeless-eks", "17")
    assert cm["metadata"]["resourceVersion"] == "17"
    assert "resourceVersion" not in R.run_configmap(_run({}), "nodeless-eks")["metadata"]


@pytest.mark.parametrize("bad", [{"capabilities": []}, {"capabilities": {"a": {"record": 1, "selectors": []}}}, {"schema": True}])
def test_parse_run_refuses_what_is_not_a_run_record(bad):
    with pytest.raises(C.RecordError):
        R.parse_run(json.dumps(dict(_run({}), **bad)))


def test_messages_name_the_skipped_capabilities_or_the_reasons():
    run = _run({})
    assert R.message(True, run, ["irsa", "istio"], []) == (
        "run gate: in sync (run record 2026-12-05T10:01:00Z, 2 capabilities): the roles of irsa, istio are skipped")
    assert R.message(False, None, [], ["a", "b", "c", "d"]) == (
        "run gate: not in sync, every role runs and gates itself (a; b; c; 1 more)")


def test_steps_are_skipped_when_every_capability_they_record_is_in_sync():
    records, independent = {"addons": ["addons", "addons_after_capacity"], "identity": ["irsa"], "access": []}, {"kubeconfig": ["kubeconfig"]}
    steps = ["identity", "addons", "access", "kubeconfig"]
    assert R.skipped_steps(steps, [records, independent], ["irsa", "addons", "addons_after_capacity"]) == ["identity", "addons"]
    assert R.skipped_steps(steps, [records, independent], ["irsa", "addons", "kubeconfig"]) == ["identity", "kubeconfig"]
    assert R.skipped_steps(steps, [records, independent], []) == []  # access records nothing: never skipped


def test_the_write_keeps_the_entries_of_the_capabilities_the_gate_skipped():
    """kubeconfig ran (its token renewed) while the others were skipped: their entries stay, kubeconfig's is new."""
    rec, kube = _record(), _record("kubeconfig", inputs="sha256:kc")
    kept = {"overprovisioning": {"record": R.record_digest(rec), "selectors": [SEL]}}
    facts = {"kubeconfig": {"inputs": "sha256:kc", "selectors": []}}
    entries, left = R.entries_for(["kubeconfig", "overprovisioning"], facts, {"overprovisioning": rec, "kubeconfig": kube}, kept)
    assert entries == {"overprovisioning": kept["overprovisioning"], "kubeconfig": {"record": R.record_digest(kube), "selectors": []}}
    assert left == []
    # Not skipped and no fact (its role kept no record this run: kubeconfig_set_fact): no entry, never carried over.
    entries, left = R.entries_for(["kubeconfig", "overprovisioning"], {}, {"kubeconfig": kube}, kept)
    assert entries == {"overprovisioning": kept["overprovisioning"]} and left == ["kubeconfig: its role kept no record in this run"]
