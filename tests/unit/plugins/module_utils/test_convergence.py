"""The convergence record and the gate's comparison (module_utils/convergence.py, issue #23): exact reasons."""
from __future__ import annotations

import json
import pathlib
import re

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C

ROOT = pathlib.Path(__file__).resolve().parents[4]
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "op", "namespace": "op", "uid": "u1", "generation": 2, "resourceVersion": "77"}}
CLASS = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "op", "uid": "u2", "resourceVersion": "5"}}
NOW = 1796515200  # 2026-12-06T00:00:00Z
SUBNET = {"SubnetId": "subnet-1", "VpcId": "vpc-1", "Tags": [{"Key": "kubernetes.io/role/elb", "Value": "1"}]}


def snapshot(**over):
    live = {"kubernetes": [C.k8s_entry(DEPLOYMENT, "generation"), C.k8s_entry(CLASS, "resourceVersion")],
            "aws": [C.aws_entry("subnet", "subnet-1", C.ec2_tags(SUBNET))], "helm": [], "errors": []}
    live.update(over)
    return live


def record(**over):
    return C.build("overprovisioning", C.digest({"replicas": 1}), snapshot(**over), "2026-12-05T12:00:00Z")


def test_version_is_the_collections():
    assert C.VERSION == yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]


def test_digest_is_canonical_and_entries_keep_generation_or_resource_version():
    assert C.digest({"b": 1, "a": [1, 2]}) == C.digest({"a": [1, 2], "b": 1}) != C.digest({"a": [2, 1], "b": 1})
    assert C.k8s_entry(DEPLOYMENT, "generation") == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "op",
                                                     "namespace": "op", "uid": "u1", "generation": 2}
    assert C.k8s_entry(CLASS, "generation") == {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "name": "op",
                                                "uid": "u2", "resourceVersion": "5"}
    assert C.configmap_name("discovery_tags") == "nodeless-eks-discovery-tags"


def test_spec_except_replicas_ignores_scaling_and_finds_any_other_spec_change():
    """istiod's Deployment, scaled by its HorizontalPodAutoscaler: replicas moved (and generation with them) is in sync;
    an edited container is not."""
    scaled = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "istiod", "namespace": "istio-system", "uid": "u9", "generation": 1},
              "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "discovery", "image": "istio/pilot:1.30.0"}]}}}}
    entry = C.k8s_entry(scaled, "spec_except_replicas")
    assert set(entry) == {"apiVersion", "kind", "name", "namespace", "uid", "spec"}
    more = dict(scaled, metadata=dict(scaled["metadata"], generation=2), spec=dict(scaled["spec"], replicas=3))
    assert C.differences([entry], [C.k8s_entry(more, "spec_except_replicas")]) == []
    edited = dict(more, spec=dict(more["spec"], template={"spec": {"containers": [{"name": "discovery", "image": "evil/pilot"}]}}))
    assert C.differences([entry], [C.k8s_entry(edited, "spec_except_replicas")]) == [
        "Deployment istio-system/istiod: spec changed"]


def test_in_sync_only_when_inputs_and_every_object_are_the_records():
    assert C.compare(record(), C.digest({"replicas": 1}), snapshot(), NOW) == (True, [])
    assert C.message("overprovisioning", True, record(), []) == "overprovisioning: in sync (record 2026-12-05T12:00:00Z, 3 objects)"


@pytest.mark.parametrize("live, inputs, reasons", [
    (snapshot(kubernetes=[C.k8s_entry(CLASS, "resourceVersion")]), None, ["Deployment op/op: gone"]),
    (snapshot(kubernetes=[C.k8s_entry(dict(DEPLOYMENT, metadata=dict(DEPLOYMENT["metadata"], generation=3)), "generation"),
                          C.k8s_entry(CLASS, "resourceVersion")]), None, ["Deployment op/op: generation changed"]),
    (snapshot(kubernetes=[C.k8s_entry(dict(DEPLOYMENT, metadata=dict(DEPLOYMENT["metadata"], uid="u9", generation=1)), "generation"),
                          C.k8s_entry(CLASS, "resourceVersion")]), None, ["Deployment op/op: generation, uid changed"]),
    (snapshot(kubernetes=snapshot()["kubernetes"] + [C.k8s_entry(dict(CLASS, metadata={"name": "extra", "uid": "u3"}), "resourceVersion")]),
     None, ["PriorityClass extra: not in the record"]),
    (snapshot(aws=[C.aws_entry("subnet", "subnet-1", {})]), None, ["aws subnet subnet-1: sha256 changed"]),
    (snapshot(aws=[]), None, ["aws subnet subnet-1: gone"]),
    (snapshot(), {"replicas": 2}, ["the role's inputs changed"]),
    (snapshot(errors=["AWS: Throttling"]), None, ["read failed: AWS: Throttling"]),
    (snapshot(aws=[], errors=["Deployment list: 503"]), None, ["read failed: Deployment list: 503"]),
])
def test_every_difference_and_every_failed_read_is_a_reason(live, inputs, reasons):
    assert C.compare(record(), C.digest(inputs or {"replicas": 1}), live, NOW) == (False, reasons)


def test_no_record_is_not_in_sync_and_the_message_names_at_most_three_reasons():
    assert C.compare(None, "sha256:x", snapshot(), NOW) == (False, ["no record: full path"])
    assert (C.message("discovery_tags", False, None, ["a", "b", "c", "d", "e"])
            == "discovery_tags: not in sync, full path (a; b; c; 2 more)")


def test_route_tables_digest_ignores_route_state_and_order():
    table = {"RouteTableId": "rtb-1", "Associations": [{"SubnetId": "subnet-2"}, {"Main": True}],
             "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"},
                        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}]}
    flipped = dict(table, Associations=table["Associations"][::-1], Routes=[dict(r, State="blackhole") for r in table["Routes"][::-1]])
    assert C.route_tables([table]) == C.route_tables([flipped])
    nat = dict(table, Routes=[{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}])
    assert C.digest(C.route_tables([table])) != C.digest(C.route_tables([nat]))


def test_content_leaves_out_written_at_and_render_parses_back():
    later = dict(record(), written_at="2027-01-01T00:00:00Z")
    assert C.content(later) == C.content(record())
    assert C.parse(C.render(record())) == record()
    configmap = C.configmap(record(), "nodeless-eks")
    assert configmap["metadata"]["name"] == "nodeless-eks-overprovisioning"
    assert configmap["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nodeless.eks"
    assert json.loads(configmap["data"]["record.json"])["capability"] == "overprovisioning"


@pytest.mark.parametrize("text, error", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"schema": 1}', "missing version, capability, written_at, inputs, kubernetes, aws, helm"),
    (json.dumps(dict(record(), version="one")), "version 'one' is not X.Y.Z"),
    (json.dumps(dict(record(), schema="1")), "schema is not a number"),
    (json.dumps(dict(record(), aws={"a": 1})), "aws is not a list of objects"),
    (json.dumps(dict(record(), aws=[{"type": "subnet"}])), "an aws entry lacks type, id or sha256"),
    (json.dumps(dict(record(), kubernetes=[{"kind": "Deployment"}])), "a kubernetes entry lacks kind or name"),
    (json.dumps(dict(record(), helm=[{"release": "x"}])), "a helm entry lacks release or revision"),
])
def test_nonsense_is_refused_naming_what_is_wrong(text, error):
    with pytest.raises(C.RecordError, match="^" + error.replace("(", r"\(")):
        C.parse(text)


def test_a_newer_version_or_another_schema_is_not_trusted():
    assert C.trust(record()) is None
    assert C.trust(dict(record(), version="0.0.9")) is None
    assert C.trust(dict(record(), version="0.2.0")) == "record written by nodeless.eks 0.2.0, newer than this 0.1.0: full path"
    assert C.trust(dict(record(), version="0.1.1-dev")) == "record written by nodeless.eks 0.1.1-dev, newer than this 0.1.0: full path"
    assert C.trust(dict(record(), schema=2)) == "record schema 2, this nodeless.eks 0.1.0 reads schema 1: full path"


def test_capability_names_and_missing_aws_ids_are_named():
    assert C.capability_errors("discovery_tags") == C.capability_errors("cluster-autoscaler") == []
    assert C.capability_errors("Discovery Tags!") == [
        "capability: 'Discovery Tags!' is not a capability name (lowercase letters, digits, - and _, at most 50)"]
    entries = [C.aws_entry("subnet", "subnet-1", {})]
    assert C.missing_ids([{"type": "subnet", "ids": ["subnet-1"]}], entries) == []
    assert C.missing_ids([{"type": "subnet", "ids": ["subnet-1", "subnet-2"]}, {"type": "security_group", "ids": ["subnet-1"]}],
                         entries) == ["aws[0].ids: subnet not found: subnet-2", "aws[1].ids: security_group not found: subnet-1"]


IAM_ROLE = {"RoleName": "sa", "RoleId": "AROA1", "Path": "/", "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow"}]},
            "AttachedManagedPolicies": [{"PolicyArn": "arn:b"}, {"PolicyArn": "arn:a"}], "RolePolicyList": [{"PolicyName": "i", "PolicyDocument": {}}],
            "Tags": [{"Key": "k", "Value": "v"}], "RoleLastUsed": {"LastUsedDate": "2026-12-05"}}
IAM_POLICY = {"Arn": "arn:p", "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1,
              "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": {"Statement": []}}]}


def test_iam_role_digest_covers_what_is_managed_and_not_its_last_use():
    assert C.iam_role(IAM_ROLE) == {"role_id": "AROA1", "path": "/", "trust": {"Statement": [{"Effect": "Allow"}]},
                                    "managed": ["arn:a", "arn:b"], "inline": {"i": {}}, "boundary": None, "tags": {"k": "v"}}
    assert C.iam_role(dict(IAM_ROLE, RoleLastUsed={})) == C.iam_role(IAM_ROLE)
    for change in ({"AssumeRolePolicyDocument": {}}, {"AttachedManagedPolicies": []}, {"RolePolicyList": []}, {"RoleId": "AROA2"},
                   {"PermissionsBoundary": {"PermissionsBoundaryArn": "arn:x"}}, {"Tags": []}, {"Path": "/x/"}):
        assert C.digest(C.iam_role(dict(IAM_ROLE, **change))) != C.digest(C.iam_role(IAM_ROLE)), change


def test_iam_policy_digest_changes_with_a_version_added_default_or_not():
    assert C.iam_policy(IAM_POLICY) == {"policy_id": None, "path": "/", "default_version": "v1", "document": {"Statement": []}, "versions": ["v1"]}
    assert C.iam_policy(dict(IAM_POLICY, AttachmentCount=5, UpdateDate="later")) == C.iam_policy(IAM_POLICY)
    added = IAM_POLICY["PolicyVersionList"] + [{"VersionId": "v2", "IsDefaultVersion": False, "Document": {"Statement": [1]}}]
    assert C.digest(C.iam_policy(dict(IAM_POLICY, PolicyVersionList=added))) != C.digest(C.iam_policy(IAM_POLICY))
    assert C.iam_policy(dict(IAM_POLICY, PolicyVersionList=added, DefaultVersionId="v2"))["document"] == {"Statement": [1]}


def test_a_file_edited_deleted_or_opened_up_and_a_record_past_its_time_are_reasons():
    """The kubeconfig's record: its file by sha256 and mode (never the bytes), and valid_until (the token's renewal)."""
    written = C.file_entry("/k/view", b"token: abc", 0o100600)
    assert written == {"path": "/k/view", "sha256": C.file_entry("/k/view", b"token: abc", 0o600)["sha256"], "mode": "0600"}
    assert "abc" not in json.dumps(written)
    rec = C.build("kubeconfig", "sha256:in", {"files": [written]}, "2026-12-05T12:00:00Z", valid_until=NOW + 60)
    assert C.parse(C.render(rec)) == rec and C.count(rec) == 1
    assert C.compare(rec, "sha256:in", {"files": [written]}, NOW) == (True, [])
    assert C.compare(rec, "sha256:in", {"files": [C.file_entry("/k/view", b"token: other", 0o600)]}, NOW) == (
        False, ["file /k/view: sha256 changed"])
    assert C.compare(rec, "sha256:in", {"files": [C.file_entry("/k/view", b"token: abc", 0o644)]}, NOW) == (
        False, ["file /k/view: mode changed"])
    assert C.compare(rec, "sha256:in", {"files": []}, NOW) == (False, ["file /k/view: gone"])
    assert C.compare(rec, "sha256:in", {"files": [written]}, NOW + 60) == (
        False, ["the record held until 2026-12-06T00:01:00Z (a renewal is due)"])
    # Records without files or an end (every other capability's) read and compare as before.
    assert "files" not in record() and "valid_until" not in record()


@pytest.mark.parametrize("change, problem", [
    ({"files": {"path": "/k"}}, "files is not a list of {path, sha256, mode}"),
    ({"files": [{"path": "/k", "sha256": "x"}]}, "files is not a list of {path, sha256, mode}"),
    ({"valid_until": "soon"}, "valid_until is not a number"),
])
def test_nonsense_files_or_valid_until_is_no_record(change, problem):
    with pytest.raises(C.RecordError, match=re.escape(problem)):
        C.parse(json.dumps(dict(record(), **change)))


def test_a_secret_tracked_by_data_ignores_labels_the_api_server_moves_and_finds_its_data_changed():
    """The kubeconfig's legacy token Secret: marked used (a label, a new resourceVersion) is not drift; another token is."""
    secret = {"apiVersion": "v1", "kind": "Secret", "data": {"token": "ZXlK"},
              "metadata": {"name": "ci-token", "namespace": "ci", "uid": "u5", "resourceVersion": "10"}}
    entry = C.k8s_entry(secret, "data")
    assert entry["data"] == C.digest({"token": "ZXlK"}) and "resourceVersion" not in entry and "ZXlK" not in json.dumps(entry)
    used = dict(secret, metadata=dict(secret["metadata"], resourceVersion="11", labels={"kubernetes.io/legacy-token-last-used": "2026-12-06"}))
    assert C.differences([entry], [C.k8s_entry(used, "data")]) == []
    other = dict(secret, data={"token": "b3RoZXI="})
    assert C.differences([entry], [C.k8s_entry(other, "data")]) == ["Secret ci/ci-token: data changed"]
