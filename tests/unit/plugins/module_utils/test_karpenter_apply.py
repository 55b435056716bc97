"""Module parameters -> validated v1 objects, for one object or a batch, typed options or a legacy manifest."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_apply, karpenter_objects
from ansible_collections.nodeless.eks.plugins.modules.karpenter_nodepool import NODEPOOL_OPTIONS

PROVISIONER = {"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {"name": "old"},
               "spec": {"providerRef": {"name": "default"}, "kubeletConfiguration": {"maxPods": 10}}}


def params(**values):
    out = {k: None for k in NODEPOOL_OPTIONS}
    out.update(state="present", strict=False, nodepools=None)
    out.update(values)
    return out


def build(p):
    return karpenter_apply.desired_objects(p, NODEPOOL_OPTIONS, "nodepools", "NodePool", karpenter_objects.nodepool_from_options)


def test_batch_elements_are_checked_against_the_same_spec_and_named_by_index():
    objs, _warnings = build(params(nodepools=[{"name": "a", "node_class_ref": {"name": "d"}, "requirements": [], "weight": "7"},
                                              {"legacy_definition": PROVISIONER}]))
    assert [o["metadata"]["name"] for o in objs] == ["a", "old"]
    assert objs[0]["spec"]["weight"] == 7  # coerced like a top-level option
    with pytest.raises(karpenter_objects.KarpenterError, match=r"nodepools\[1\]: .*weigth"):
        build(params(nodepools=[{"name": "a", "node_class_ref": {"name": "d"}, "requirements": []}, {"name": "b", "weigth": 3}]))
    with pytest.raises(karpenter_objects.KarpenterError, match=r"nodepools\[0\]\.NodePool 'a' is not valid: spec.weight: 0"):
        build(params(nodepools=[{"name": "a", "node_class_ref": {"name": "d"}, "requirements": [], "weight": 0}]))


def test_duplicate_names_in_a_batch_are_refused():
    pool = {"name": "a", "node_class_ref": {"name": "d"}, "requirements": []}
    with pytest.raises(karpenter_objects.KarpenterError, match="repeated: a"):
        build(params(nodepools=[pool, dict(pool)]))


def test_legacy_warnings_carry_the_object_and_strict_refuses_them():
    objs, warnings = build(params(legacy_definition=PROVISIONER, name="renamed"))
    assert objs[0]["metadata"]["name"] == "renamed"
    assert warnings == ["NodePool/renamed: spec.kubeletConfiguration: moved to EC2NodeClass spec.kubelet in v1; convert this manifest "
                        "in a list with its node class to carry it there (dropped here)"]
    with pytest.raises(karpenter_objects.KarpenterError, match="strict is set"):
        build(params(legacy_definition=PROVISIONER, strict=True))


def test_legacy_yaml_text_of_the_wrong_kind_or_with_typed_options_is_refused():
    with pytest.raises(karpenter_objects.KarpenterError, match="a AWSNodeTemplate becomes a EC2NodeClass, not a NodePool"):
        build(params(legacy_definition="apiVersion: karpenter.k8s.aws/v1alpha1\nkind: AWSNodeTemplate\nmetadata: {name: x}\n"))
    with pytest.raises(karpenter_objects.KarpenterError, match="legacy_definition: cannot be combined with weight"):
        build(params(legacy_definition=PROVISIONER, weight=3))


def test_absent_needs_only_a_name():
    objs, _warnings = build(params(name="gone", state="absent"))
    assert objs[0]["metadata"]["name"] == "gone"


def test_missing_node_classes_are_reported_per_pool():
    objs, _warnings = build(params(nodepools=[{"name": "a", "node_class_ref": {"name": "default"}, "requirements": []},
                                              {"name": "b", "node_class_ref": {"name": "ghost"}, "requirements": []}]))
    warnings = karpenter_apply.missing_node_classes(objs, {"default": {}})
    assert len(warnings) == 1 and "NodePool/b: spec.template.spec.nodeClassRef.name: EC2NodeClass 'ghost' does not exist" in warnings[0]


@pytest.mark.parametrize("name, message", [
    ("p" * 70, "nodepools[0].name: '" + "p" * 70 + "' has 70 characters; Karpenter writes it into the label "
     "karpenter.sh/nodepool, whose values are at most 63"),
    ("General", "nodepools[0].name: 'General' is not a Kubernetes object name"),
])
def test_names_karpenter_cannot_label_are_refused_before_any_call(name, message):
    with pytest.raises(karpenter_objects.KarpenterError) as caught:
        build(params(nodepools=[{"name": name, "node_class_ref": {"name": "d"}, "requirements": []}]))
    assert str(caught.value).startswith(message)


def test_a_converted_legacy_name_is_checked_too():
    legacy = dict(PROVISIONER, metadata={"name": "Old_Pool"})
    with pytest.raises(karpenter_objects.KarpenterError, match=r"^nodepools\[0\]\.name: 'Old_Pool' is not a Kubernetes object name"):
        build(params(nodepools=[{"legacy_definition": legacy}]))


@pytest.mark.parametrize("kind, label", sorted(karpenter_objects.NAME_LABELS.items()))
def test_name_error_names_the_label_of_each_kind(kind, label):
    assert karpenter_objects.name_error(kind, "a" * 63) == ""
    assert label in karpenter_objects.name_error(kind, "a" * 64)


def test_a_set_gives_each_module_its_own_kind_with_the_kubelet_folded_and_split():
    from pathlib import Path

    import yaml

    from ansible_collections.nodeless.eks.plugins.modules.karpenter_ec2nodeclass import EC2NODECLASS_OPTIONS

    text = (Path(__file__).resolve().parents[3] / "fixtures" / "karpenter" / "sets" / "provisioners-sharing-a-template.yaml").read_text()
    pools, warnings = build(params(legacy_definition=text))
    assert {p["metadata"]["name"]: p["spec"]["template"]["spec"]["nodeClassRef"]["name"] for p in pools} == {
        "kc-web": "kc-shared-kc-web", "kc-batch": "kc-shared-kc-batch", "kc-general": "kc-shared"}
    assert warnings == ["legacy_definition[0] NodePool/kc-web: spec.kubeletConfiguration.containerRuntime: has no v1 meaning and was dropped"]
    class_params = dict({k: None for k in EC2NODECLASS_OPTIONS}, state="present", strict=False, ec2nodeclasses=None,
                        legacy_definition=text, role="KarpenterNodeRole-lab")
    classes, warnings = karpenter_apply.desired_objects(class_params, EC2NODECLASS_OPTIONS, "ec2nodeclasses", "EC2NodeClass",
                                                        karpenter_objects.ec2nodeclass_from_options)
    assert [(c["metadata"]["name"], c["spec"].get("kubelet", {}).get("maxPods")) for c in classes] == [
        ("kc-shared", None), ("kc-shared-kc-batch", 20), ("kc-shared-kc-web", 40)]
    assert {c["spec"]["role"] for c in classes} == {"KarpenterNodeRole-lab"} and warnings == []
    with pytest.raises(karpenter_objects.KarpenterError, match=r"^nodepools\[0\]\.name: cannot rename the objects of a set"):
        build(params(nodepools=[{"legacy_definition": text, "name": "x"}]))
    manifests = yaml.safe_load(text)
    manifests[1]["spec"]["providerRef"]["name"] = "kc-other"
    with pytest.raises(karpenter_objects.KarpenterError, match=r"^legacy_definition\[1\] Provisioner/kc-batch: spec\.providerRef\.name: "
                       r"AWSNodeTemplate 'kc-other' is not in the set"):
        build(params(legacy_definition=manifests))
    with pytest.raises(karpenter_objects.KarpenterError, match="the set holds no manifest that becomes a NodePool"):
        build(params(legacy_definition=[{"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "x"}, "spec": {}}]))
