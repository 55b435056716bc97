"""The karpenter_v1 filter: convert without applying (one manifest, a list, or multi-document YAML)."""
from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.nodeless.eks.plugins.filter.karpenter import FilterModule

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "karpenter" / "legacy"
convert = FilterModule().filters()["karpenter_v1"]


def test_a_mapping_gives_one_object():
    import yaml

    obj = convert(yaml.safe_load((FIXTURES / "provisioner-spot-consolidation.yaml").read_text()))
    assert obj["kind"] == "NodePool" and obj["spec"]["template"]["spec"]["expireAfter"] == "2m"


def test_multi_document_yaml_gives_a_list_in_order():
    text = "\n---\n".join((FIXTURES / n).read_text() for n in ("provisioner-empty-ttl.yaml", "awsnodetemplate-discovery.yaml"))
    objs = convert(text, node_role="KarpenterNodeRole-lab")
    assert [o["kind"] for o in objs] == ["NodePool", "EC2NodeClass"]
    assert objs[1]["spec"]["role"] == "KarpenterNodeRole-lab"


def test_strict_turns_warnings_into_errors_naming_the_field():
    text = (FIXTURES / "provisioner-gpu.yaml").read_text()
    assert convert(text)[0]["metadata"]["name"] == "gpu"
    with pytest.raises(AnsibleFilterError, match=r"\[0\] NodePool/gpu: spec.kubeletConfiguration"):
        convert(text, strict=True)


def test_unknown_kind_and_bad_types_fail_clearly():
    with pytest.raises(AnsibleFilterError, match="kind 'Deployment'"):
        convert({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}})
    with pytest.raises(AnsibleFilterError, match="expected a manifest"):
        convert(42)


def test_a_list_with_node_classes_is_a_set_kubelet_on_the_class_and_a_missing_template_named():
    sets = FIXTURES.parent / "sets"
    objs = convert((sets / "provisioners-sharing-a-template.yaml").read_text(), node_role="KarpenterNodeRole-lab")
    assert [(o["kind"], o["metadata"]["name"]) for o in objs][-3:] == [
        ("EC2NodeClass", "kc-shared"), ("EC2NodeClass", "kc-shared-kc-batch"), ("EC2NodeClass", "kc-shared-kc-web")]
    assert objs[-2]["spec"]["kubelet"]["maxPods"] == 20
    import yaml

    gpu, default = (yaml.safe_load((FIXTURES / n).read_text()) for n in ("provisioner-gpu.yaml", "awsnodetemplate-discovery.yaml"))
    with pytest.raises(AnsibleFilterError, match=r"^karpenter_v1: \[0\] Provisioner/gpu: spec\.providerRef\.name: AWSNodeTemplate 'gpu' "
                                                 r"is not in the set \(its node classes: default\)"):
        convert([gpu, default], node_role="r")
