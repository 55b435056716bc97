"""Converting legacy Karpenter manifests as a set: kubelet settings onto the node class (split when NodePools disagree),
checked against Karpenter's own v1 CRD schemas, as the lab's pinned provider module embeds them (the `karpenter-crds`
lab tool, built by `make tools`). The CEL rules of those CRDs need an API server: tests/integration/test_karpenter.py
and test_karpenter_provisioning.py apply the same sets to the lab's."""
from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_legacy, karpenter_objects

SETS = Path(__file__).resolve().parents[3] / "fixtures" / "karpenter" / "sets"
DOCS = Path(__file__).resolve().parents[4] / "docs" / "karpenter.md"
LEGACY = Path(__file__).resolve().parents[3] / "fixtures" / "karpenter" / "legacy"


@pytest.fixture(scope="module")
def crds(tmp_path_factory) -> dict:
    """{kind: the v1 openAPIV3Schema} from the CRDs the lab's API server is given."""
    from nodeless_lab import tools

    out = tmp_path_factory.mktemp("crds")
    subprocess.run([str(tools.binaries()["karpenter-crds"]), str(out)], check=True, capture_output=True, timeout=60)
    schemas = {}
    for path in out.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version["name"] == "v1":
                schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    assert {"NodePool", "EC2NodeClass"} <= set(schemas)
    return schemas


def _pruned(obj, schema, path="") -> list[str]:
    """Fields the API server would silently drop (not in a structural schema without preserve-unknown-fields)."""
    if isinstance(obj, dict) and schema.get("type") == "object" and not schema.get("x-kubernetes-preserve-unknown-fields"):
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        out = []
        for key, value in obj.items():
            if props is not None and key in props:
                out += _pruned(value, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                out += _pruned(value, extra, f"{path}.{key}")
            elif props is not None and path not in ("", ".metadata"):
                out.append(f"{path}.{key}".lstrip("."))
        return out
    if isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [e for i, item in enumerate(obj) for e in _pruned(item, schema["items"], f"{path}[{i}]")]
    return []


def schema_errors(obj: dict, crds: dict) -> list[str]:
    """What Karpenter's v1 CRD schema (types, enums, patterns, bounds, required; not CEL) says of OBJ, plus pruned fields."""
    schema = crds[obj["kind"]]
    errors = [f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]
    return errors + [f"{p}: unknown field, the API server would drop it" for p in _pruned(obj, schema)]


def load_all(name: str) -> list[dict]:
    return yaml.safe_load((SETS / name).read_text())


def by_name(results) -> dict:
    return {(obj["kind"], obj["metadata"]["name"]): obj for _index, obj, _warnings in results}


def class_of(pool: dict) -> str:
    return pool["spec"]["template"]["spec"]["nodeClassRef"]["name"]


def test_provisioners_sharing_a_template_that_disagree_get_a_class_each(crds):
    manifests = load_all("provisioners-sharing-a-template.yaml")
    before = copy.deepcopy(manifests)
    results = karpenter_legacy.convert_set(manifests, node_role="KarpenterNodeRole-lab")
    assert manifests == before
    objs = by_name(results)
    assert [(i, o["kind"], o["metadata"]["name"]) for i, o, _w in results] == [
        (0, "NodePool", "kc-web"), (1, "NodePool", "kc-batch"), (2, "NodePool", "kc-general"),
        (3, "EC2NodeClass", "kc-shared"), (3, "EC2NodeClass", "kc-shared-kc-batch"), (3, "EC2NodeClass", "kc-shared-kc-web")]
    assert {n: class_of(o) for (kind, n), o in objs.items() if kind == "NodePool"} == {
        "kc-web": "kc-shared-kc-web", "kc-batch": "kc-shared-kc-batch", "kc-general": "kc-shared"}
    assert "kubelet" not in objs["EC2NodeClass", "kc-shared"]["spec"]
    assert objs["EC2NodeClass", "kc-shared-kc-batch"]["spec"]["kubelet"] == {
        "maxPods": 20, "systemReserved": {"cpu": "100m", "memory": "256Mi"}, "evictionHard": {"memory.available": "5%"},
        "imageGCHighThresholdPercent": 85, "imageGCLowThresholdPercent": 80}
    assert objs["EC2NodeClass", "kc-shared-kc-web"]["spec"]["kubelet"] == {"maxPods": 40}
    # the copies are the template's class otherwise (selectors, tags, role, AMI)
    base = dict(objs["EC2NodeClass", "kc-shared"]["spec"])
    assert {k2: v for k2, v in objs["EC2NodeClass", "kc-shared-kc-web"]["spec"].items() if k2 != "kubelet"} == base
    warnings = {o["metadata"]["name"]: w for _i, o, w in results if w}
    assert warnings == {"kc-web": ["spec.kubeletConfiguration.containerRuntime: has no v1 meaning and was dropped"]}
    for _i, obj, _w in results:
        assert karpenter_objects.validate(obj) == [] and schema_errors(obj, crds) == [], obj["metadata"]["name"]


def test_the_split_does_not_depend_on_the_order_of_the_set():
    manifests = load_all("provisioners-sharing-a-template.yaml")
    forward = by_name(karpenter_legacy.convert_set(manifests, node_role="r"))
    backward = by_name(karpenter_legacy.convert_set(manifests[::-1], node_role="r"))
    assert forward == backward


def test_when_every_nodepool_sets_kubelet_differently_the_class_as_written_is_left_out():
    manifests = [m for m in load_all("provisioners-sharing-a-template.yaml") if m["metadata"]["name"] != "kc-general"]
    names = [o["metadata"]["name"] for _i, o, _w in karpenter_legacy.convert_set(manifests, node_role="r") if o["kind"] == "EC2NodeClass"]
    assert names == ["kc-shared-kc-batch", "kc-shared-kc-web"]


def test_agreeing_nodepools_keep_one_class_which_gets_their_settings(crds):
    provisioners = [m for m in load_all("provisioners-sharing-a-template.yaml") if m["kind"] == "Provisioner"]
    template = load_all("provisioners-sharing-a-template.yaml")[-1]
    for provisioner in provisioners:
        provisioner["spec"]["kubeletConfiguration"] = {"maxPods": 58, "clusterDNS": ["10.100.0.10"], "cpuCFSQuota": False,
                                                       "kubeReserved": {"cpu": 1, "ephemeral-storage": "1Gi"}}
    results = karpenter_legacy.convert_set([*provisioners, template], node_role="r")
    objs = by_name(results)
    assert [n for (kind, n) in objs if kind == "EC2NodeClass"] == ["kc-shared"]
    assert objs["EC2NodeClass", "kc-shared"]["spec"]["kubelet"] == {
        "maxPods": 58, "clusterDNS": ["10.100.0.10"], "cpuCFSQuota": False, "kubeReserved": {"cpu": "1", "ephemeral-storage": "1Gi"}}
    assert {class_of(o) for (kind, _n), o in objs.items() if kind == "NodePool"} == {"kc-shared"}
    for _i, obj, _w in results:
        assert karpenter_objects.validate(obj) == [] and schema_errors(obj, crds) == [], obj["metadata"]["name"]


def test_v1beta1_kubelet_and_the_v1_0_conversion_annotation_are_folded_the_same_way(crds):
    results = karpenter_legacy.convert_set(load_all("v1beta1-kubelet.yaml"))
    objs = by_name(results)
    assert [n for (kind, n) in objs if kind == "EC2NodeClass"] == ["beta-shared"]
    assert objs["EC2NodeClass", "beta-shared"]["spec"]["kubelet"] == {"maxPods": 30, "kubeReserved": {"cpu": "200m"}}
    pool = objs["NodePool", "converted-by-v1-0"]
    assert "annotations" not in pool["metadata"] and class_of(pool) == "beta-shared"
    assert "kubelet" not in objs["NodePool", "beta-batch"]["spec"]["template"]["spec"]
    assert [w for _i, _o, w in results] == [[], [], []]
    for _i, obj, _w in results:
        assert karpenter_objects.validate(obj) == [] and schema_errors(obj, crds) == [], obj["metadata"]["name"]


def test_an_annotation_that_disagrees_splits_and_one_that_is_not_json_names_the_field():
    manifests = load_all("v1beta1-kubelet.yaml")
    manifests[1]["metadata"]["annotations"][karpenter_objects.KUBELET_CONVERSION_ANNOTATION] = json.dumps({"maxPods": 31})
    objs = by_name(karpenter_legacy.convert_set(manifests))
    assert class_of(objs["NodePool", "converted-by-v1-0"]) == "beta-shared-converted-by-v1-0"
    assert class_of(objs["NodePool", "beta-batch"]) == "beta-shared-beta-batch"
    assert objs["EC2NodeClass", "beta-shared-converted-by-v1-0"]["spec"]["kubelet"] == {"maxPods": 31}
    manifests[1]["metadata"]["annotations"][karpenter_objects.KUBELET_CONVERSION_ANNOTATION] = "{maxPods: 31"
    with pytest.raises(karpenter_objects.KarpenterError, match=r"^\[1\] NodePool/converted-by-v1-0: metadata\.annotations\.compatibility\.karpenter\.sh/"
                       r"v1beta1-kubelet-conversion: not valid JSON"):
        karpenter_legacy.convert_set(manifests)


def test_a_provisioner_whose_template_is_not_in_the_set_is_an_error_naming_both():
    manifests = load_all("provisioners-sharing-a-template.yaml")
    manifests[1]["spec"]["providerRef"]["name"] = "kc-missing"
    with pytest.raises(karpenter_objects.KarpenterError) as exc:
        karpenter_legacy.convert_set(manifests, node_role="r")
    assert str(exc.value) == ("[1] Provisioner/kc-batch: spec.providerRef.name: AWSNodeTemplate 'kc-missing' is not in the set "
                              "(its node classes: kc-shared); add it to the list or convert this manifest alone")


def test_a_set_without_node_classes_converts_each_manifest_alone():
    manifests = [m for m in load_all("provisioners-sharing-a-template.yaml") if m["kind"] == "Provisioner"]
    results = karpenter_legacy.convert_set(manifests)
    assert [o["metadata"]["name"] for _i, o, _w in results] == ["kc-web", "kc-batch", "kc-general"]
    assert results[1][2] == ["spec.kubeletConfiguration: moved to EC2NodeClass spec.kubelet in v1; convert this manifest in a "
                             "list with its node class to carry it there (dropped here)"]


def test_asplit_name_too_long_for_karpenter_s_label_is_shortened_deterministically():
    name = karpenter_legacy.split_name("c" * 40, "p" * 40)
    assert len(name) == 63 and name == karpenter_legacy.split_name("c" * 40, "p" * 40) and karpenter_objects.name_error("EC2NodeClass", name) == ""


@pytest.mark.parametrize("path", sorted(LEGACY.glob("*.yaml")), ids=lambda p: p.name)
def test_every_legacy_fixture_is_valid_under_the_real_crd_schema(path, crds):
    manifest = yaml.safe_load(path.read_text())
    obj, _warnings = karpenter_legacy.convert(manifest, node_role="r" if "instanceProfile" not in manifest["spec"] else None)
    assert schema_errors(obj, crds) == []


# (kubelet, the field our validation names, whether the CRD's structural schema rejects (or prunes) it too; the others are
# the CRD's CEL rules, which the lab's API server applies)
BAD_KUBELETS = [
    ({"maxPods": -1}, "spec.kubelet.maxPods", True),
    ({"imageGCHighThresholdPercent": 101}, "spec.kubelet.imageGCHighThresholdPercent", True),
    ({"systemReserved": {"cpu": "lots"}}, "spec.kubelet.systemReserved.cpu", True),
    ({"evictionHard": {"memory.available": "5 percent"}}, "spec.kubelet.evictionHard.memory.available", True),
    ({"cpuCFSQuota": "yes"}, "spec.kubelet.cpuCFSQuota", True),
    ({"systemReserved": {"gpu": "1"}}, "spec.kubelet.systemReserved.gpu", False),
    ({"kubeReserved": {"cpu": "-1"}}, "spec.kubelet.kubeReserved.cpu", False),
    ({"evictionHard": {"memory.free": "1Gi"}}, "spec.kubelet.evictionHard.memory.free", False),
    ({"imageGCHighThresholdPercent": 50, "imageGCLowThresholdPercent": 60}, "spec.kubelet.imageGCHighThresholdPercent", False),
    ({"evictionSoft": {"memory.available": "10%"}}, "spec.kubelet.evictionSoft.memory.available: has no matching", False),
    ({"evictionSoftGracePeriod": {"memory.available": "1m"}}, "spec.kubelet.evictionSoftGracePeriod.memory.available: has no", False),
    ({"containerRuntime": "containerd"}, "spec.kubelet.containerRuntime: is not a v1 kubelet setting", True),
]


@pytest.mark.parametrize("kubelet, field, structural", BAD_KUBELETS, ids=[f for _k, f, _s in BAD_KUBELETS])
def test_kubelet_validation_names_the_field_where_the_crd_refuses(kubelet, field, structural, crds):
    obj = {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "c"},
           "spec": {"role": "r", "amiSelectorTerms": [{"alias": "al2023@latest"}], "subnetSelectorTerms": [{"tags": {"a": "b"}}],
                    "securityGroupSelectorTerms": [{"tags": {"a": "b"}}], "kubelet": kubelet}}
    errors = karpenter_objects.validate(obj)
    assert any(e.startswith(field) for e in errors), errors
    assert bool(schema_errors(obj, crds)) == structural


def _side_by_side() -> list:
    """(heading, legacy documents, v1 documents, node_role, warnings) of each pair in docs/karpenter.md."""
    text = DOCS.read_text()
    out = []
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
        if "<table>" not in section or len(blocks) != 2:
            continue
        role = re.search(r"node_role: ([\w-]+)", section.splitlines()[0])
        warnings = re.findall(r"^Warnings: `(.*)`$", section, re.M)
        out.append((section.splitlines()[0], [d for d in yaml.safe_load_all(blocks[0]) if d],
                    [d for d in yaml.safe_load_all(blocks[1]) if d], role.group(1) if role else None, warnings))
    return out


@pytest.mark.parametrize("heading, legacy, v1, role, warnings", _side_by_side(), ids=lambda v: v[:40] if isinstance(v, str) else "")
def test_the_docs_side_by_side_examples_are_what_the_converter_gives(heading, legacy, v1, role, warnings, crds):
    del heading
    if len(legacy) == 1:
        obj, notes = karpenter_legacy.convert(legacy[0], node_role=role)
        results = [(0, obj, notes)]
    else:
        results = karpenter_legacy.convert_set(legacy, node_role=role)
    assert [obj for _i, obj, _w in results] == v1
    assert [w for _i, _o, notes in results for w in notes] == warnings
    assert all(schema_errors(obj, crds) == [] for obj in v1)


def test_the_docs_hold_the_side_by_side_examples_and_the_set():
    headings = [h for h, *_rest in _side_by_side()]
    assert len(headings) >= 7 and any(h.startswith("a set:") for h in headings)
