"""oidc_provider's thumbprint handling against botocore's Stubber: computed where this Python reads the issuer's chain
(3.13 and newer), left to IAM (no ThumbprintList sent, a warning, thumbprint_source=iam) where it cannot (3.11)."""
from __future__ import annotations

import hashlib

import pytest

from ansible_collections.nodeless.eks.plugins.modules import oidc_provider as module_code

ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
HOST = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
ARN = f"arn:aws:iam::111122223333:oidc-provider/{HOST}"
ROOT_SHA1 = hashlib.sha1(b"root").hexdigest()


class FakeModule:
    def __init__(self, **params):
        self.check_mode = False
        self.params = {"thumbprints": None, "compute_thumbprint": False, "issuer_validate_certs": True,
                       "client_ids": ["sts.amazonaws.com"], "tags": None, "purge_tags": True}
        self.params.update(params)
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def old_python(monkeypatch):
    """Python 3.11's ssl: no public way to read a peer's chain; any TLS read would be a bug."""
    monkeypatch.setattr(module_code, "chain_readable", lambda: False)
    monkeypatch.setattr(module_code, "tls_chain", lambda *args: pytest.fail("the chain was read"))


def _converge(module, client, current):
    want = module_code.desired_state(module, ISSUER)
    _before, after, changes = module_code.ensure_present(module, client, current, ISSUER, want)
    return want["thumbprint_source"], after, changes


def test_compute_thumbprint_where_the_chain_cannot_be_read_creates_without_one_and_says_so(iam, old_python):
    client, stub = iam
    stub.add_response("create_open_id_connect_provider", {"OpenIDConnectProviderArn": ARN},
                      {"Url": ISSUER, "ClientIDList": ["sts.amazonaws.com"]})  # exactly these: no ThumbprintList
    module = FakeModule(compute_thumbprint=True)
    source, after, changes = _converge(module, client, None)
    assert source == "iam"
    assert after == {"url": HOST, "client_ids": ["sts.amazonaws.com"], "thumbprints": [], "tags": {}, "arn": ARN}
    assert [(c["resource"], c["action"]) for c in changes] == [(f"aws:oidc-provider/{HOST}", "add")]
    assert module.warnings == [f"compute_thumbprint: {module_code.left_to_iam()}"]


def test_compute_thumbprint_where_the_chain_cannot_be_read_keeps_an_existing_providers_thumbprints(iam, old_python):
    client, _stub = iam  # no response stubbed: any write fails the test
    current = {"arn": ARN, "url": HOST, "client_ids": ["sts.amazonaws.com"], "thumbprints": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
               "tags": {}}
    module = FakeModule(compute_thumbprint=True)
    source, after, changes = _converge(module, client, current)
    assert (source, after, changes) == ("iam", current, [])
    assert len(module.warnings) == 1


def test_given_thumbprints_need_no_chain(iam, old_python):
    client, stub = iam
    stub.add_response("create_open_id_connect_provider", {"OpenIDConnectProviderArn": ARN},
                      {"Url": ISSUER, "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": ["a" * 40]})
    module = FakeModule(thumbprints=["a" * 40])
    source, after, _changes = _converge(module, client, None)
    assert (source, after["thumbprints"], module.warnings) == ("given", ["a" * 40], [])


def test_where_the_chain_can_be_read_the_top_certificate_is_the_thumbprint(iam, monkeypatch):
    client, stub = iam
    monkeypatch.setattr(module_code, "chain_readable", lambda: True)
    monkeypatch.setattr(module_code, "tls_chain", lambda host, port, validate: [b"leaf", b"root"])
    stub.add_response("create_open_id_connect_provider", {"OpenIDConnectProviderArn": ARN},
                      {"Url": ISSUER, "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": [ROOT_SHA1]})
    module = FakeModule(compute_thumbprint=True)
    source, after, _changes = _converge(module, client, None)
    assert (source, after["thumbprints"], module.warnings) == ("computed", [ROOT_SHA1], [])


def test_a_provider_another_run_created_after_the_read_is_converged_not_a_crash(iam, old_python):
    """Two jobs at once against one cluster: both read no provider, one creates it, the other's create is refused."""
    client, stub = iam
    stub.add_client_error("create_open_id_connect_provider", "EntityAlreadyExists", http_status_code=409)
    stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": ARN}]})
    stub.add_response("get_open_id_connect_provider", {"Url": HOST, "ClientIDList": ["sts.amazonaws.com"],
                                                       "ThumbprintList": ["a" * 40], "Tags": []}, {"OpenIDConnectProviderArn": ARN})
    module = FakeModule(thumbprints=["a" * 40])
    want = module_code.desired_state(module, ISSUER)
    before, after, changes = module_code.ensure_present(module, client, None, ISSUER, want)
    assert (before, changes) == (after, [])  # the other run made it as this one wants it: nothing to change
    assert after["arn"] == ARN and after["thumbprints"] == ["a" * 40]
    stub.assert_no_pending_responses()


def test_a_provider_created_meanwhile_but_not_listed_yet_fails_naming_the_url(iam, old_python):
    client, stub = iam
    stub.add_client_error("create_open_id_connect_provider", "EntityAlreadyExists", http_status_code=409)
    stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": []})
    module = FakeModule(thumbprints=["a" * 40])
    with pytest.raises(module_code.ProviderError, match=r"^url: IAM says a provider for .* run again$"):
        module_code.ensure_present(module, client, None, ISSUER, module_code.desired_state(module, ISSUER))
