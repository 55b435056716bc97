"""The lab's IAM token verifier and mapping (nodeless_lab/iam_authn.py) without a server: tokens presigned by botocore
as `aws eks get-token` does, checked for shape and signature; aws-auth mapping and username templates."""
from __future__ import annotations

import base64

import botocore.session
import pytest

from nodeless_lab import iam_authn

KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.set_credentials(KEY, SECRET)
    return session


def _url(token: str) -> str:
    raw = token[len(iam_authn.PREFIX):]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:4566"])
def test_a_presigned_token_verifies_for_its_cluster_only(endpoint):
    token = iam_authn.presign(_session(), "prod", "us-west-2", endpoint)
    url, query = iam_authn.parse(token, ("127.0.0.1:4566",))
    assert url.startswith("https://sts.us-west-2.amazonaws.com/" if endpoint is None else endpoint)
    assert query["X-Amz-Credential"].startswith(f"{KEY}/") and "x-k8s-aws-id" in query["X-Amz-SignedHeaders"]
    assert query["X-Amz-Signature"] in iam_authn.signature(SECRET, url, "prod")
    assert query["X-Amz-Signature"] not in iam_authn.signature(SECRET, url, "staging")
    assert query["X-Amz-Signature"] not in iam_authn.signature("other-secret", url, "prod")


@pytest.mark.parametrize(("change", "why"), [
    (lambda t: t.replace(iam_authn.PREFIX, "k8s-aws-v2."), "not a k8s-aws-v1 token"),
    (lambda t: iam_authn.token_for(_url(t).replace("sts.us-west-2.amazonaws.com", "sts.example.com")), "unexpected STS host"),
    (lambda t: iam_authn.token_for(_url(t).replace("GetCallerIdentity", "AssumeRole")), "not an STS GetCallerIdentity"),
    (lambda t: iam_authn.token_for(_url(t) + "&Extra=1"), "unexpected query parameters"),
    (lambda t: iam_authn.token_for(_url(t).replace("X-Amz-Date=20", "X-Amz-Date=19")), "token expired"),
])
def test_malformed_tokens_are_refused_with_why(change, why):
    token = change(iam_authn.presign(_session(), "prod", "us-west-2"))
    with pytest.raises(iam_authn.Denied, match=why):
        iam_authn.parse(token)


def test_canonical_arns_and_aws_auth_mapping():
    assert iam_authn.canonical("arn:aws:sts::123456789012:assumed-role/ops/alice@example.com") == (
        "arn:aws:iam::123456789012:role/ops", "alice@example.com")
    assert iam_authn.canonical("arn:aws:iam::123456789012:user/team/bob") == ("arn:aws:iam::123456789012:user/bob", "")
    identity = {"canonical": "arn:aws:iam::123456789012:role/ops", "session": "alice@example.com", "Account": "123456789012",
                "key": KEY}
    data = {"mapRoles": "- rolearn: arn:aws:iam::123456789012:role/team/ops\n  username: nope\n"  # a path matches nothing
                        "- rolearn: arn:aws:iam::123456789012:role/ops\n  username: ops:{{SessionName}}:{{AccountID}}\n"
                        "  groups: [ops]\n"}
    assert iam_authn.from_aws_auth(data, identity) == ("ops:alice-example.com:123456789012", ["ops"])
    assert iam_authn.from_aws_auth({"mapAccounts": "- '123456789012'\n"}, identity) == (identity["canonical"], [])
    assert iam_authn.from_aws_auth({}, identity) is None
    with pytest.raises(iam_authn.Denied, match="EC2PrivateDNSName"):
        iam_authn.render("system:node:{{EC2PrivateDNSName}}", identity)
