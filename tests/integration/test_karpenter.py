"""Karpenter modules against the lab's real API server and Karpenter's real v1 CRDs (CEL rules included)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from support import labenv
from support.snapshots import k8s_snapshot, untouched

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "karpenter" / "legacy"
MODULES = REPO / "plugins" / "modules"


def _play(tasks: list) -> list:
    return [{"name": "karpenter", "hosts": "lab", "gather_facts": False, "tasks": tasks}]


def _fixtures(kind: str) -> list:
    out = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        manifest = yaml.safe_load(path.read_text())
        element = {"name": "fx-" + manifest["metadata"]["name"], "legacy_definition": manifest}
        if manifest["kind"] in ("AWSNodeTemplate",) and "instanceProfile" not in manifest["spec"]:
            element["role"] = "lab-node-role"
        if kind == {"Provisioner": "NodePool", "AWSNodeTemplate": "EC2NodeClass"}.get(manifest["kind"], manifest["kind"]):
            out.append(element)
    return out


FIXTURE_TASKS = [
    {"name": "Apply every legacy EC2NodeClass fixture after conversion", "register": "classes",
     "nodeless.eks.karpenter_ec2nodeclass": {"ec2nodeclasses": _fixtures("EC2NodeClass")}},
    {"name": "Apply every legacy NodePool fixture after conversion", "register": "pools",
     "nodeless.eks.karpenter_nodepool": {"nodepools": _fixtures("NodePool")}},
]


def _examples(module: str) -> list:
    text = (MODULES / f"{module}.py").read_text()
    return yaml.safe_load(re.search(r'EXAMPLES = r"""(.*?)"""', text, re.S).group(1))


def _delete_everything():
    dyn = labenv.dynamic_client()
    for api_version, kind in (("karpenter.sh/v1", "NodePool"), ("karpenter.k8s.aws/v1", "EC2NodeClass")):
        resource = dyn.resources.get(api_version=api_version, kind=kind)
        for item in resource.get().items:
            resource.delete(name=item.metadata.name)


SHRINK = {"name": "shrink", "node_class_ref": {"name": "default"}, "requirements": [], "limits": {"cpu": 10}, "weight": 3}
SMALLER = {k: v for k, v in SHRINK.items() if k != "limits"}
BYE = {"name": "bye", "node_class_ref": {"name": "default"}, "requirements": []}
GONE = {"name": "bye", "state": "absent", "wait_timeout": 30}
# karpenter.sh/ label keys are restricted by a CEL rule we do not duplicate
RESTRICTED = {"name": "restricted", "node_class_ref": {"name": "default"}, "labels": {"karpenter.sh/custom": "x"}, "requirements": []}


def _live(kind: str, name: str) -> dict:
    api_version = "karpenter.sh/v1" if kind == "NodePool" else "karpenter.k8s.aws/v1"
    return labenv.dynamic_client().resources.get(api_version=api_version, kind=kind).get(name=name).to_dict()


def _tasks(result, prefix: str) -> list[dict]:
    return [res for name, _host, res in result.tasks() if name.startswith(prefix)]


@pytest.fixture(scope="module")
def life(lab):
    """One lifecycle the tests below read (5 runs), from a cluster without NodePools or EC2NodeClasses:
    the legacy fixtures in check mode (untouched); one run making `bye` (before any class `default` exists),
    the fixtures, the module examples and `shrink`; the fixtures again with the change that drops `shrink`'s
    limits in check mode (its API writes counted); that change for real with `bye` absent twice; the refused
    request alone (the cluster snapshot around it)."""
    from support import playbook as runner

    _delete_everything()
    out = {}
    try:
        with untouched():
            out["check"] = runner.run(_play(FIXTURE_TASKS), check=True, diff=True)
        examples = [dict(task, name=f"example {i}: {task.get('name', '')}")
                    for i, task in enumerate(_examples("karpenter_ec2nodeclass") + _examples("karpenter_nodepool"))]
        out["real"] = runner.run(_play([{"name": "make bye", "nodeless.eks.karpenter_nodepool": BYE}, *FIXTURE_TASKS,
                                        *examples, {"name": "make shrink", "nodeless.eks.karpenter_nodepool": SHRINK}]), diff=True)
        out["examples"] = len(examples)
        offset, _events = labenv.k8s_writes()
        out["again"] = runner.run(_play([*FIXTURE_TASKS, {"name": "shrink predicted", "check_mode": True, "diff": True,
                                                          "nodeless.eks.karpenter_nodepool": SMALLER}]))
        out["again_writes"] = labenv.k8s_writes(offset)[1]
        out["limits_after_check"] = "limits" in _live("NodePool", "shrink")["spec"]
        out["changes"] = runner.run(_play([{"name": "shrink", "nodeless.eks.karpenter_nodepool": SMALLER},
                                           {"name": "gone once", "nodeless.eks.karpenter_nodepool": GONE},
                                           {"name": "gone twice", "nodeless.eks.karpenter_nodepool": GONE}]))
        out["shrunk"] = _live("NodePool", "shrink")["spec"]
        before = k8s_snapshot()
        out["refused"] = runner.run(_play([{"nodeless.eks.karpenter_nodepool": RESTRICTED}]))  # audited, nothing stored
        out["refused_untouched"] = k8s_snapshot() == before
        out["fx_pool"], out["fx_class"] = _live("NodePool", "fx-default")["spec"], _live("EC2NodeClass", "fx-default")["spec"]
        yield out
    finally:
        _delete_everything()


def test_fixtures_check_mode_then_apply_then_rerun_writes_nothing(life):
    check, real = life["check"], life["real"]
    assert check.rc == 0, check.failure_text()
    predicted = sorted(c["resource"] for _name, _host, res in check.tasks() for c in res.get("changes", []))
    assert len(predicted) == len(list(FIXTURES.glob("*.yaml")))
    assert all(c["action"] == "add" for _name, _host, res in check.tasks() for c in res.get("changes", []))

    assert real.rc == 0, real.failure_text()
    done = sorted(c["resource"] for res in _tasks(real, "Apply every legacy") for c in res.get("changes", []))
    assert done == predicted  # check mode predicted exactly what the real run did
    pool = life["fx_pool"]
    assert pool["template"]["spec"]["expireAfter"] == "2m"
    assert pool["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    assert pool["template"]["spec"]["requirements"] == [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}]
    assert str(pool["limits"]["cpu"]) == "1000"
    node_class = life["fx_class"]
    assert node_class["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "lab"}}]
    assert node_class["metadataOptions"]["httpTokens"] == "required"
    warnings = " ".join(w for res in _tasks(real, "Apply every legacy") for w in res.get("warnings", []))
    assert "nodepools[" not in warnings or "spec.kubeletConfiguration" in warnings

    again = life["again"]
    # nothing changed but the prediction of the next test (a check-mode task of the same run), nothing written
    assert again.rc == 0 and again.changed() == ["shrink predicted"], again.changed()
    assert life["again_writes"] == []


def test_every_module_example_is_accepted_by_the_api_server(life):
    examples = _tasks(life["real"], "example ")
    assert len(examples) == life["examples"] > 0, life["real"].failure_text()
    assert [res for res in examples if not res.get("changed") or res.get("failed")] == []


def test_a_change_removes_a_field_we_no_longer_set_and_the_diff_shows_it(life):
    (res,) = _tasks(life["again"], "shrink predicted")
    assert res["changes"] == [{"resource": "k8s:NodePool/shrink", "action": "change"}]
    assert res["diff"]["before"]["spec"]["limits"] == {"cpu": 10} and "limits" not in res["diff"]["after"]["spec"]
    assert life["limits_after_check"]  # check mode wrote nothing
    assert life["changes"].changed()[:1] == ["shrink"]
    assert "limits" not in life["shrunk"]


def test_api_server_rejections_come_back_with_their_field_paths(life):
    result = life["refused"]
    assert life["refused_untouched"]
    assert result.rc != 0
    text = result.failure_text()
    assert "NodePool/restricted: the API server refused it" in text and "spec.template.metadata.labels" in text
    assert "Traceback" not in text


def test_absent_deletes_and_a_second_absent_changes_nothing(life):
    (made,) = _tasks(life["real"], "make bye")
    assert made.get("changed") and not made.get("failed")
    # Karpenter allows a reference to a class that does not exist yet: a warning, not a failure
    assert any("EC2NodeClass 'default' does not exist" in w for w in made.get("warnings", []))
    changes = life["changes"]
    assert changes.rc == 0 and changes.changed() == ["shrink", "gone once"], changes.changed()
