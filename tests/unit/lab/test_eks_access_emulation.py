"""The lab's access entries, authentication mode and Pod Identity emulation (nodeless_lab/eks_access.py): every answer
checked against botocore's EKS model, behaviour through boto3 against the emulation in front of the add-on layer and
moto (no API server)."""
from __future__ import annotations

import threading

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from nodeless_lab import eks_access, eks_addons
from test_eks_addons_emulation import FakeKube, _check

MODEL = botocore.session.get_session().get_service_model("eks")
REGION = "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/platform/admin"  # a path: '/' travels encoded in the request path
USER = "arn:aws:iam::123456789012:user/alice"
NODE_ROLE = "arn:aws:iam::123456789012:role/lab-node-role"
POLICY = "arn:aws:eks::aws:cluster-access-policy/{}"


@pytest.fixture(scope="module")
def served():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    addons = eks_addons.AddonMiddleware(DomainDispatcherApplication(create_backend_app),
                                        eks_addons.AddonApi(eks_addons.moto_clusters, FakeKube()))
    app = eks_access.wrap(addons)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = boto3.client("eks", endpoint_url=f"http://127.0.0.1:{server.server_port}", region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    yield client, app.api
    server.shutdown()


def _cluster(client, name, mode=None, nodes=False):
    kwargs = {"accessConfig": {"authenticationMode": mode}} if mode else {}
    created = client.create_cluster(name=name, version="1.35", roleArn="arn:aws:iam::123456789012:role/lab-cluster-role",
                                    resourcesVpcConfig={"subnetIds": []}, **kwargs)["cluster"]
    if nodes:
        client.create_nodegroup(clusterName=name, nodegroupName="system", nodeRole=NODE_ROLE, subnets=["subnet-1"])
    return created


def _error(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    response = err.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_every_operation_answers_in_botocore_output_shape(served):
    client, api = served
    _cluster(client, "shapes", "API_AND_CONFIG_MAP")
    entry = "clusters/shapes/access-entries/<arn>"  # split on '/' first, then the ARN put in (it has a '/')
    ops = [
        ("ListAccessPolicies", "GET", "access-policies", {"maxResults": "5"}, {}),
        ("CreateAccessEntry", "POST", "clusters/shapes/access-entries", {},
         {"principalArn": ROLE, "kubernetesGroups": ["platform"], "tags": {"team": "platform"}}),
        ("DescribeAccessEntry", "GET", entry, {}, {}),
        ("UpdateAccessEntry", "POST", entry, {}, {"kubernetesGroups": ["platform", "viewers"], "username": "admin"}),
        ("AssociateAccessPolicy", "POST", f"{entry}/access-policies", {},
         {"policyArn": POLICY.format("AmazonEKSEditPolicy"), "accessScope": {"type": "namespace", "namespaces": ["apps"]}}),
        ("ListAssociatedAccessPolicies", "GET", f"{entry}/access-policies", {}, {}),
        ("ListAccessEntries", "GET", "clusters/shapes/access-entries", {"associatedPolicyArn": POLICY.format("AmazonEKSEditPolicy")}, {}),
        ("DisassociateAccessPolicy", "DELETE", f"{entry}/access-policies/<policy>", {}, {}),
        ("DeleteAccessEntry", "DELETE", entry, {}, {}),
        ("UpdateClusterConfig", "POST", "clusters/shapes/update-config", {}, {"accessConfig": {"authenticationMode": "API"}}),
        ("CreatePodIdentityAssociation", "POST", "clusters/shapes/pod-identity-associations", {},
         {"namespace": "apps", "serviceAccount": "reader", "roleArn": ROLE, "tags": {"team": "apps"},
          "targetRoleArn": "arn:aws:iam::210987654321:role/target", "policy": '{"Version": "2012-10-17", "Statement": []}'}),
        ("DescribePodIdentityAssociation", "GET", "clusters/shapes/pod-identity-associations/<id>", {}, {}),
        ("UpdatePodIdentityAssociation", "POST", "clusters/shapes/pod-identity-associations/<id>", {},
         {"roleArn": NODE_ROLE, "disableSessionTags": True, "targetRoleArn": ""}),
        ("ListPodIdentityAssociations", "GET", "clusters/shapes/pod-identity-associations", {"namespace": "apps"}, {}),
        ("DeletePodIdentityAssociation", "DELETE", "clusters/shapes/pod-identity-associations/<id>", {}, {}),
    ]
    answers = {}
    for operation, method, path, query, body in ops:
        path = path.replace("<id>", answers.get("CreatePodIdentityAssociation", {}).get("association", {}).get("associationId", ""))
        subst = {"<arn>": ROLE, "<policy>": POLICY.format("AmazonEKSEditPolicy")}
        parts = [subst.get(p, p) for p in path.split("/")]
        if operation == "UpdateClusterConfig":
            status, answers[operation] = 200, api.update_config(REGION, "shapes", query, body)
        else:
            status, answers[operation] = api.handle(method, parts, query, body, REGION)
        assert status == 200, (operation, answers[operation])
        _check(answers[operation], MODEL.operation_model(operation).output_shape, operation)
    assert answers["ListAccessPolicies"]["accessPolicies"][0]["arn"].startswith("arn:aws:eks::aws:cluster-access-policy/")
    assert answers["ListAccessEntries"]["accessEntries"] == [ROLE]
    assert answers["UpdateAccessEntry"]["accessEntry"]["username"] == "admin"
    created = answers["CreatePodIdentityAssociation"]["association"]
    assert len(created["associationId"]) == 19 and created["externalId"]
    updated = answers["UpdatePodIdentityAssociation"]["association"]
    assert updated["disableSessionTags"] is True and "targetRoleArn" not in updated and "externalId" not in updated

    errors = {"ResourceNotFoundException": ("GET", "clusters/shapes/access-entries/alice", {}),
              "InvalidParameterException": ("POST", "clusters/shapes/access-entries", {"principalArn": "alice"}),
              "ResourceInUseException": ("POST", "clusters/shapes/pod-identity-associations",
                                         {"namespace": "apps", "serviceAccount": "reader", "roleArn": ROLE})}
    api.handle("POST", ["clusters", "shapes", "pod-identity-associations"], {},
               {"namespace": "apps", "serviceAccount": "reader", "roleArn": ROLE}, REGION)
    _cluster(client, "shapes-cm")
    errors["InvalidRequestException"] = ("GET", "clusters/shapes-cm/access-entries", {})
    for code, (method, path, body) in errors.items():
        status, payload = api.handle(method, path.split("/"), {}, body, REGION)
        shape = MODEL.shape_for(code)
        assert status == shape.metadata["error"]["httpStatusCode"], code
        assert payload.pop("__type") == code
        _check(payload, shape, code)


def test_access_policies_are_the_managed_ones_paginated(served):
    client, _api = served
    pages = client.get_paginator("list_access_policies").paginate(PaginationConfig={"PageSize": 4})
    names = [p["name"] for page in pages for p in page["accessPolicies"]]
    assert {"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy"} <= set(names)
    assert len(names) == len(set(names)) == len(eks_access.POLICY_NAMES)


def test_authentication_mode_moves_only_forward_and_describe_cluster_reports_it(served):
    client, _api = served
    created = _cluster(client, "modes", nodes=True)
    assert created["accessConfig"] == {"authenticationMode": "CONFIG_MAP"}  # the API's default
    code, message, status = _error(client.list_access_entries, clusterName="modes")
    assert (code, status) == ("InvalidRequestException", 400)
    assert message == "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."
    assert _error(client.update_cluster_config, name="modes", accessConfig={"authenticationMode": "CONFIG_MAP"})[:2] == (
        "InvalidParameterException", "Unsupported authentication mode update from CONFIG_MAP to CONFIG_MAP")
    assert _error(client.update_cluster_config, name="modes", accessConfig={"authenticationMode": "API"},
                  logging={"clusterLogging": []})[:2] == ("InvalidParameterException", "Only one type of update can be allowed.")

    update = client.update_cluster_config(name="modes", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})["update"]
    assert (update["type"], update["status"], update["params"]) == (
        "AccessConfigUpdate", "InProgress", [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}])
    assert client.describe_update(name="modes", updateId=update["id"])["update"]["status"] == "Successful"
    cluster = client.describe_cluster(name="modes")["cluster"]
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP" and cluster["status"] == "ACTIVE"
    # EKS gives the managed node group's role its entry when access entries are turned on
    node = client.describe_access_entry(clusterName="modes", principalArn=NODE_ROLE)["accessEntry"]
    assert (node["type"], node["kubernetesGroups"], node["username"]) == ("EC2_LINUX", ["system:nodes"], "system:node:{{EC2PrivateDNSName}}")

    code, message, status = _error(client.update_cluster_config, name="modes", accessConfig={"authenticationMode": "CONFIG_MAP"})
    assert (code, message, status) == ("InvalidParameterException", "Unsupported authentication mode update from API_AND_CONFIG_MAP "
                                       "to CONFIG_MAP", 400)
    client.update_cluster_config(name="modes", accessConfig={"authenticationMode": "API"})
    for back in ("API_AND_CONFIG_MAP", "CONFIG_MAP"):
        assert _error(client.update_cluster_config, name="modes", accessConfig={"authenticationMode": back})[0] == "InvalidParameterException"
    assert client.describe_cluster(name="modes")["cluster"]["accessConfig"]["authenticationMode"] == "API"
    assert _error(client.describe_cluster, name="nope")[0] == "ResourceNotFoundException"


def test_access_entry_lifecycle_through_boto3(served):
    client, _api = served
    _cluster(client, "entries", "API")
    entry = client.create_access_entry(clusterName="entries", principalArn=ROLE, kubernetesGroups=["viewers"],
                                       tags={"nodeless.eks/owner": "t"})["accessEntry"]
    assert entry["type"] == "STANDARD" and entry["username"] == "arn:aws:sts::123456789012:assumed-role/admin/{{SessionName}}"
    assert entry["accessEntryArn"].startswith("arn:aws:eks:us-west-2:123456789012:access-entry/entries/role/123456789012/admin/")
    assert client.create_access_entry(clusterName="entries", principalArn=USER)["accessEntry"]["username"] == USER
    code, message, status = _error(client.create_access_entry, clusterName="entries", principalArn=ROLE)
    assert (code, status) == ("ResourceInUseException", 409) and "already in use" in message
    scope = {"type": "namespace", "namespaces": ["apps", "web"]}
    client.associate_access_policy(clusterName="entries", principalArn=ROLE, policyArn=POLICY.format("AmazonEKSViewPolicy"),
                                   accessScope=scope)
    again = client.associate_access_policy(clusterName="entries", principalArn=ROLE, policyArn=POLICY.format("AmazonEKSViewPolicy"),
                                           accessScope={"type": "cluster"})["associatedAccessPolicy"]
    assert again["accessScope"] == {"type": "cluster", "namespaces": []}  # associating again replaces the scope
    listed = client.list_associated_access_policies(clusterName="entries", principalArn=ROLE)["associatedAccessPolicies"]
    assert [p["policyArn"] for p in listed] == [POLICY.format("AmazonEKSViewPolicy")]
    pages = client.get_paginator("list_access_entries").paginate(clusterName="entries", PaginationConfig={"PageSize": 1})
    assert sorted(a for page in pages for a in page["accessEntries"]) == sorted([ROLE, USER])
    assert client.describe_access_entry(clusterName="entries", principalArn=ROLE)["accessEntry"]["tags"] == {"nodeless.eks/owner": "t"}
    client.delete_access_entry(clusterName="entries", principalArn=ROLE)
    assert _error(client.describe_access_entry, clusterName="entries", principalArn=ROLE)[0] == "ResourceNotFoundException"
    assert client.list_access_entries(clusterName="entries")["accessEntries"] == [USER]
    client.delete_cluster(name="entries")  # its entries go with it
    _cluster(client, "entries", "API")
    assert client.list_access_entries(clusterName="entries")["accessEntries"] == []


@pytest.mark.parametrize("call,kwargs,code,text", [
    ("create_access_entry", {"principalArn": "arn:aws:iam::123456789012:group/admins"}, "InvalidParameterException", "not a valid IAM role"),
    ("create_access_entry", {"principalArn": ROLE, "kubernetesGroups": ["system:masters"]}, "InvalidParameterException",
     "can't start with system:"),
    ("create_access_entry", {"principalArn": ROLE, "username": "system:admin"}, "InvalidParameterException", "username"),
    ("create_access_entry", {"principalArn": ROLE, "type": "EC2_LINUX", "kubernetesGroups": ["nodes"]}, "InvalidParameterException",
     "can't be specified for access entries of type EC2_LINUX"),
    ("create_access_entry", {"principalArn": "arn:aws:iam::123456789012:user/bob", "type": "FARGATE_LINUX"}, "InvalidParameterException", "not a user"),
    ("create_access_entry", {"principalArn": ROLE, "type": "LINUX"}, "InvalidParameterException", "not one of"),
    ("associate_access_policy", {"principalArn": NODE_ROLE, "policyArn": POLICY.format("AmazonEKSViewPolicy"),
                                 "accessScope": {"type": "cluster"}}, "InvalidParameterException", "only STANDARD"),
    ("associate_access_policy", {"principalArn": USER, "policyArn": POLICY.format("AmazonEKSReadOnlyPolicy"),
                                 "accessScope": {"type": "cluster"}}, "InvalidParameterException", "not a valid EKS access policy"),
    ("associate_access_policy", {"principalArn": USER, "policyArn": POLICY.format("AmazonEKSViewPolicy"),
                                 "accessScope": {"type": "namespace"}}, "InvalidParameterException", "Namespaces must be specified"),
    ("associate_access_policy", {"principalArn": USER, "policyArn": POLICY.format("AmazonEKSViewPolicy"),
                                 "accessScope": {"type": "cluster", "namespaces": ["apps"]}}, "InvalidParameterException",
     "can't be specified for an access scope of type cluster"),
    ("disassociate_access_policy", {"principalArn": USER, "policyArn": POLICY.format("AmazonEKSViewPolicy")},
     "ResourceNotFoundException", "not associated"),
    ("update_access_entry", {"principalArn": NODE_ROLE, "kubernetesGroups": ["x"]}, "InvalidParameterException", "EC2_LINUX"),
])
def test_bad_access_requests_are_refused_and_change_nothing(served, call, kwargs, code, text):
    client, api = served
    if ("us-west-2", "refusals") not in api.access_config:
        _cluster(client, "refusals", "API")
        client.create_access_entry(clusterName="refusals", principalArn=USER)
        client.create_access_entry(clusterName="refusals", principalArn=NODE_ROLE, type="EC2_LINUX")
    before = {arn: dict(e, policies=dict(e["policies"])) for arn, e in api.entries[("us-west-2", "refusals")].items()}
    got, message, _status = _error(getattr(client, call), clusterName="refusals", **kwargs)
    assert got == code and text in message, message
    assert api.entries[("us-west-2", "refusals")] == before


def test_pod_identity_one_association_per_service_account_and_addon_owned_ones(served):
    client, api = served
    _cluster(client, "pods")
    made = client.create_pod_identity_association(clusterName="pods", namespace="apps", serviceAccount="reader",
                                                  roleArn=ROLE)["association"]
    assert made["associationArn"] == f"arn:aws:eks:us-west-2:123456789012:podidentityassociation/pods/{made['associationId']}"
    assert made["disableSessionTags"] is False and "ownerArn" not in made
    code, message, status = _error(client.create_pod_identity_association, clusterName="pods", namespace="apps",
                                   serviceAccount="reader", roleArn=NODE_ROLE)
    assert (code, message, status) == ("ResourceInUseException", f"Association already exists: {made['associationId']}", 409)
    addon = client.create_addon(clusterName="pods", addonName="aws-ebs-csi-driver", podIdentityAssociations=[
        {"serviceAccount": "ebs-csi-controller-sa", "roleArn": NODE_ROLE}])["addon"]
    code, _message, _status = _error(client.create_pod_identity_association, clusterName="pods", namespace="kube-system",
                                     serviceAccount="ebs-csi-controller-sa", roleArn=ROLE)
    assert code == "ResourceInUseException"  # the add-on's association counts
    listed = client.list_pod_identity_associations(clusterName="pods")["associations"]
    assert [(a["namespace"], a["serviceAccount"], a.get("ownerArn")) for a in listed] == [
        ("apps", "reader", None), ("kube-system", "ebs-csi-controller-sa", addon["addonArn"])]
    owned = listed[1]["associationId"]
    assert client.describe_pod_identity_association(clusterName="pods", associationId=owned)["association"]["ownerArn"] == addon["addonArn"]
    assert _error(client.delete_pod_identity_association, clusterName="pods", associationId=owned)[0] == "InvalidRequestException"
    only = client.list_pod_identity_associations(clusterName="pods", namespace="apps", serviceAccount="reader")["associations"]
    assert [a["associationId"] for a in only] == [made["associationId"]]
    updated = client.update_pod_identity_association(clusterName="pods", associationId=made["associationId"],
                                                     roleArn=NODE_ROLE)["association"]
    assert updated["roleArn"] == NODE_ROLE and updated["createdAt"] == made["createdAt"]
    gone = client.delete_pod_identity_association(clusterName="pods", associationId=made["associationId"])["association"]
    assert gone["associationId"] == made["associationId"]
    assert _error(client.describe_pod_identity_association, clusterName="pods",
                  associationId=made["associationId"])[0] == "ResourceNotFoundException"


@pytest.mark.parametrize("kwargs,text", [
    ({"namespace": "Apps", "serviceAccount": "reader", "roleArn": ROLE}, "namespace 'Apps' is not a valid"),
    ({"namespace": "apps", "serviceAccount": "reader_sa", "roleArn": ROLE}, "serviceAccount 'reader_sa' is not a valid"),
    ({"namespace": "apps", "serviceAccount": "reader", "roleArn": "arn:aws:iam::123456789012:user/alice"}, "not a valid IAM role ARN"),
    ({"namespace": "apps", "serviceAccount": "reader", "roleArn": "role/x"}, "roleArn role/x is not a valid IAM role ARN"),
])
def test_bad_associations_are_refused(served, kwargs, text):
    client, api = served
    if ("us-west-2", "pods-bad") not in api.access_config:
        _cluster(client, "pods-bad")
    code, message, _status = _error(client.create_pod_identity_association, clusterName="pods-bad", **kwargs)
    assert code == "InvalidParameterException" and text in message, message
    assert client.list_pod_identity_associations(clusterName="pods-bad")["associations"] == []
