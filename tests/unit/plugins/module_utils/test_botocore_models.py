"""Sessions of one process share botocore's data loader per data path (module_utils/botocore_models.py): a client of a
new session reuses the service model an earlier one parsed (benchmarks/aws_clients.py measures what it saves)."""
from __future__ import annotations

import boto3
import botocore.session
import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import botocore_models as M


@pytest.fixture
def fresh(monkeypatch):
    """botocore as it is before any module shared its loader; restored after the test."""
    monkeypatch.setattr(botocore.session, "create_loader", botocore.session.create_loader)
    shared = getattr(botocore.session, M._SHARED, None)
    if shared is not None:  # an earlier test of this process shared them: start from the original again
        monkeypatch.setattr(botocore.session, "create_loader", shared["original"])
    monkeypatch.setattr(botocore.session, M._SHARED, None, raising=False)


def _loader(session: botocore.session.Session):
    return session.get_component("data_loader")


def test_new_sessions_share_one_loader_and_the_parsed_model(fresh, tmp_path):
    assert _loader(botocore.session.Session()) is not _loader(botocore.session.Session())  # botocore alone
    assert M.share_loaders() is True and M.share_loaders() is True  # idempotent
    first, second = botocore.session.Session(), botocore.session.Session()
    assert _loader(first) is _loader(second)
    model = _loader(first).load_service_model("eks", "service-2")
    assert _loader(second).load_service_model("eks", "service-2") is model  # parsed once
    clients = [boto3.session.Session(botocore_session=s, region_name="us-west-2").client(
        "eks", aws_access_key_id="x", aws_secret_access_key="y") for s in (first, second)]
    assert clients[0].meta.service_model.operation_names == clients[1].meta.service_model.operation_names
    other = botocore.session.Session()
    other.set_config_variable("data_path", str(tmp_path))  # another AWS_DATA_PATH: a loader of its own
    assert _loader(other) is not _loader(first)
    assert str(tmp_path) in _loader(other).search_paths
