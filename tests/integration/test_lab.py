"""Smoke tests that prove the lab is real: kwok nodes, real controllers, real RBAC, a real
service-account issuer that matches what moto's EKS says, and Karpenter's real CRDs."""
from __future__ import annotations

import json
import ssl
import time
import urllib.request
import uuid

import jwt
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from support import labenv

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def core(lab):
    return client.CoreV1Api(labenv.k8s_client())


@pytest.fixture
def namespace(core):
    name = f"smoke-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def test_kwok_nodes_are_ready_and_labelled_like_eks(core):
    nodes = core.list_node(label_selector="type=kwok").items
    assert len(nodes) >= 3
    for node in nodes:
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
        labels = node.metadata.labels
        assert labels["eks.amazonaws.com/nodegroup"] in ("system", "workers")
        assert labels["topology.kubernetes.io/zone"].startswith("us-west-2")
        assert labels["node.kubernetes.io/instance-type"].startswith("m5.")


def test_deployment_becomes_available(namespace):
    apps = client.AppsV1Api(labenv.k8s_client())
    labels = {"app": "smoke"}
    apps.create_namespaced_deployment(namespace, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="smoke"),
        spec=client.V1DeploymentSpec(replicas=2, selector=client.V1LabelSelector(match_labels=labels),
                                     template=client.V1PodTemplateSpec(
                                         metadata=client.V1ObjectMeta(labels=labels),
                                         spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")])))))
    deadline = time.monotonic() + 60
    available = 0
    while time.monotonic() < deadline:
        available = apps.read_namespaced_deployment_status("smoke", namespace).status.available_replicas or 0
        if available == 2:
            break
        time.sleep(0.5)
    assert available == 2, "the Deployment did not become Available: controllers, scheduler or kwok are not working"


def _token(core, namespace: str, sa: str, audience: str | None = None) -> str:
    """A bound token; without an audience the API server's own (what it accepts for its API)."""
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=sa)))
    audiences = [audience] if audience else []
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=audiences, expiration_seconds=600))
    return core.create_namespaced_service_account_token(sa, namespace, request).status.token


def test_service_account_without_bindings_is_forbidden_to_write(core, namespace, lab):
    token = _token(core, namespace, "nobody")
    config = client.Configuration()
    config.host = lab["api_endpoint"]
    config.ssl_ca_cert = lab["pki"]["ca"]
    config.api_key = {"BearerToken": token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    api = client.CoreV1Api(client.ApiClient(config))
    with pytest.raises(ApiException) as err:
        api.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x")))
    assert err.value.status == 403
    assert f"system:serviceaccount:{namespace}:nobody" in err.value.body


def test_token_issuer_matches_eks_describe_cluster_and_discovery(core, namespace, lab):
    issuer = labenv.boto3_client("eks").describe_cluster(name=lab["cluster_name"])["cluster"]["identity"]["oidc"]["issuer"]
    token = _token(core, namespace, "irsa-probe", "sts.amazonaws.com")
    ctx = ssl.create_default_context(cafile=lab["pki"]["ca"])  # anonymous, as AWS STS reads it
    discovery = json.loads(urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", context=ctx).read())
    assert discovery["issuer"] == issuer
    jwks = json.loads(urllib.request.urlopen(discovery["jwks_uri"], context=ctx).read())
    key = next(k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"])
    # As STS does: the signature checked with the published key, then the issuer and the audience.
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], issuer=issuer, audience="sts.amazonaws.com")
    assert claims["sub"] == f"system:serviceaccount:{namespace}:irsa-probe"
    assert claims["aud"] == ["sts.amazonaws.com"]


def test_karpenter_v1_crds_established_and_enforced(lab):
    ext = client.ApiextensionsV1Api(labenv.k8s_client())
    for name in ("nodepools.karpenter.sh", "nodeclaims.karpenter.sh", "ec2nodeclasses.karpenter.k8s.aws"):
        crd = ext.read_custom_resource_definition(name)
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
        assert "v1" in [v.name for v in crd.spec.versions if v.served]
    custom = client.CustomObjectsApi(labenv.k8s_client())
    body = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "no-class-ref"},
            "spec": {"template": {"spec": {"requirements": []}}}}
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object("karpenter.sh", "v1", "nodepools", body, dry_run="All")
    assert err.value.status == 422
    assert "nodeClassRef" in err.value.body


def test_lab_env_prints_only_what_a_playbook_needs(lab):
    from nodeless_lab import lab as lab_module

    assert set(lab_module.env(lab)) == {
        "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION",
        "NODELESS_EKS_CLUSTER_NAME", "NODELESS_EKS_REGION", "K8S_AUTH_KUBECONFIG", "KUBECONFIG", "PATH"}


def test_moto_counts_calls(lab):
    labenv.aws_calls(reset=True)
    labenv.boto3_client("eks").list_clusters()
    calls = labenv.aws_calls()
    assert calls == [["eks", "GET /clusters", 200]]
