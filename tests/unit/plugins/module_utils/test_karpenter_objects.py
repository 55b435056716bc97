"""Karpenter v1 objects (module_utils/karpenter_objects.py): options -> objects, validation messages naming the field."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import karpenter_objects


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
    obj = karpenter_objects.nodepool_from_options({
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
    assert karpenter_objects.validate(obj) == []


def test_ec2nodeclass_from_options_defaults_to_imdsv2_hop_limit_1_and_spells_irregular_names():
    obj = karpenter_objects.ec2nodeclass_from_options({
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
    assert karpenter_objects.validate(obj) == []


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
    errors = karpenter_objects.validate(obj)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("schedule", ["@daily", "@hourly", "0 9 * * mon-fri", "*/15 0-6 1,15 * 0", "30 22 * 1-12 7"])
def test_cron_accepts_what_karpenter_accepts(schedule):
    assert karpenter_objects.cron_error(schedule) is None


def test_valid_nodepool_with_every_operator_passes():
    reqs = [{"key": "a", "operator": "In", "values": ["x"]}, {"key": "b", "operator": "NotIn", "values": ["y"]},
            {"key": "c", "operator": "Exists"}, {"key": "d", "operator": "DoesNotExist"},
            {"key": "e", "operator": "Gt", "values": ["4"]}, {"key": "f", "operator": "Lt", "values": ["64"]},
            {"key": "g", "operator": "Gte", "values": ["1"]}, {"key": "h", "operator": "Lte", "values": ["9"]}]
    obj = pool(requirements=reqs, expireAfter="Never", terminationGracePeriod="1h30m")
    obj["spec"].update(weight=100, disruption={"consolidationPolicy": "Balanced", "consolidateAfter": "Never",
                                               "budgets": [{"nodes": "0", "schedule": "@daily", "duration": "1h30m", "reasons": ["Drifted"]}]})
    assert karpenter_objects.validate(obj) == []


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
    errors = karpenter_objects.validate(nodeclass(**spec))
    assert any(expected in e for e in errors), errors


def test_alias_with_matching_or_custom_family_is_valid():
    assert karpenter_objects.validate(nodeclass(amiFamily="AL2023")) == []
    assert karpenter_objects.validate(nodeclass(amiFamily="Custom")) == []
    assert karpenter_objects.validate(nodeclass(instanceProfile="p", role=None)) == []
