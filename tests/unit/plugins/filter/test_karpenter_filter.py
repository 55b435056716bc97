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
