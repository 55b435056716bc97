"""Filter convergence_drifted (module_utils/convergence.py drifted, issue #23): only an out-of-band edit of a named kind counts."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.filter.convergence_drifted import convergence_drifted
from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C

RECORD = {"written_at": "2026-12-05T12:00:00Z", "kubernetes": [], "aws": [], "helm": []}


def gate(reasons, trusted=True):
    return {"in_sync": not reasons, "reasons": reasons, "record": dict(RECORD) if trusted else None}


@pytest.mark.parametrize("result, expected", [
    (gate(["Deployment kube-system/lbc: generation changed"]), True),
    (gate(["Deployment kube-system/lbc: gone"]), True),
    (gate(["aws subnet subnet-1: sha256 changed", "Deployment karpenter/karpenter: not in the record"]), True),
    (gate(["Secret kube-system/sh.helm.release.v1.lbc.v2: not in the record"]), False),
    (gate(["aws subnet subnet-1: sha256 changed"]), False),
    (gate(["the role's inputs changed"]), False),
    (gate(["read failed: Deployment list: 503"]), False),
    (gate(["no record: full path"], trusted=False), False),
    (gate([]), False),
    ({"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}, False),
    (None, False),
])
def test_only_objects_of_the_kinds_edited_against_a_trusted_record_count(result, expected):
    assert convergence_drifted(result, ["Deployment"]) is expected


def test_reasons_the_gate_writes_are_those_the_filter_reads():
    record = C.build("lbc", "sha256:x", {"kubernetes": [C.k8s_entry(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "lbc", "namespace": "kube-system", "uid": "u", "generation": 1}},
        "generation")]}, "2026-12-05T12:00:00Z")
    live = {"kubernetes": [dict(record["kubernetes"][0], generation=2)]}
    in_sync, reasons = C.compare(record, "sha256:x", live, 0)
    assert convergence_drifted({"in_sync": in_sync, "reasons": reasons, "record": record}, ["Deployment"]) is True
    assert convergence_drifted({"in_sync": in_sync, "reasons": reasons, "record": record}, []) is False
