"""The oidc_provider module's logic (module_utils/oidc_provider.py): the thumbprint and the update plan."""
import hashlib
import platform
import sys

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import oidc_provider

ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"


def test_thumbprint_is_sha1_of_the_top_certificate():
    chain = [b"leaf", b"intermediate", b"root"]
    assert oidc_provider.top_certificate_sha1(chain) == hashlib.sha1(b"root").hexdigest()
    with pytest.raises(ValueError):
        oidc_provider.top_certificate_sha1([])


def test_split_host_port():
    assert oidc_provider.split_host_port("https://127.0.0.1:6443") == ("127.0.0.1", 6443)
    assert oidc_provider.split_host_port(ISSUER) == ("oidc.eks.eu-west-1.amazonaws.com", 443)


def test_provider_update_without_thumbprints_invents_no_drift():
    current = {"client_ids": ["sts.amazonaws.com"], "thumbprints": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"], "tags": {"a": "1"}}
    plan = oidc_provider.provider_update(current, {"client_ids": ["sts.amazonaws.com"], "thumbprints": None, "tags": None})
    assert oidc_provider.update_is_empty(plan)


def test_provider_update_lists_each_change():
    current = {"client_ids": ["sts.amazonaws.com", "old"], "thumbprints": ["AA"], "tags": {"keep": "1", "drop": "x", "mod": "1"}}
    desired = {"client_ids": ["sts.amazonaws.com", "new"], "thumbprints": ["bb"], "tags": {"keep": "1", "mod": "2"}}
    plan = oidc_provider.provider_update(current, desired, purge_tags=True)
    assert plan == {"add_client_ids": ["new"], "remove_client_ids": ["old"], "thumbprints": ["bb"],
                    "set_tags": {"mod": "2"}, "remove_tags": ["drop"]}
    assert oidc_provider.provider_update(current, desired, purge_tags=False)["remove_tags"] == []
    same_case = oidc_provider.provider_update({"thumbprints": ["AA"]}, {"thumbprints": ["aa"]})
    assert same_case["thumbprints"] is None


def test_provider_tags_follow_amazon_aws_compare_aws_tags():
    # AWS-reserved aws:* tags are never purged; a number given for a tag is the text AWS holds.
    current = {"tags": {"aws:cloudformation:stack-name": "s", "team": "1", "old": "x"}}
    plan = oidc_provider.provider_update(current, {"tags": {"team": 1}}, purge_tags=True)
    assert (plan["set_tags"], plan["remove_tags"]) == ({}, ["old"])


@pytest.mark.parametrize("thumbprints, compute, readable, source", [
    (["a" * 40], False, True, "given"),
    (["a" * 40], False, False, "given"),
    (None, True, True, "computed"),
    (None, True, False, "iam"),
    (None, False, True, "iam"),
    ([], False, False, "iam"),
])
def test_thumbprint_source(thumbprints, compute, readable, source):
    assert oidc_provider.thumbprint_source(thumbprints, compute, readable) == source


def test_the_chain_is_readable_from_python_3_13():
    assert oidc_provider.chain_readable() is (sys.version_info >= (3, 13))


def test_without_the_public_chain_api_tls_chain_says_the_thumbprint_is_left_to_iam(monkeypatch):
    monkeypatch.setattr(oidc_provider, "chain_readable", lambda: False)
    with pytest.raises(ValueError) as err:
        oidc_provider.tls_chain("127.0.0.1", 1)  # refused before any connection
    assert str(err.value) == oidc_provider.left_to_iam()
    assert str(err.value).startswith(f"this Python ({platform.python_version()}) has no public way to read the issuer's "
                                     "certificate chain (ssl.SSLSocket.get_unverified_chain is public from Python 3.13), "
                                     "so the thumbprint is left to IAM")
