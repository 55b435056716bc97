"""Karpenter v1 model: options -> objects, validation messages naming the field, legacy -> v1 conversion."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import karpenter as k

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "karpenter" / "legacy"


def pool(**tspec):
    spec = {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}, "requirements": []}
    spec.update(tspec)
    return {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "p"}, "spec": {"template": {"spec": spec}}}


def nodeclass(**spec):
    base = {"role": "r", "amiSelectorTerms": [{"alias": "al2023@latest"}], "subnetSelectorTerms": [{"tags": {"a": "b"}}],
            "securityGroupSelectorTerms": [{"tags": {"a": "b"}}]}
    base.update(spec)
    return {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "c"},
            "spec": {k2: v for k2, v in base.items() if v is not None}}


# ------------------------------------------------------------ options -> objects

def test_nodepool_from_options_camelises_known_fields_and_keeps_user_keys():
    obj = k.nodepool_from_options({
        "name": "general", "labels": {"team_name": "a"}, "annotations": None, "node_class_ref": {"name": "default", "group": None, "kind": None},
        "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"], "min_values": None}],
        "taints": None, "startup_taints": [{"key": "x", "value": None, "effect": "NoSchedule"}], "expire_after": "720h",
        "termination_grace_period": "48h", "limits": {"cpu": 1000}, "weight": 5,
        "disruption": {"consolidation_policy": "WhenEmpty", "consolidate_after": "30s",
                       "budgets": [{"nodes": "10%", "schedule": None, "duration": None, "reasons": None}]},
    })
    assert obj == {
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "general"},
        "spec": {"template": {"metadata": {"labels": {"team_name": "a"}}, "spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
            "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}],
            "startupTaints": [{"key": "x", "effect": "NoSchedule"}], "expireAfter": "720h", "terminationGracePeriod": "48h"}},
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "30s", "budgets": [{"nodes": "10%"}]},
            "limits": {"cpu": 1000}, "weight": 5}}
    assert k.validate(obj) == []


def test_ec2nodeclass_from_options_defaults_to_imdsv2_hop_limit_1_and_spells_irregular_names():
    obj = k.ec2nodeclass_from_options({
        "name": "default", "role": "node", "ami_selector_terms": [{"alias": "al2023@latest"}], "tags": {"cost_center": "1"},
        "subnet_selector_terms": [{"tags": {"karpenter.sh/discovery": "lab"}}], "associate_public_ip_address": False,
        "security_group_selector_terms": [{"id": "sg-1"}], "metadata_options": {"http_protocol_ipv6": "enabled"},
        "block_device_mappings": [{"device_name": "/dev/xvda", "ebs": {"volume_size": "20Gi", "kms_key_id": "k", "snapshot_id": None}}],
    })
    spec = obj["spec"]
    assert spec["metadataOptions"] == {"httpEndpoint": "enabled", "httpProtocolIPv6": "enabled", "httpPutResponseHopLimit": 1,
                                       "httpTokens": "required"}
    assert spec["blockDeviceMappings"] == [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "20Gi", "kmsKeyID": "k"}}]
    assert spec["associatePublicIPAddress"] is False
    assert spec["tags"] == {"cost_center": "1"}
    assert "name" not in spec
    assert k.validate(obj) == []


# ------------------------------------------------------------ NodePool validation

@pytest.mark.parametrize("tspec, spec, expected", [
    ({"requirements": [{"key": "a", "operator": "Like", "values": ["x"]}]}, {}, "requirements[0].operator: 'Like'"),
    ({"requirements": [{"key": "a", "operator": "Gt", "values": ["large"]}]}, {}, "requirements[0].values: operator Gt needs exactly one"),
    ({"requirements": [{"key": "a", "operator": "Lt", "values": ["1", "2"]}]}, {}, "operator Lt needs exactly one"),
    ({"requirements": [{"key": "a", "operator": "In"}]}, {}, "requirements[0].values: operator In needs"),
    ({"requirements": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, {}, "operator Exists takes no values"),
    ({"requirements": [{"key": "a", "operator": "In", "values": ["x"], "minValues": 2}]}, {}, "requirements[0].minValues"),
    ({"taints": [{"key": "a", "effect": "NoWay"}]}, {}, "spec.template.spec.taints[0].effect: 'NoWay'"),
    ({"expireAfter": "30d"}, {}, "spec.template.spec.expireAfter: '30d'"),
    ({"terminationGracePeriod": "Never"}, {}, "terminationGracePeriod: 'Never'"),
    ({}, {"weight": 0}, "spec.weight: 0 must be an integer from 1 to 100"),
    ({}, {"weight": 101}, "spec.weight: 101"),
    ({}, {"limits": {"cpu": "lots"}}, "spec.limits.cpu: 'lots'"),
    ({}, {"disruption": {"consolidationPolicy": "WhenUnderutilized"}}, "consolidationPolicy: 'WhenUnderutilized'"),
    ({}, {"disruption": {"consolidateAfter": "soon"}}, "spec.disruption.consolidateAfter: 'soon' must be a duration such as 30s or Never"),
    ({}, {"disruption": {"budgets": [{"nodes": "10%", "schedule": "every monday", "duration": "1h"}]}}, "budgets[0].schedule: 'every monday'"),
    ({}, {"disruption": {"budgets": [{"nodes": "10%", "schedule": "0 25 * * *", "duration": "1h"}]}}, "25 is outside 0-23"),
    ({}, {"disruption": {"budgets": [{"nodes": "0", "schedule": "@daily"}]}}, "budgets[0].duration: schedule and duration must be set together"),
    ({}, {"disruption": {"budgets": [{"nodes": "0", "duration": "1h"}]}}, "budgets[0].schedule: schedule and duration"),
    ({}, {"disruption": {"budgets": [{"nodes": "110%"}]}}, "budgets[0].nodes: '110%'"),
    ({}, {"disruption": {"budgets": [{"nodes": "1", "reasons": ["Expired"]}]}}, "budgets[0].reasons: 'Expired'"),
    ({"nodeClassRef": {"name": "x"}}, {}, "spec.template.spec.nodeClassRef: group, kind and name are required"),
])
def test_nodepool_validation_names_the_field(tspec, spec, expected):
    obj = pool(**tspec)
    obj["spec"].update(spec)
    errors = k.validate(obj)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("schedule", ["@daily", "@hourly", "0 9 * * mon-fri", "*/15 0-6 1,15 * 0", "30 22 * 1-12 7"])
def test_cron_accepts_what_karpenter_accepts(schedule):
    assert k.cron_error(schedule) is None


def test_valid_nodepool_with_every_operator_passes():
    reqs = [{"key": "a", "operator": "In", "values": ["x"]}, {"key": "b", "operator": "NotIn", "values": ["y"]},
            {"key": "c", "operator": "Exists"}, {"key": "d", "operator": "DoesNotExist"},
            {"key": "e", "operator": "Gt", "values": ["4"]}, {"key": "f", "operator": "Lt", "values": ["64"]},
            {"key": "g", "operator": "Gte", "values": ["1"]}, {"key": "h", "operator": "Lte", "values": ["9"]}]
    obj = pool(requirements=reqs, expireAfter="Never", terminationGracePeriod="1h30m")
    obj["spec"].update(weight=100, disruption={"consolidationPolicy": "Balanced", "consolidateAfter": "Never",
                                               "budgets": [{"nodes": "0", "schedule": "@daily", "duration": "1h30m", "reasons": ["Drifted"]}]})
    assert k.validate(obj) == []


# ------------------------------------------------------------ EC2NodeClass validation

@pytest.mark.parametrize("spec, expected", [
    ({"instanceProfile": "p"}, "spec.role: set exactly one of role and instanceProfile (both are set)"),
    ({"role": None}, "(neither is set)"),
    ({"amiSelectorTerms": None}, "spec.amiSelectorTerms: at least one term is required"),
    ({"amiSelectorTerms": []}, "spec.amiSelectorTerms: at least one term is required"),
    ({"amiFamily": "AL2"}, "spec.amiFamily: 'AL2' contradicts spec.amiSelectorTerms[0].alias 'al2023@latest'"),
    ({"amiSelectorTerms": [{"alias": "ubuntu@latest"}]}, "amiSelectorTerms[0].alias: 'ubuntu@latest'"),
    ({"amiSelectorTerms": [{"alias": "windows2022@v1"}]}, "Windows families only support version latest"),
    ({"amiSelectorTerms": [{"id": "ami-1"}]}, "spec.amiFamily: is required when amiSelectorTerms has no alias"),
    ({"amiSelectorTerms": [{"alias": "al2@latest"}, {"id": "ami-1"}]}, "an alias term cannot be combined"),
    ({"amiSelectorTerms": [{"id": "ami-1", "name": "x"}], "amiFamily": "AL2"}, "amiSelectorTerms[0].id: cannot be combined with name"),
    ({"subnetSelectorTerms": []}, "spec.subnetSelectorTerms: at least one term"),
    ({"subnetSelectorTerms": [{"tags": {"a": ""}}]}, "subnetSelectorTerms[0].tags: empty tag"),
    ({"securityGroupSelectorTerms": [{}]}, "securityGroupSelectorTerms[0]: needs one of tags, id, name"),
    ({"metadataOptions": {"httpTokens": "maybe"}}, "spec.metadataOptions.httpTokens: 'maybe'"),
    ({"metadataOptions": {"httpPutResponseHopLimit": 65}}, "httpPutResponseHopLimit: 65"),
    ({"tags": {"kubernetes.io/cluster/lab": "owned"}}, "spec.tags.kubernetes.io/cluster/lab"),
    ({"blockDeviceMappings": [{"rootVolume": True}, {"rootVolume": True}]}, "only one mapping may set rootVolume"),
    ({"blockDeviceMappings": [{"ebs": {"volumeType": "gp3"}}]}, "blockDeviceMappings[0].ebs: volumeSize or snapshotID"),
])
def test_ec2nodeclass_validation_names_the_field(spec, expected):
    errors = k.validate(nodeclass(**spec))
    assert any(expected in e for e in errors), errors


def test_alias_with_matching_or_custom_family_is_valid():
    assert k.validate(nodeclass(amiFamily="AL2023")) == []
    assert k.validate(nodeclass(amiFamily="Custom")) == []
    assert k.validate(nodeclass(instanceProfile="p", role=None)) == []


# ------------------------------------------------------------ legacy -> v1

@pytest.mark.parametrize("seconds, text", [(0, "0s"), (30, "30s"), (90, "1m30s"), (120, "2m"), (3600, "1h"), (2592000, "720h"),
                                           (3661, "1h1m1s")])
def test_seconds_to_duration(seconds, text):
    assert k.seconds_to_duration(seconds) == text


def test_seconds_to_duration_refuses_non_integers():
    with pytest.raises(k.KarpenterError):
        k.seconds_to_duration("120")


def load(name):
    return yaml.safe_load((FIXTURES / name).read_text())


def test_the_getting_started_provisioner_converts_field_by_field():
    obj, warnings = k.convert(load("provisioner-spot-consolidation.yaml"))
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
    obj, _warnings = k.convert(load("provisioner-empty-ttl.yaml"))
    assert obj["spec"]["disruption"] == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "30s"}
    assert obj["spec"]["template"]["spec"]["expireAfter"] == "Never"  # v1alpha5 never expired nodes unless told
    assert obj["spec"]["template"]["metadata"] == {"labels": {"workload": "general"}}
    assert obj["spec"]["weight"] == 10


def test_neither_consolidation_nor_empty_ttl_means_never_consolidate():
    obj, _warnings = k.convert(load("provisioner-arm64.yaml"))
    assert obj["spec"]["disruption"] == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "Never"}
    assert obj["spec"]["limits"] == {"cpu": "200", "memory": "800Gi"}


def test_fields_without_v1_meaning_are_warnings_one_each():
    obj, warnings = k.convert(load("provisioner-inline-provider.yaml"))
    assert [w.split(":")[0] for w in warnings] == ["spec.providerRef", "spec.requirements[0]", "spec.provider"]
    assert [r["key"] for r in obj["spec"]["template"]["spec"]["requirements"]] == ["topology.kubernetes.io/zone"]
    _obj, warnings = k.convert(load("provisioner-gpu.yaml"))
    assert warnings == ["spec.kubeletConfiguration: moved to EC2NodeClass spec.kubelet in v1; convert this manifest in a list with its "
                        "node class to carry it there (dropped here)"]


def test_consolidation_with_empty_ttl_is_refused_like_v1alpha5_did():
    manifest = load("provisioner-spot-consolidation.yaml")
    manifest["spec"]["ttlSecondsAfterEmpty"] = 30
    with pytest.raises(k.KarpenterError, match="spec.ttlSecondsAfterEmpty: cannot be combined with spec.consolidation.enabled"):
        k.convert(manifest)


def test_awsnodetemplate_selectors_become_terms_and_family_an_alias():
    obj, warnings = k.convert(load("awsnodetemplate-discovery.yaml"), node_role="KarpenterNodeRole-lab")
    assert warnings == []
    assert obj["spec"] == {
        "role": "KarpenterNodeRole-lab", "amiSelectorTerms": [{"alias": "al2@latest"}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "lab"}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "lab"}}],
        "metadataOptions": k.IMDS_DEFAULTS}


def test_instance_profile_is_kept_unless_a_role_is_given():
    manifest = load("awsnodetemplate-bottlerocket.yaml")
    obj, _warnings = k.convert(manifest)
    assert obj["spec"]["instanceProfile"] == "KarpenterNodeInstanceProfile-lab" and "role" not in obj["spec"]
    assert obj["spec"]["amiSelectorTerms"] == [{"alias": "bottlerocket@latest"}]
    obj, _warnings = k.convert(manifest, node_role="r")
    assert obj["spec"]["role"] == "r" and "instanceProfile" not in obj["spec"]


def test_no_instance_profile_and_no_role_is_an_error_naming_the_field():
    with pytest.raises(k.KarpenterError, match="spec.instanceProfile: not set"):
        k.convert(load("awsnodetemplate-discovery.yaml"))


def test_ids_names_and_owners_become_separate_terms():
    obj, _warnings = k.convert(load("awsnodetemplate-ami-selector.yaml"), node_role="r")
    assert obj["spec"]["amiFamily"] == "AL2"
    assert obj["spec"]["amiSelectorTerms"] == [{"name": "amazon-eks-node-1.27-*", "owner": "amazon"},
                                               {"name": "amazon-eks-node-1.27-*", "owner": "602401143452"}]
    assert obj["spec"]["subnetSelectorTerms"] == [{"id": "subnet-0a1b2c3d4e5f60001"}, {"id": "subnet-0a1b2c3d4e5f60002"}]
    assert obj["spec"]["securityGroupSelectorTerms"] == [{"id": "sg-0a1b2c3d4e5f60001"}]


def test_launch_template_is_a_warning_and_imds_settings_are_kept():
    obj, warnings = k.convert(load("awsnodetemplate-launch-template.yaml"), node_role="r")
    assert warnings and warnings[0].startswith("spec.launchTemplate:")
    assert obj["spec"]["metadataOptions"]["httpPutResponseHopLimit"] == 2
    assert obj["spec"]["securityGroupSelectorTerms"] == [{"name": "eks-cluster-sg-lab"}]


def test_ubuntu_has_no_alias_and_says_what_to_do():
    manifest = load("awsnodetemplate-discovery.yaml")
    manifest["spec"]["amiFamily"] = "Ubuntu"
    with pytest.raises(k.KarpenterError, match="spec.amiFamily: 'Ubuntu' has no v1 alias; give spec.amiSelector"):
        k.convert(manifest, node_role="r")


def test_v1beta1_objects_move_expire_after_and_rename_when_underutilized():
    obj, warnings = k.convert(load("nodepool-v1beta1.yaml"))
    assert obj["spec"]["template"]["spec"]["expireAfter"] == "168h"
    assert obj["spec"]["disruption"] == {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "0s"}
    assert obj["spec"]["template"]["spec"]["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}
    assert len(warnings) == 1 and "kubelet" in warnings[0]
    obj, _warnings = k.convert(load("ec2nodeclass-v1beta1.yaml"))
    assert obj["spec"]["amiSelectorTerms"] == [{"alias": "al2023@latest"}] and "amiFamily" not in obj["spec"]


@pytest.mark.parametrize("manifest, expected", [
    ({"apiVersion": "karpenter.sh/v1alpha4", "kind": "Provisioner", "metadata": {"name": "x"}}, "apiVersion 'karpenter.sh/v1alpha4'"),
    ({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Machine", "metadata": {"name": "x"}}, "kind 'Machine'"),
    ({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {}}, "legacy_definition.metadata.name"),
    (["not", "a", "mapping"], "legacy_definition: must be one Kubernetes manifest"),
])
def test_unknown_manifests_are_refused(manifest, expected):
    with pytest.raises(k.KarpenterError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        k.convert(manifest)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_fixture_converts_to_a_valid_v1_object_without_touching_its_input(path):
    manifest = yaml.safe_load(path.read_text())
    before = copy.deepcopy(manifest)
    obj, _warnings = k.convert(manifest, node_role="r" if manifest["kind"] == "AWSNodeTemplate" and "instanceProfile" not in manifest["spec"] else None)
    assert k.validate(obj) == []
    assert obj["apiVersion"] in ("karpenter.sh/v1", "karpenter.k8s.aws/v1")
    assert manifest == before


def test_fixture_set_covers_both_legacy_kinds_and_at_least_ten_manifests():
    kinds = [yaml.safe_load(p.read_text())["kind"] for p in FIXTURES.glob("*.yaml")]
    assert len(kinds) >= 10 and kinds.count("Provisioner") >= 5 and kinds.count("AWSNodeTemplate") >= 5
