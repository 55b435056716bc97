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
    from kubernetes.dynamic import DynamicClient

    dyn = DynamicClient(labenv.k8s_client())
    for api_version, kind in (("karpenter.sh/v1", "NodePool"), ("karpenter.k8s.aws/v1", "EC2NodeClass")):
        resource = dyn.resources.get(api_version=api_version, kind=kind)
        for item in resource.get().items:
            resource.delete(name=item.metadata.name)


@pytest.fixture
def clean(lab):
    _delete_everything()
    yield
    _delete_everything()


def _live(kind: str, name: str) -> dict:
    from kubernetes.dynamic import DynamicClient

    api_version = "karpenter.sh/v1" if kind == "NodePool" else "karpenter.k8s.aws/v1"
    return DynamicClient(labenv.k8s_client()).resources.get(api_version=api_version, kind=kind).get(name=name).to_dict()


def test_fixtures_check_mode_then_apply_then_rerun_writes_nothing(clean, playbook):
    with untouched():
        check = playbook(_play(FIXTURE_TASKS), check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    predicted = sorted(c["resource"] for _name, _host, res in check.tasks() for c in res.get("changes", []))
    assert len(predicted) == len(list(FIXTURES.glob("*.yaml")))
    assert all(c["action"] == "add" for _name, _host, res in check.tasks() for c in res.get("changes", []))

    real = playbook(_play(FIXTURE_TASKS), diff=True)
    assert real.rc == 0, real.failure_text()
    done = sorted(c["resource"] for _name, _host, res in real.tasks() for c in res.get("changes", []))
    assert done == predicted  # check mode predicted exactly what the real run did
    pool = _live("NodePool", "fx-default")["spec"]
    assert pool["template"]["spec"]["expireAfter"] == "2m"
    assert pool["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    assert pool["template"]["spec"]["requirements"] == [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}]
    assert str(pool["limits"]["cpu"]) == "1000"
    node_class = _live("EC2NodeClass", "fx-default")["spec"]
    assert node_class["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "lab"}}]
    assert node_class["metadataOptions"]["httpTokens"] == "required"
    warnings = " ".join(w for _name, _host, res in real.tasks() for w in res.get("warnings", []))
    assert "nodepools[" not in warnings or "spec.kubeletConfiguration" in warnings

    offset, _events = labenv.k8s_writes()
    again = playbook(_play(FIXTURE_TASKS))
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert labenv.k8s_writes(offset)[1] == []


def test_every_module_example_is_accepted_by_the_api_server(clean, playbook):
    tasks = _examples("karpenter_ec2nodeclass") + _examples("karpenter_nodepool")
    result = playbook(_play(tasks))
    assert result.rc == 0, result.failure_text()
    assert [n for n, _host, res in result.tasks() if not res.get("changed")] == []


def test_a_change_removes_a_field_we_no_longer_set_and_the_diff_shows_it(clean, playbook):
    base = {"name": "shrink", "node_class_ref": {"name": "default"}, "requirements": [], "limits": {"cpu": 10}, "weight": 3}
    assert playbook(_play([{"nodeless.eks.karpenter_nodepool": base}])).rc == 0
    smaller = {k: v for k, v in base.items() if k != "limits"}
    predicted = playbook(_play([{"nodeless.eks.karpenter_nodepool": smaller}]), check=True, diff=True)
    res = next(r for _name, _host, r in predicted.tasks())
    assert res["changes"] == [{"resource": "k8s:NodePool/shrink", "action": "change"}]
    assert res["diff"]["before"]["spec"]["limits"] == {"cpu": 10} and "limits" not in res["diff"]["after"]["spec"]
    assert "limits" in _live("NodePool", "shrink")["spec"]  # check mode wrote nothing
    assert playbook(_play([{"nodeless.eks.karpenter_nodepool": smaller}])).total_changed() == 1
    assert "limits" not in _live("NodePool", "shrink")["spec"]


def test_api_server_rejections_come_back_with_their_field_paths(clean, playbook):
    # karpenter.sh/ label keys are restricted by a CEL rule we do not duplicate
    task = {"nodeless.eks.karpenter_nodepool": {"name": "restricted", "node_class_ref": {"name": "default"},
                                                "labels": {"karpenter.sh/custom": "x"}, "requirements": []}}
    before = k8s_snapshot()
    result = playbook(_play([task]))  # the refused request is audited, but nothing is stored
    assert k8s_snapshot() == before
    assert result.rc != 0
    text = result.failure_text()
    assert "NodePool/restricted: the API server refused it" in text and "spec.template.metadata.labels" in text
    assert "Traceback" not in text


def test_absent_deletes_and_a_second_absent_changes_nothing(clean, playbook):
    make = {"nodeless.eks.karpenter_nodepool": {"name": "bye", "node_class_ref": {"name": "default"}, "requirements": []}}
    gone = {"nodeless.eks.karpenter_nodepool": {"name": "bye", "state": "absent", "wait_timeout": 30}}
    made = playbook(_play([make]))
    assert made.rc == 0
    # Karpenter allows a reference to a class that does not exist yet: a warning, not a failure
    assert any("EC2NodeClass 'default' does not exist" in w for _name, _host, res in made.tasks() for w in res.get("warnings", []))
    first = playbook(_play([gone, gone]))
    assert first.rc == 0 and first.changed() == ["nodeless.eks.karpenter_nodepool"]
