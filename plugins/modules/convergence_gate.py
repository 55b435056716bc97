#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: convergence_gate
short_description: One gate for a whole site.yml run over every capability's convergence record
version_added: 0.1.0
description:
  - The run record is the ConfigMap C(nodeless-eks-run) in O(namespace), key C(run.json), readable JSON - the
    nodeless.eks version and schema that wrote it, when its content last changed, a sha256 of the run's raw inputs,
    and for each capability the sha256 of its convergence record (M(nodeless.eks.convergence_record)) and the
    Kubernetes selectors its role lists.
  - With O(state=check) (site.yml's first task after the cluster's facts) the module reads every record and the run
    record with one list, then the live state of every record at once (one list per distinct Kubernetes selector,
    one paginated describe per AWS resource type). RV(in_sync) is true only when the run record is trusted, its
    inputs are O(inputs_digest), every capability of O(capabilities) has an entry whose record is the stored one,
    and the live state is that of every record; site.yml then skips the roles of those capabilities, all of them.
    Nothing is written.
  - With O(state=write) (site.yml's last task, after a run in which the roles ran) the entries are rebuilt from
    O(facts), what each role's convergence_record task returned in this run, for the capabilities whose stored
    record carries the inputs the role had; the run record is written only when its content differs and holds an
    entry (a run whose roles kept no record leaves it as it was), and refused
    when another run wrote it after this one read it (then read and built again once).
  - A record or run record written by a newer nodeless.eks or schema is not trusted, one that is not a record is
    ignored (both with a warning), and any read that fails gives RV(in_sync=false) - every role runs.
  - The action plugin of the same name computes O(inputs_digest) and O(facts) from the play's variables, and
    O(capabilities) and O(independent) from its own arguments C(steps) (site.yml's), C(records) and
    C(independent_records) (step to capabilities); use the module through it (site.yml does).
  - RV(changes) is always empty (bookkeeping, no plan row).
author:
  - nodeless.eks contributors (@nodeless)
options:
  state:
    description: V(check) compares; V(write) stores the run record.
    type: str
    choices: [check, write]
    default: check
  inputs_digest:
    description:
      - sha256 of the run's raw inputs; the action plugin computes it for the check, and the write takes the check's
        (site.yml passes RV(inputs_digest) on), as the roles' own facts change the play's variables meanwhile.
    type: str
    required: true
  capabilities:
    description: The capabilities whose records the run's steps keep, skipped all together or not at all (their roles share facts).
    type: list
    elements: str
    required: true
  independent:
    description:
      - Capabilities whose roles share no fact with the others (kubeconfig), each judged on its own - skipped when its
        entry, its record and the live state hold, whatever the others' are (the run's inputs must still be the run record's).
    type: list
    elements: str
    default: []
  kept:
    description:
      - With O(state=write), the capabilities the check skipped (RV(skip)); their entries of the stored run record are
        kept, as their roles left no fact in this run.
    type: list
    elements: str
    default: []
  facts:
    description:
      - With O(state=write), per capability what its role's convergence_record task returned in this run (C(inputs),
        the digest of the role's effective inputs, and C(selectors)).
    type: dict
    default: {}
extends_documentation_fragment:
  - nodeless.eks.convergence
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: The run's gate (through the action plugin, which adds inputs_digest)
  nodeless.eks.convergence_gate:
    steps: "{{ _caps }}"
    records: "{{ nodeless_eks_capability_records }}"
    independent_records: "{{ nodeless_eks_independent_records }}"
    region: "{{ nodeless_eks_region }}"
  register: _run_gate

- name: Converge overprovisioning unless the run's gate found it in sync
  ansible.builtin.include_role:
    name: nodeless.eks.overprovisioning
  when: "'overprovisioning' not in _run_gate.skip_steps | default([])"

- name: Record the run (last task), keeping the entries of what the gate skipped
  nodeless.eks.convergence_gate:
    state: write
    steps: "{{ _caps }}"
    records: "{{ nodeless_eks_capability_records }}"
    independent_records: "{{ nodeless_eks_independent_records }}"
    kept: "{{ _run_gate.skip }}"
    since: "{{ _run_gate.started }}"
    inputs_digest: "{{ _run_gate.inputs_digest }}"
    region: "{{ nodeless_eks_region }}"
  when: _run_gate.write
"""

RETURN = r"""
in_sync:
  description: With O(state=check), whether every record, the run's inputs and the live state agree; false after a failed read.
  returned: always
  type: bool
  sample: true
reasons:
  description: Why not, one entry per difference (empty when in sync).
  returned: always
  type: list
  elements: str
  sample: ["the run's inputs changed"]
msg:
  description: One line for people.
  returned: always
  type: str
  sample: "run gate: in sync (run record 2026-12-05T12:00:00Z, 12 capabilities): the roles of addons, fargate are skipped"
skip:
  description:
    - With O(state=check), the capabilities whose roles the run skips - every one of O(capabilities) when they are in
      sync, and each of O(independent) in sync on its own.
  returned: always
  type: list
  elements: str
  sample: ["irsa", "kubeconfig"]
unrecorded:
  description:
    - With O(state=check), the capabilities of O(capabilities) and O(independent) with no record stored at all (a
      first run). site.yml passes them to the roles as C(nodeless_eks_unrecorded), and those roles take their full path
      without reading their record again. Empty when the records could not be read.
  returned: when state=check
  type: list
  elements: str
  sample: ["irsa", "discovery_tags"]
skip_steps:
  description: With O(state=check), set by the action plugin - the site.yml steps whose every recorded capability is in RV(skip).
  returned: when state=check
  type: list
  elements: str
  sample: ["identity", "kubeconfig"]
write:
  description: With O(state=check), set by the action plugin - whether a step with records runs, so the run record may change.
  returned: when state=check
  type: bool
  sample: false
started:
  description: When the check began (seconds since the epoch); the write keeps only the facts of later tasks.
  returned: when state=check
  type: float
inputs_digest:
  description: The digest of the run's raw inputs the check compared (the write stores the one the check took).
  returned: always
  type: str
  sample: "sha256:5e1c..."
run:
  description: The run record (as stored, or as written).
  returned: always
  type: dict
changes:
  description: Always empty; the run record is bookkeeping.
  returned: always
  type: list
  elements: dict
  sample: []
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.module_utils import convergence_run as R
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.convergence_reads import read_aws, read_files, read_k8s
from ansible_collections.nodeless.eks.plugins.module_utils.k8s import K8sError, apply

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["check", "write"], default="check"),
    inputs_digest=dict(type="str", required=True),
    capabilities=dict(type="list", elements="str", required=True),
    independent=dict(type="list", elements="str", default=[]),
    kept=dict(type="list", elements="str", default=[]),
    facts=dict(type="dict", default={}),
    **C.RECORD_STORE_ARGS,
)


def read_stored(client, namespace: str):
    """({capability: record text}, (run text, resourceVersion)) with one list; the namespace missing is none of them."""
    from kubernetes.dynamic.exceptions import NotFoundError

    try:
        resource = client.resources.get(api_version="v1", kind="ConfigMap")
        items = resource.get(namespace=namespace, label_selector="app.kubernetes.io/managed-by=nodeless.eks").to_dict().get("items") or []
    except NotFoundError:
        items = []
    return R.stored(items)


def live(module, client, run: dict, caps: list, records: dict) -> list[str]:
    k8s_by_selector, errors = {}, []
    for sel in R.merged_selectors(run, caps):
        entries, failed = read_k8s(client, [dict({"track": "resourceVersion"}, **sel)])
        k8s_by_selector[C.canonical(sel)] = entries
        errors += failed
    wanted = {}
    for cap in caps:
        for kind, ids in R.wanted_aws(records[cap]).items():
            wanted.setdefault(kind, []).extend(ids)
    aws_entries, aws_errors = read_aws(module, wanted) if wanted else ([], [])
    file_entries, file_errors = read_files(R.wanted_files(records, caps))
    return R.live_reasons(run, caps, records, {"kubernetes": k8s_by_selector, "aws": aws_entries, "files": file_entries,
                                               "errors": errors + aws_errors + file_errors}, time.time())


def judge(module, client, params: dict, run_text, caps: list, records: dict, untrusted: dict, warn: bool):
    """(run record, reasons) for CAPS taken together: the run record's entries, then the live state."""
    run, reasons, warnings = R.run_reasons(run_text, params["inputs_digest"], caps, records, untrusted)
    for warning in warnings if warn else []:
        module.warn(warning)
    if not reasons:
        reasons = live(module, client, run, caps, records)
    return run, reasons


def check(module, client, params: dict) -> dict:
    started = time.time()
    caps = sorted(set(params["capabilities"]))
    own = sorted(set(params["independent"]) - set(caps))
    try:
        texts, (run_text, _rv) = read_stored(client, params["namespace"])
    except Exception as exc:  # pylint: disable=broad-except
        reasons = [f"read failed: records: {exc}"]
        return dict(in_sync=False, reasons=reasons, run=None, skip=[], unrecorded=[], started=started,
                    msg=R.message(False, None, caps, reasons))
    unrecorded = R.unrecorded(texts, caps, own)  # site.yml's roles skip their own gate's read for these
    records, untrusted = R.trusted_records(texts)
    run, reasons = judge(module, client, params, run_text, caps, records, untrusted, warn=True)
    in_sync = not reasons
    skip, said = list(caps) if in_sync else [], []
    for cap in own:  # each on its own; a run record that cannot be trusted was said once above
        _run, why = judge(module, client, params, run_text, [cap], records, untrusted, warn=False)
        skip += [] if why else [cap]
        said.append(f"{cap}: in sync, skipped" if not why else f"{cap}: runs ({why[0]})")
    msg = R.message(in_sync, run, caps, reasons) + "".join(f"; {line}" for line in said)
    return dict(in_sync=in_sync, reasons=reasons, run=run, skip=sorted(skip), unrecorded=unrecorded, started=started, msg=msg)


def write(module, client, params: dict) -> dict:
    caps = sorted(set(params["capabilities"]) | set(params["independent"]))
    for attempt in (1, 2):
        texts, (run_text, resource_version) = read_stored(client, params["namespace"])
        records, _untrusted = R.trusted_records(texts)
        try:
            stored = R.parse_run(run_text) if run_text is not None else None
        except C.RecordError:
            stored = None
        kept = {cap: stored["capabilities"][cap] for cap in params["kept"] if stored and cap in stored["capabilities"]}
        entries, left = R.entries_for(caps, params["facts"], records, kept)
        run = R.build_run(params["inputs_digest"], entries, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        own = set(params["independent"]) - set(params["capabilities"])
        group_left = [why for why in left if why.split(":", 1)[0] not in own]
        own_left = [why for why in left if why.split(":", 1)[0] in own]
        said = (f" ({'; '.join(group_left)}: the run's gate stays off until it does)" if group_left else "") + (
            f" ({'; '.join(own_left)}: that role runs each time)" if own_left else "")
        if not entries:  # nothing a next run could skip: no record to vouch for (EKS Auto Mode, Pod Identity, ...)
            return dict(changed=False, in_sync=True, reasons=left, run=stored,
                        msg=f"run record not written: no capability of this run left a record{said}")
        if stored is not None and C.content(stored) == C.content(run):
            return dict(changed=False, in_sync=True, reasons=left, run=stored,
                        msg=f"run record unchanged ({len(entries)} of {len(caps)} capabilities){said}")
        if module.check_mode:
            return dict(changed=True, in_sync=True, reasons=left, run=run,
                        msg=f"run record would be written ({len(entries)} of {len(caps)} capabilities){said}")
        try:
            apply(client, R.run_configmap(run, params["namespace"], resource_version), params["field_manager"], dry_run=False)
        except K8sError:
            if attempt == 2:
                raise
            continue  # written by a run beside this one since the read: read again, so the last writer saw the last records
        return dict(changed=True, in_sync=True, reasons=left, run=run,
                    msg=f"run record written ({len(entries)} of {len(caps)} capabilities){said}")
    raise AssertionError("unreachable")


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

        client = get_api_client(kubeconfig=params["kubeconfig"], context=params["context"]).client
    except Exception as exc:  # pylint: disable=broad-except
        if params["state"] == "write":
            module.fail_json(msg=f"run record: no Kubernetes client: {exc}")
        reasons = [f"read failed: no Kubernetes client: {exc}"]
        module.exit_json(changed=False, in_sync=False, reasons=reasons, run=None, skip=[], started=time.time(), changes=[],
                         msg=R.message(False, None, params["capabilities"], reasons))
    if params["state"] == "write":
        try:
            result = write(module, client, params)
        except Exception as exc:  # pylint: disable=broad-except
            module.fail_json(msg=f"run record: could not write it: {exc}")
    else:
        result = check(module, client, params)
    module.exit_json(changes=[], **result)


if __name__ == "__main__":
    main()
