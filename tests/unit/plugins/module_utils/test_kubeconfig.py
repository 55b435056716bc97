import base64
import json

import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.module_utils import kubeconfig as kc


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _jwt(claims: dict) -> str:
    return f"{_b64({'alg': 'RS256'})}.{_b64(claims)}.c2ln"


def test_expiry_is_read_from_the_exp_claim():
    assert kc.token_expiry(_jwt({"exp": 2000, "sub": "system:serviceaccount:a:b"})) == 2000
    assert kc.token_subject(_jwt({"sub": "system:serviceaccount:a:b"})) == "system:serviceaccount:a:b"


def test_legacy_tokens_without_exp_never_expire():
    assert kc.token_expiry(_jwt({"sub": "x"})) is None
    assert not kc.needs_renewal(_jwt({"sub": "x"}), 3600, now=10 ** 10)


@pytest.mark.parametrize("exp,now,margin,renew", [
    (10_000, 5_000, 3600, False),   # 5000 s left, margin 3600
    (10_000, 6_400, 3600, True),    # exactly at the margin
    (10_000, 9_000, 3600, True),    # inside the margin
    (10_000, 11_000, 0, True),      # expired
])
def test_renewal_margin(exp, now, margin, renew):
    assert kc.needs_renewal(_jwt({"exp": exp}), margin, now) is renew


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c", "a.bnVsbA.c"])
def test_missing_or_garbled_tokens_are_renewed(token):
    assert kc.needs_renewal(token, 60, now=0)


@pytest.mark.parametrize("value,ok", [(600, 600), ("3600", 3600), (86400, 86400)])
def test_expiration_accepts_numbers_from_600(value, ok):
    assert kc.check_expiration(value) == ok


@pytest.mark.parametrize("value,words", [(599, "below the TokenRequest API minimum of 600"), ("ten", "must be a number"),
                                         (None, "must be a number"), (True, "must be a number")])
def test_expiration_rejects_bad_values_naming_the_field(value, words):
    with pytest.raises(ValueError) as err:
        kc.check_expiration(value, "kubeconfig_token_expiration")
    assert str(err.value).startswith("kubeconfig_token_expiration:") and words in str(err.value)


def test_token_kubeconfig_round_trips_its_token():
    doc = kc.token_kubeconfig("lab", "https://api", "Q0E=", "tok", namespace="ci")
    assert doc["clusters"][0]["cluster"] == {"server": "https://api", "certificate-authority-data": "Q0E="}
    assert doc["contexts"][0]["context"] == {"cluster": "lab", "user": "lab", "namespace": "ci"}
    assert kc.kubeconfig_token(yaml.safe_load(kc.render(doc))) == "tok"


def test_endpoint_without_ca_needs_insecure():
    with pytest.raises(ValueError, match="^ca_data:"):
        kc.token_kubeconfig("lab", "https://api", None, "tok")
    doc = kc.token_kubeconfig("lab", "https://api", None, "tok", insecure=True)
    assert doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True


def test_exec_kubeconfig_runs_aws_eks_get_token_with_role_and_profile():
    doc = kc.exec_kubeconfig("prod", "https://api", "Q0E=", "prod", "eu-west-1",
                             role_arn="arn:aws:iam::123456789012:role/admins", profile="ops")
    ex = doc["users"][0]["user"]["exec"]
    assert ex["apiVersion"] == "client.authentication.k8s.io/v1beta1" and ex["command"] == "aws"
    assert ex["args"] == ["--region", "eu-west-1", "eks", "get-token", "--cluster-name", "prod", "--output", "json",
                          "--role-arn", "arn:aws:iam::123456789012:role/admins"]
    assert ex["env"] == [{"name": "AWS_PROFILE", "value": "ops"}]
    assert kc.kubeconfig_token(doc) is None


def test_exec_kubeconfig_rejects_a_non_role_arn():
    with pytest.raises(ValueError, match="^role_arn:"):
        kc.exec_kubeconfig("p", "https://api", "Q0E=", "p", "eu-west-1", role_arn="arn:aws:iam::123456789012:user/bob")


def test_build_picks_the_mode_and_render_is_stable():
    settings = {"name": "lab", "server": "https://api", "ca_data": "Q0E=", "token": "tok"}
    assert kc.render(kc.build(settings)) == kc.render(kc.build(dict(settings)))
    assert "exec" in kc.build(dict(settings, exec={"cluster_name": "lab", "region": "us-west-2"}))["users"][0]["user"]
    with pytest.raises(ValueError, match="^token:"):
        kc.build({"server": "https://api", "ca_data": "Q0E="})


@pytest.mark.parametrize("doc", [None, {}, {"current-context": "x"}, {"users": "bad"}])
def test_kubeconfig_token_of_odd_documents_is_none(doc):
    assert kc.kubeconfig_token(doc) is None


def _jwt(claims: dict) -> str:
    import base64 as b64
    import json as js

    body = b64.urlsafe_b64encode(js.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


def test_a_token_is_usable_only_for_the_account_uid_it_names():
    from ansible_collections.nodeless.eks.plugins.module_utils.kubeconfig import issued_for, token_account_uid

    bound = _jwt({"sub": "system:serviceaccount:p:a", "kubernetes.io": {"serviceaccount": {"name": "a", "uid": "u-1"}}})
    legacy = _jwt({"sub": "system:serviceaccount:p:a", "kubernetes.io/serviceaccount/service-account.uid": "u-2"})
    assert token_account_uid(bound) == "u-1" and token_account_uid(legacy) == "u-2"
    assert issued_for(bound, "u-1") is True
    assert issued_for(bound, "u-9") is False  # the account was recreated, or it is another cluster's
    assert issued_for(bound, None) is False  # the account does not exist (yet)
    assert issued_for(None, "u-1") is False
    assert issued_for("not-a-jwt", "u-1") is False
