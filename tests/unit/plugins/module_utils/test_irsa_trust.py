"""IRSA trust (module_utils/irsa_trust.py): the provider ARN and a trust policy exact to one ServiceAccount."""
import json

from ansible_collections.nodeless.eks.plugins.module_utils import irsa_trust

ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
PROVIDER = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"


def test_trust_policy_is_exact_for_one_service_account():
    trust = irsa_trust.trust_policy(PROVIDER, ISSUER, "kube-system", "cluster-autoscaler")
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Federated": PROVIDER}
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Condition"] == {"StringEquals": {
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com"}}
    assert "*" not in json.dumps(trust)


def test_provider_arn_strips_the_scheme():
    assert irsa_trust.provider_arn("aws", "111122223333", ISSUER + "/") == PROVIDER
    assert irsa_trust.provider_arn("aws", "1", "https://127.0.0.1:6443") == "arn:aws:iam::1:oidc-provider/127.0.0.1:6443"
