# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run record: one gate for a whole site.yml run, before any role is included (issue #23).

Each capability's record (module_utils/convergence.py) is gated by its role, after the role's preflight: about
0.5 s per role even when everything is in sync. The run record lets site.yml skip every gated role at once. It is
the ConfigMap ``nodeless-eks-run`` (key ``run.json``) beside the records, written by site.yml's last task:

- ``inputs``: sha256 of the run's raw inputs (the collection's files, every variable of a role prefix or
  ``nodeless_eks_`` as the play sees it, the cluster facts without what moves by itself, the local files and
  tools they name; computed by the action plugin convergence_gate);
- ``capabilities``: for each capability whose role ended in sync or wrote its record in that run, the sha256 of
  that record's content and the Kubernetes selectors its role listed (the record holds the objects, not the lists
  that find an added one).

The run's gate is in sync only when the run record is trusted, its inputs are this run's, every capability the
run's steps record has an entry whose record is the stored one, and the live state is that of every record.
Then the roles with records are skipped, all of them (they share facts: addons tells vpc_cni which add-ons EKS
manages); otherwise every role runs and gates itself as before. A capability whose role shares no fact with the
others (kubeconfig) is judged on its own, beside that group: skipped when its own entry and record hold. Pure
functions only.
"""

from __future__ import annotations

import json

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C

RUN_NAME = "nodeless-eks-run"
RUN_KEY = "run.json"
RUN_LABELS = dict(C.LABELS, **{"app.kubernetes.io/component": "convergence-run"})


def expected(steps: list, records: dict) -> list[str]:
    """The capabilities whose records the run's STEPS keep (RECORDS maps a step to them)."""
    return sorted({cap for step in steps or [] for cap in (records or {}).get(step) or []})


def parse_run(text) -> dict:
    """The run record stored as TEXT; C.RecordError when it is not one."""
    run = C.load(text, ("schema", "version", "written_at", "inputs", "capabilities"))
    caps = run["capabilities"]
    if not isinstance(caps, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("record"), str) and isinstance(e.get("selectors"), list) for e in caps.values()):
        raise C.RecordError("capabilities is not a mapping of {record, selectors}")
    return run


def record_digest(record: dict) -> str:
    return C.digest(C.content(record))


def build_run(inputs_digest: str, entries: dict, written_at: str) -> dict:
    return {"schema": C.SCHEMA, "collection": "nodeless.eks", "version": C.VERSION, "written_at": written_at,
            "inputs": inputs_digest, "capabilities": {k: entries[k] for k in sorted(entries)}}


def render_run(run: dict) -> str:
    return json.dumps(run, indent=1, sort_keys=True) + "\n"


def run_configmap(run: dict, namespace: str, resource_version: str | None = None) -> dict:
    """The ConfigMap of RUN; with RESOURCE_VERSION the write is refused when another run wrote it meanwhile."""
    metadata = {"name": RUN_NAME, "namespace": namespace, "labels": dict(RUN_LABELS)}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {RUN_KEY: render_run(run)}}


def stored(configmaps: list) -> tuple[dict, tuple]:
    """({capability: record text}, (run text or None, its resourceVersion)) from the namespace's list of ConfigMaps."""
    records, run = {}, (None, None)
    for cm in configmaps:
        meta, data = cm.get("metadata") or {}, cm.get("data") or {}
        if meta.get("name") == RUN_NAME:
            run = (data.get(RUN_KEY), meta.get("resourceVersion"))
        elif (meta.get("labels") or {}).get("nodeless.eks/capability") and C.DATA_KEY in data:
            records[meta["labels"]["nodeless.eks/capability"]] = data[C.DATA_KEY]
    return records, run


def unrecorded(texts: dict, caps: list, independent: list) -> list[str]:
    """The capabilities of CAPS and INDEPENDENT with no record stored at all (TEXTS: stored(...)'s first item): a first
    run. Their roles' own gates would only find that again; one stored but unreadable or untrusted is not among them
    (its role's gate says why)."""
    return sorted(cap for cap in set(caps) | set(independent) if cap not in texts)


def gate_reads(record: str, full_check: bool, unrecorded) -> bool:
    """Whether RECORD's role reads its stored record at its gate this run: not on a full-check run (every role takes
    its full path), and not when the run's gate found no record stored for it (UNRECORDED: a first run, where the read
    would only find that again)."""
    return not full_check and record not in (unrecorded or ())


def trusted_records(texts: dict) -> tuple[dict, dict]:
    """({capability: record} that can be trusted, {capability: why not})."""
    good, bad = {}, {}
    for cap, text in texts.items():
        try:
            record = C.parse(text)
        except C.RecordError as exc:
            bad[cap] = f"record ignored: {exc}"
            continue
        distrust = C.trust(record)
        if distrust:
            bad[cap] = distrust
        else:
            good[cap] = record
    return good, bad


def run_reasons(run_text, inputs_digest: str, caps: list, records: dict, untrusted: dict) -> tuple[dict | None, list[str], list[str]]:
    """(trusted run record or None, reasons the run is not in sync before any live read, warnings)."""
    if run_text is None:
        return None, ["no run record"], []
    try:
        run = parse_run(run_text)
    except C.RecordError as exc:
        return None, [f"run record ignored: {exc}"], [f"the run record is not one nodeless.eks wrote ({exc}); ignored: every role runs"]
    distrust = C.trust(run)
    if distrust:
        return None, [f"run {distrust}"], [f"run {distrust}"]
    if not caps:
        return run, ["no capability of this run keeps a record"], []
    if run["inputs"] != inputs_digest:
        return run, ["the run's inputs changed"], []
    reasons = []
    for cap in caps:
        entry = run["capabilities"].get(cap)
        if entry is None:
            reasons.append(f"{cap}: not in the run record")
        elif cap in untrusted:
            reasons.append(f"{cap}: {untrusted[cap]}")
        elif cap not in records:
            reasons.append(f"{cap}: no record")
        elif record_digest(records[cap]) != entry["record"]:
            reasons.append(f"{cap}: record rewritten since the run record")
    return run, reasons, []


def wanted_aws(record: dict) -> dict:
    """{type: [ids]} a record lists."""
    wanted = {}
    for entry in record.get("aws") or []:
        wanted.setdefault(entry["type"], []).append(entry["id"])
    return wanted


def merged_selectors(run: dict, caps: list) -> list:
    """Every selector the capabilities' entries name, once each (canonical JSON decides sameness)."""
    seen = {}
    for cap in caps:
        for sel in run["capabilities"][cap]["selectors"]:
            seen.setdefault(C.canonical(sel), sel)
    return [seen[k] for k in sorted(seen)]


def wanted_files(records: dict, caps: list) -> list:
    """The files the capabilities' records list."""
    return sorted({e["path"] for cap in caps for e in records[cap].get("files") or []})


def live_reasons(run: dict, caps: list, records: dict, live: dict, now: float) -> list[str]:
    """Why the live state is not that of every record at NOW. LIVE: ``kubernetes`` maps a selector's canonical JSON
    to the entries its list returned; ``aws`` and ``files`` are the live entries of every AWS type and file the
    records name; ``errors`` the reads that failed."""
    if live.get("errors"):
        return [f"read failed: {e}" for e in live["errors"]]
    k8s_by_selector = live.get("kubernetes") or {}
    live_aws = {(e["type"], e["id"]): e for e in live.get("aws") or []}
    live_files = {e["path"]: e for e in live.get("files") or []}
    reasons = []
    for cap in caps:
        record = records[cap]
        k8s = [e for sel in run["capabilities"][cap]["selectors"] for e in k8s_by_selector.get(C.canonical(sel), [])]
        aws = [live_aws[(e["type"], e["id"])] for e in record.get("aws") or [] if (e["type"], e["id"]) in live_aws]
        files = [live_files[e["path"]] for e in record.get("files") or [] if e["path"] in live_files]
        _same, found = C.compare(record, record["inputs"], {"kubernetes": k8s, "aws": aws, "helm": [], "files": files}, now)
        reasons += [f"{cap}: {r}" for r in found]
    return reasons


def skipped_steps(steps: list, mappings: list, skip: list) -> list[str]:
    """The STEPS whose every capability (in any of MAPPINGS, step: [capabilities]) the gate found in sync (SKIP)."""
    done = set(skip or [])
    result = []
    for step in steps or []:
        caps = [cap for mapping in mappings for cap in (mapping or {}).get(step) or []]
        if caps and set(caps) <= done:
            result.append(step)
    return result


def entries_for(caps: list, facts: dict, records: dict, kept: dict | None = None) -> tuple[dict, list[str]]:
    """The run record's entries after a run: a capability whose role this run gated in sync or recorded (FACTS, what
    its convergence_record task returned) and whose stored record carries the inputs the role had in this run (a run
    beside this one with other inputs may have written it since); a capability the run's gate skipped keeps its
    entry (KEPT: {capability: the stored run record's entry}). Also the capabilities left out, with why."""
    entries, left = {}, []
    for cap in caps:
        fact, record = facts.get(cap), records.get(cap)
        if not fact and cap in (kept or {}):
            entries[cap] = kept[cap]
        elif not fact:
            left.append(f"{cap}: its role kept no record in this run")
        elif record is None:
            left.append(f"{cap}: no record stored")
        elif record.get("inputs") != fact.get("inputs"):
            left.append(f"{cap}: the stored record has other inputs than this run's")
        else:
            entries[cap] = {"record": record_digest(record), "selectors": fact.get("selectors") or []}
    return entries, left


def message(in_sync: bool, run: dict | None, caps: list, reasons: list[str], limit: int = 3) -> str:
    if in_sync:
        return (f"run gate: in sync (run record {run['written_at']}, {len(caps)} capabilities): "
                f"the roles of {', '.join(caps)} are skipped")
    shown = reasons[:limit] + ([f"{len(reasons) - limit} more"] if len(reasons) > limit else [])
    return f"run gate: not in sync, every role runs and gates itself ({'; '.join(shown)})"
