"""Karpenter legacy manifests -> v1 objects (module_utils/karpenter_legacy.py), one manifest at a time."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_legacy, karpenter_objects

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "karpenter" / "legacy"


# ------------------------------------------------------------ legacy -> v1

@pytest.mark.parametrize("seconds, text", [(0, "0s"), (30, "30s"), (90, "1m30s"), (120, "2m"), (3600, "1h"), (2592000, "720h"),
                                           (3661, "1h1m1s")])
def test_seconds_to_duration(seconds, text):
    assert karpenter_legacy.seconds_to_duration(seconds) == text


def test_seconds_to_duration_refuses_non_integers():
    with pytest.raises(karpenter_objects.KarpenterError):
        karpenter_legacy.seconds_to_duration("120")


def load(name):
    return yaml.safe_load((FIXTURES / name).read_text())


def test_the_getting_started_provisioner_converts_field_by_field():
    obj, warnings = karpenter_legacy.convert(load("provisioner-spot-consolidation.yaml"))
    assert warnings == []
    assert obj == {
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "default"},
        "spec": {
            "template": {"spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}],
                "expireAfter": "2m"}},
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "0s"},
            "limits": {"cpu": "1000"}}}


def test_empty_ttl_becomes_when_empty_with_consolidate_after_and_no_expiry_stays_never():
    obj, _warnings = karpenter_legacy.convert(load("provisioner-empty-ttl.yaml"))
    assert obj["spec"]["disruption"] == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "30s"}
    assert obj["spec"]["template"]["spec"]["expireAfter"] == "Never"  # v1alpha5 never expired nodes unless told
    assert obj["spec"]["template"]["metadata"] == {"labels": {"workload": "general"}}
    assert obj["spec"]["weight"] == 10


def test_neither_consolidation_nor_empty_ttl_means_never_consolidate():
    obj, _warnings = karpenter_legacy.convert(load("provisioner-arm64.yaml"))
    assert obj["spec"]["disruption"] == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "Never"}
    assert obj["spec"]["limits"] == {"cpu": "200", "memory": "800Gi"}


def test_fields_without_v1_meaning_are_warnings_one_each():
    obj, warnings = karpenter_legacy.convert(load("provisioner-inline-provider.yaml"))
    assert [w.split(":")[0] for w in warnings] == ["spec.providerRef", "spec.requirements[0]", "spec.provider"]
    assert [r["key"] for r in obj["spec"]["template"]["spec"]["requirements"]] == ["topology.kubernetes.io/zone"]
    _obj, warnings = karpenter_legacy.convert(load("provisioner-gpu.yaml"))
    assert warnings == ["spec.kubeletConfiguration: moved to EC2NodeClass spec.kubelet in v1; convert this manifest in a list with its "
                        "node class to carry it there (dropped here)"]


def test_consolidation_with_empty_ttl_is_refused_like_v1alpha5_did():
    manifest = load("provisioner-spot-consolidation.yaml")
    manifest["spec"]["ttlSecondsAfterEmpty"] = 30
    with pytest.raises(karpenter_objects.KarpenterError, match="spec.ttlSecondsAfterEmpty: cannot be combined with spec.consolidation.enabled"):
        karpenter_legacy.convert(manifest)


def test_awsnodetemplate_selectors_become_terms_and_family_an_alias():
    obj, warnings = karpenter_legacy.convert(load("awsnodetemplate-discovery.yaml"), node_role="KarpenterNodeRole-lab")
    assert warnings == []
    assert obj["spec"] == {
        "role": "KarpenterNodeRole-lab", "amiSelectorTerms": [{"alias": "al2@latest"}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "lab"}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "lab"}}],
        "metadataOptions": karpenter_objects.IMDS_DEFAULTS}


def test_instance_profile_is_kept_unless_a_role_is_given():
    manifest = load("awsnodetemplate-bottlerocket.yaml")
    obj, _warnings = karpenter_legacy.convert(manifest)
    assert obj["spec"]["instanceProfile"] == "KarpenterNodeInstanceProfile-lab" and "role" not in obj["spec"]
    assert obj["spec"]["amiSelectorTerms"] == [{"alias": "bottlerocket@latest"}]
    obj, _warnings = karpenter_legacy.convert(manifest, node_role="r")
    assert obj["spec"]["role"] == "r" and "instanceProfile" not in obj["spec"]


def test_no_instance_profile_and_no_role_is_an_error_naming_the_field():
    with pytest.raises(karpenter_objects.KarpenterError, match="spec.instanceProfile: not set"):
        karpenter_legacy.convert(load("awsnodetemplate-discovery.yaml"))


def test_ids_names_and_owners_become_separate_terms():
    obj, _warnings = karpenter_legacy.convert(load("awsnodetemplate-ami-selector.yaml"), node_role="r")
    assert obj["spec"]["amiFamily"] == "AL2"
    assert obj["spec"]["amiSelectorTerms"] == [{"name": "amazon-eks-node-1.27-*", "owner": "amazon"},
                                               {"name": "amazon-eks-node-1.27-*", "owner": "602401143452"}]
    assert obj["spec"]["subnetSelectorTerms"] == [{"id": "subnet-0a1b2c3d4e5f60001"}, {"id": "subnet-0a1b2c3d4e5f60002"}]
    assert obj["spec"]["securityGroupSelectorTerms"] == [{"id": "sg-0a1b2c3d4e5f60001"}]


def test_launch_template_is_a_warning_and_imds_settings_are_kept():
    obj, warnings = karpenter_legacy.convert(load("awsnodetemplate-launch-template.yaml"), node_role="r")
    assert warnings and warnings[0].startswith("spec.launchTemplate:")
    assert obj["spec"]["metadataOptions"]["httpPutResponseHopLimit"] == 2
    assert obj["spec"]["securityGroupSelectorTerms"] == [{"name": "eks-cluster-sg-lab"}]


def test_ubuntu_has_no_alias_and_says_what_to_do():
    manifest = load("awsnodetemplate-discovery.yaml")
    manifest["spec"]["amiFamily"] = "Ubuntu"
    with pytest.raises(karpenter_objects.KarpenterError, match="spec.amiFamily: 'Ubuntu' has no v1 alias; give spec.amiSelector"):
        karpenter_legacy.convert(manifest, node_role="r")


def test_v1beta1_objects_move_expire_after_and_rename_when_underutilized():
    obj, warnings = karpenter_legacy.convert(load("nodepool-v1beta1.yaml"))
    assert obj["spec"]["template"]["spec"]["expireAfter"] == "168h"
    assert obj["spec"]["disruption"] == {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "0s"}
    assert obj["spec"]["template"]["spec"]["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}
    assert len(warnings) == 1 and "kubelet" in warnings[0]
    obj, _warnings = karpenter_legacy.convert(load("ec2nodeclass-v1beta1.yaml"))
    assert obj["spec"]["amiSelectorTerms"] == [{"alias": "al2023@latest"}] and "amiFamily" not in obj["spec"]


@pytest.mark.parametrize("manifest, expected", [
    ({"apiVersion": "karpenter.sh/v1alpha4", "kind": "Provisioner", "metadata": {"name": "x"}}, "apiVersion 'karpenter.sh/v1alpha4'"),
    ({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Machine", "metadata": {"name": "x"}}, "kind 'Machine'"),
    ({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {}}, "legacy_definition.metadata.name"),
    (["not", "a", "mapping"], "legacy_definition: must be one Kubernetes manifest"),
])
def test_unknown_manifests_are_refused(manifest, expected):
    with pytest.raises(karpenter_objects.KarpenterError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        karpenter_legacy.convert(manifest)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_fixture_converts_to_a_valid_v1_object_without_touching_its_input(path):
    manifest = yaml.safe_load(path.read_text())
    before = copy.deepcopy(manifest)
    needs_role = manifest["kind"] == "AWSNodeTemplate" and "instanceProfile" not in manifest["spec"]
    obj, _warnings = karpenter_legacy.convert(manifest, node_role="r" if needs_role else None)
    assert karpenter_objects.validate(obj) == []
    assert obj["apiVersion"] in ("karpenter.sh/v1", "karpenter.k8s.aws/v1")
    assert manifest == before


def test_fixture_set_covers_both_legacy_kinds_and_at_least_ten_manifests():
    kinds = [yaml.safe_load(p.read_text())["kind"] for p in FIXTURES.glob("*.yaml")]
    assert len(kinds) >= 10 and kinds.count("Provisioner") >= 5 and kinds.count("AWSNodeTemplate") >= 5
