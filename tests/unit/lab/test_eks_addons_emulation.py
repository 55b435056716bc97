"""The lab's EKS add-on API (nodeless_lab/eks_addons.py): shapes checked against botocore's EKS model, behaviour
through boto3 against the emulation in front of moto (no API server: a recording stand-in plays it)."""
from __future__ import annotations

import json
import threading

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from nodeless_lab import eks_addons

MODEL = botocore.session.get_session().get_service_model("eks")
CLUSTER = "unit-addons"
READY = [{"type": "Ready", "status": "True"}]
EBS = "aws-ebs-csi-driver"


class FakeKube:
    def __init__(self):
        self.applied, self.deleted, self.conflicts = [], [], set()
        self.node_list = [{"metadata": {"name": "n1", "labels": {"role": "system"}}, "spec": {}, "status": {"conditions": READY}}]

    def apply(self, body, force):
        if (body["kind"], body["metadata"]["name"]) in self.conflicts and not force:
            raise eks_addons.Conflict(f"{body['kind']} kube-system/{body['metadata']['name']}: conflict with \"nodeless-lab\"")
        self.applied.append((body, force))

    def delete(self, body):
        self.deleted.append(f"{body['kind']}/{body['metadata']['name']}")

    def nodes(self):
        return self.node_list

    def last(self, kind, name):
        return [b for b, _f in self.applied if (b["kind"], b["metadata"]["name"]) == (kind, name)][-1]


def _check(value, shape, path="$"):
    """Every key and value of VALUE is what SHAPE (botocore's model) allows: types, enums, no unknown member."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{path}: not in {shape.name}: {unknown}"
        for key, item in value.items():
            _check(item, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            _check(item, shape.member, f"{path}[{index}]")
    elif kind == "map":
        assert isinstance(value, dict), path
        for key, item in value.items():
            _check(key, shape.key, f"{path}<key>")
            _check(item, shape.value, f"{path}.{key}")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: {value!r} is not a string"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.name}"
    elif kind == "boolean":
        assert isinstance(value, bool), path
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), path
    elif kind == "timestamp":
        assert isinstance(value, (int, float)), path
    else:
        raise AssertionError(f"{path}: unhandled shape type {kind}")


@pytest.fixture(scope="module")
def served():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    kube = FakeKube()
    api = eks_addons.AddonApi(eks_addons.moto_clusters, kube)
    server = make_server("127.0.0.1", 0, eks_addons.AddonMiddleware(DomainDispatcherApplication(create_backend_app), api),
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = boto3.client("eks", endpoint_url=f"http://127.0.0.1:{server.server_port}", region_name="us-west-2",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_cluster(name=CLUSTER, version="1.35", roleArn="arn:aws:iam::123456789012:role/lab-cluster-role",
                          resourcesVpcConfig={"subnetIds": []})
    yield client, api, kube
    server.shutdown()


def _error(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_catalogue_schemas_are_valid_and_every_addon_has_a_default_for_each_minor_it_serves():
    import jsonschema

    catalogue = eks_addons.load_catalogue()
    assert sorted(catalogue) == ["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
    for name, item in catalogue.items():
        jsonschema.validators.validator_for(item["schema"]).check_schema(item["schema"])
        minors = {m for v in item["versions"] for m in v["clusterVersions"]}
        defaults = [m for v in item["versions"] for m in v["defaultFor"]]
        assert sorted(defaults) == sorted(set(defaults)), f"{name}: two defaults for one minor"
        assert "1.35" in minors and "1.35" in defaults, name


def test_every_operation_answers_in_botocore_output_shape(served):
    _client, api, kube = served
    region = "us-west-2"
    ops = [
        ("DescribeAddonVersions", "GET", "/addons/supported-versions", {"kubernetesVersion": "1.35"}, {}),
        ("DescribeAddonConfiguration", "GET", "/addons/configuration-schemas",
         {"addonName": "vpc-cni", "addonVersion": "v1.20.4-eksbuild.1"}, {}),
        ("CreateAddon", "POST", f"/clusters/{CLUSTER}/addons", {},
         {"addonName": EBS, "configurationValues": '{"controller": {"replicaCount": 3}}', "tags": {"team": "platform"},
          "podIdentityAssociations": [{"serviceAccount": "ebs-csi-controller-sa", "roleArn": "arn:aws:iam::123456789012:role/x"}]}),
        ("DescribeAddon", "GET", f"/clusters/{CLUSTER}/addons/{EBS}", {}, {}),
        ("DescribePodIdentityAssociation", "GET", f"/clusters/{CLUSTER}/pod-identity-associations/<id>", {}, {}),
        ("ListAddons", "GET", f"/clusters/{CLUSTER}/addons", {}, {}),
        ("UpdateAddon", "POST", f"/clusters/{CLUSTER}/addons/{EBS}/update", {},
         {"configurationValues": "", "resolveConflicts": "OVERWRITE", "podIdentityAssociations": []}),
        ("DeleteAddon", "DELETE", f"/clusters/{CLUSTER}/addons/{EBS}", {"preserve": "true"}, {}),
    ]
    answers = {}
    for operation, method, path, query, body in ops:
        if operation == "DeleteAddon":
            api.handle("GET", f"/clusters/{CLUSTER}/addons/{EBS}", {}, {}, region)  # settles UPDATING
        if operation == "DescribePodIdentityAssociation":
            path = path.replace("<id>", answers["DescribeAddon"]["addon"]["podIdentityAssociations"][0].rsplit("/", 1)[1])
        status, answers[operation] = api.handle(method, path, query, body, region)
        assert status == 200, (operation, answers[operation])
        _check(answers[operation], MODEL.operation_model(operation).output_shape, operation)
    association = answers["DescribePodIdentityAssociation"]["association"]
    assert (association["serviceAccount"], association["ownerArn"]) == ("ebs-csi-controller-sa", answers["CreateAddon"]["addon"]["addonArn"])
    errors = {
        "ResourceNotFoundException": ("GET", f"/clusters/{CLUSTER}/addons/coredns", {}, {}),
        "InvalidParameterException": ("POST", f"/clusters/{CLUSTER}/addons", {}, {"addonName": "nope"}),
    }
    api.handle("POST", f"/clusters/{CLUSTER}/addons", {}, {"addonName": "eks-pod-identity-agent"}, region)
    errors["ResourceInUseException"] = ("POST", f"/clusters/{CLUSTER}/addons", {}, {"addonName": "eks-pod-identity-agent"})
    for code, (method, path, query, body) in errors.items():
        status, payload = api.handle(method, path, query, body, region)
        shape = MODEL.shape_for(code)
        assert status == shape.metadata["error"]["httpStatusCode"], code
        assert payload.pop("__type") == code
        _check(payload, shape, code)
    api.handle("DELETE", f"/clusters/{CLUSTER}/addons/eks-pod-identity-agent", {}, {}, region)
    assert kube.deleted == ["DaemonSet/eks-pod-identity-agent"]  # not preserved: its workload goes
    kube.deleted.clear()


def test_versions_for_a_minor_default_and_configuration_through_boto3(served):
    client, _api, _kube = served
    pages = client.get_paginator("describe_addon_versions").paginate(kubernetesVersion="1.35", PaginationConfig={"PageSize": 2})
    addons = {a["addonName"]: a for page in pages for a in page["addons"]}
    assert sorted(addons) == ["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
    proxy = [v["addonVersion"] for v in addons["kube-proxy"]["addonVersions"]]
    assert proxy == ["v1.35.0-eksbuild.2"]  # kube-proxy follows the cluster's minor
    cni = addons["vpc-cni"]["addonVersions"]
    assert [v["addonVersion"] for v in cni] == ["v1.21.1-eksbuild.1", "v1.20.4-eksbuild.1"]  # newest first
    assert [v["addonVersion"] for v in cni if v["compatibilities"][0]["defaultVersion"]] == ["v1.20.4-eksbuild.1"]
    assert client.describe_addon_versions(addonName="no-such-addon")["addons"] == []
    conf = client.describe_addon_configuration(addonName="vpc-cni", addonVersion="v1.21.1-eksbuild.1")
    schema = json.loads(conf["configurationSchema"])
    assert schema["definitions"]["Env"]["properties"]["WARM_PREFIX_TARGET"] == {"format": "integer", "type": "string"}
    assert conf["podIdentityConfiguration"][0]["serviceAccount"] == "aws-node"
    assert _error(client.describe_addon_configuration, addonName="vpc-cni", addonVersion="v9")[0] == "ResourceNotFoundException"


def test_lifecycle_writes_aws_node_env_from_values_then_update_then_delete_preserving(served):
    client, _api, kube = served
    values = json.dumps({"env": {"WARM_PREFIX_TARGET": "2", "MINIMUM_IP_TARGET": "10"}})
    created = client.create_addon(clusterName=CLUSTER, addonName="vpc-cni", configurationValues=values,
                                  resolveConflicts="OVERWRITE")["addon"]
    assert created["status"] == "CREATING" and created["addonVersion"] == "v1.20.4-eksbuild.1"  # the default for 1.35
    assert created["configurationValues"] == values  # as sent
    code, _msg = _error(client.update_addon, clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.21.1-eksbuild.1")
    assert code == "ResourceInUseException"  # still CREATING
    assert client.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")["addon"]["status"] == "ACTIVE"
    ds, force = kube.applied[-1]
    env = {e["name"]: e["value"] for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert force and env["WARM_PREFIX_TARGET"] == "2" and env["MINIMUM_IP_TARGET"] == "10" and env["ENABLE_IPv4"] == "true"
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/amazon-k8s-cni:v1.20.4-eksbuild.1")

    update = client.update_addon(clusterName=CLUSTER, addonName="vpc-cni", addonVersion="v1.21.1-eksbuild.1",
                                 serviceAccountRoleArn="arn:aws:iam::123456789012:role/cni")["update"]
    assert update["type"] == "AddonUpdate" and update["status"] == "InProgress"
    assert {p["type"] for p in update["params"]} == {"AddonVersion", "ServiceAccountRoleArn"}
    assert client.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")["addon"]["status"] == "ACTIVE"
    assert kube.last("ServiceAccount", "aws-node")["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/cni"}
    env = {e["name"]: e["value"] for e in kube.last("DaemonSet", "aws-node")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WARM_PREFIX_TARGET"] == "2"  # values kept when an update leaves them out
    assert client.list_addons(clusterName=CLUSTER)["addons"] == ["vpc-cni"]
    assert client.delete_addon(clusterName=CLUSTER, addonName="vpc-cni", preserve=True)["addon"]["status"] == "DELETING"
    assert kube.deleted == []  # preserve: the workload stays
    assert _error(client.describe_addon, clusterName=CLUSTER, addonName="vpc-cni")[0] == "ResourceNotFoundException"


@pytest.mark.parametrize("kwargs,code,text", [
    ({"addonName": "vpc-cni", "configurationValues": '{"env": {"WARM_PREFIX_TARGET": 2}}'}, "InvalidParameterException",
     "$.env.WARM_PREFIX_TARGET: 2 is not of type 'string'"),
    ({"addonName": "vpc-cni", "configurationValues": '{"env": {"ENABLE_PREFIX_DELEGATION": "yes"}}'}, "InvalidParameterException",
     "$.env.ENABLE_PREFIX_DELEGATION: 'yes' is not a 'boolean'"),
    ({"addonName": "vpc-cni", "configurationValues": "env: [unclosed"}, "InvalidParameterException", "not valid JSON or YAML"),
    ({"addonName": "vpc-cni", "addonVersion": "v1.18.6-eksbuild.1"}, "InvalidParameterException",
     "v1.18.6-eksbuild.1 is not supported for vpc-cni in 1.35"),
    ({"addonName": "kube-proxy", "addonVersion": "v1.34.1-eksbuild.2"}, "InvalidParameterException", "not supported"),
    ({"addonName": "vpc-cnii"}, "InvalidParameterException", "Addon vpc-cnii specified is not supported"),
    ({"addonName": "coredns", "resolveConflicts": "ALWAYS"}, "InvalidParameterException", "resolveConflicts"),
    ({"addonName": "coredns", "serviceAccountRoleArn": "role/x"}, "InvalidParameterException", "not a valid IAM role ARN"),
    ({"addonName": "coredns", "podIdentityAssociations": [{"serviceAccount": "coredns", "roleArn": "arn:aws:iam::123456789012:role/x"}]},
     "InvalidParameterException", "serviceAccount coredns is not supported by addon coredns for pod identity"),
])
def test_bad_requests_are_refused_before_anything_is_written(served, kwargs, code, text):
    client, _api, kube = served
    before = len(kube.applied)
    got_code, message = _error(client.create_addon, clusterName=CLUSTER, **kwargs)
    assert got_code == code and text in message, message
    assert len(kube.applied) == before
    assert kwargs["addonName"] not in client.list_addons(clusterName=CLUSTER)["addons"]


def test_unknown_cluster_is_resource_not_found(served):
    client, _api, _kube = served
    assert _error(client.list_addons, clusterName="nope")[0] == "ResourceNotFoundException"
    assert _error(client.create_addon, clusterName="nope", addonName="coredns")[0] == "ResourceNotFoundException"


def test_coredns_degraded_without_a_node_it_tolerates_then_active_with_the_toleration(served):
    client, _api, kube = served
    kube.node_list = [{"metadata": {"name": "w1"}, "spec": {"taints": [{"key": "dedicated", "value": "workers", "effect": "NoSchedule"}]},
                       "status": {"conditions": READY}}]
    try:
        client.create_addon(clusterName=CLUSTER, addonName="coredns", resolveConflicts="OVERWRITE",
                            configurationValues='{"replicaCount": 3}')
        addon = client.describe_addon(clusterName=CLUSTER, addonName="coredns")["addon"]
        assert addon["status"] == "DEGRADED"
        assert addon["health"]["issues"][0]["code"] == "InsufficientNumberOfReplicas"
        assert kube.last("Deployment", "coredns")["spec"]["replicas"] == 3
        client.update_addon(clusterName=CLUSTER, addonName="coredns", configurationValues=json.dumps(
            {"replicaCount": 3, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "workers", "effect": "NoSchedule"}]}))
        addon = client.describe_addon(clusterName=CLUSTER, addonName="coredns")["addon"]
        assert addon["status"] == "ACTIVE" and addon["health"]["issues"] == []
        client.delete_addon(clusterName=CLUSTER, addonName="coredns")
        assert kube.deleted == ["Deployment/coredns", "ServiceAccount/coredns"]  # not preserved: its workload goes
    finally:
        kube.node_list = FakeKube().node_list
        kube.deleted.clear()


def test_resolve_conflicts_none_fails_the_addon_on_a_conflict_and_names_it(served):
    client, _api, kube = served
    kube.conflicts = {("DaemonSet", "kube-proxy")}
    try:
        client.create_addon(clusterName=CLUSTER, addonName="kube-proxy", resolveConflicts="NONE")
        addon = client.describe_addon(clusterName=CLUSTER, addonName="kube-proxy")["addon"]
        assert addon["status"] == "CREATE_FAILED"
        issue = addon["health"]["issues"][0]
        assert issue["code"] == "ConfigurationConflict" and "DaemonSet kube-system/kube-proxy" in issue["message"]
    finally:
        kube.conflicts = set()
        client.delete_addon(clusterName=CLUSTER, addonName="kube-proxy", preserve=True)
