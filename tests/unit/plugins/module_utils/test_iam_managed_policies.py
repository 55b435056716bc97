"""Customer managed policies: the pure logic (module_utils/iam_managed_policies.py), then the module's calls against botocore's Stubber."""
import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.nodeless.eks.plugins.module_utils import iam_managed_policies as P
from ansible_collections.nodeless.eks.plugins.modules import iam_managed_policies as module_file

ACCOUNT = "123456789012"
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeTags"], "Resource": "*"}]}
# The same policy as IAM may spell it back: a single action as a string, keys in another order.
SAME_DOC = {"Statement": [{"Resource": "*", "Action": "ec2:DescribeTags", "Effect": "Allow"}], "Version": "2012-10-17"}
OTHER_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"}]}
ARN = f"arn:aws:iam::{ACCOUNT}:policy/lab-ca"


def want(**over):
    entry = dict({"name": "lab-ca", "document": DOC}, **over)
    return P.desired_policies([entry], "IRSA policy")[0]


def current(document=None, tags=None, description="IRSA policy"):
    return {"arn": ARN, "description": description, "document": document or DOC, "tags": tags or {}}


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, message", [
    ({"name": "bad name", "document": DOC}, "policies[0].name: 'bad name' is not an IAM policy name"),
    ({"name": "x" * 129, "document": DOC}, "policies[0].name:"),
    ({"name": "p", "document": DOC, "path": "no-slash"}, "policies[0].path:"),
    ({"name": "p", "document": "{not json"}, "policies[0].document: not valid JSON"),
    ({"name": "p", "document": ["a"]}, "policies[0].document: must be a JSON object"),
    ({"name": "p", "document": {"Version": "2012-10-17"}}, "policies[0].document: a policy document needs a Statement"),
    ({"name": "p", "document": dict(DOC, Statement=[{"Effect": "Allow", "Action": "s3:" + "x" * 7000, "Resource": "*"}])},
     "policies[0].document: 70"),
    ({"name": "p", "document": DOC, "tags": {}}, "policies[0].tags: unknown key"),
    ("p", "policies[0]: must be a dictionary"),
])
def test_bad_entries_name_their_field(entry, message):
    with pytest.raises(P.InputError) as err:
        P.desired_policies([entry])
    assert str(err.value).startswith(message)


def test_duplicate_names_are_refused_whatever_the_path():
    with pytest.raises(P.InputError, match=r"policies\[1\]\.name: 'p' is already listed at policies\[0\]"):
        P.desired_policies([{"name": "p", "document": DOC}, {"name": "p", "path": "/x/", "document": DOC}])


def test_entries_take_defaults_and_json_text():
    got = P.desired_policies([{"name": "p", "document": json.dumps(DOC)}, {"name": "q", "path": "/x/", "document": DOC, "description": "own"}], "shared")
    assert [(w["key"], w["document"], w["description"]) for w in got] == [("/p", DOC, "shared"), ("/x/q", DOC, "own")]
    assert P.policy_arn("aws-cn", ACCOUNT, "/x/", "q") == f"arn:aws-cn:iam::{ACCOUNT}:policy/x/q"


# --- planning ---------------------------------------------------------------------------------

def test_same_document_in_another_spelling_is_no_change():
    steps = P.plan(current(SAME_DOC, tags={"team": "a"}), want(), {"team": "a"}, False)
    assert P.is_noop(steps) and P.changes(want(), steps) == []


def test_new_policy_is_an_add_with_its_tags():
    steps = P.plan(None, want(), {"team": "a"}, False)
    assert steps == {"create": True, "new_version": False, "set_tags": {"team": "a"}, "unset_tags": []}
    assert P.changes(want(), steps) == [{"resource": "aws:iam-policy/lab-ca", "action": "add"}]
    assert P.after(None, want(), steps, ARN)["tags"] == {"team": "a"}


def test_real_difference_and_tags_make_one_change_entry():
    steps = P.plan(current(OTHER_DOC, tags={"old": "1", "aws:x": "k"}), want(), {"team": "a"}, True)
    assert steps["new_version"] and steps["set_tags"] == {"team": "a"} and steps["unset_tags"] == ["old"]
    assert P.changes(want(), steps) == [{"resource": "aws:iam-policy/lab-ca", "action": "change",
                                         "detail": "document (new default version); tags"}]
    assert P.after(current(OTHER_DOC, tags={"old": "1", "aws:x": "k"}), want(), steps, ARN)["tags"] == {"aws:x": "k", "team": "a"}


def test_tags_left_alone_when_not_given_or_not_purged():
    assert P.tag_steps({"a": "1"}, None, True) == ({}, [])
    assert P.tag_steps({"a": "1"}, {"b": 2}, False) == ({"b": "2"}, [])


def test_oldest_non_default_version_makes_room_only_when_five_exist():
    versions = [{"VersionId": f"v{n}", "IsDefaultVersion": n == 1, "CreateDate": f"2026-01-0{n}"} for n in range(1, 6)]
    assert P.version_to_delete(versions) == "v2"
    assert P.version_to_delete(versions[:4]) is None


def test_description_cannot_change_so_it_is_warned():
    assert P.description_warning(current(description="old"), want()).startswith("policies[0].description: policy lab-ca keeps")
    assert P.description_warning(current(), want()) is None and P.description_warning(None, want()) is None


# --- the module's calls (botocore Stubber) ----------------------------------------------------

def _stubbed(service):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


@pytest.fixture
def aws(monkeypatch):
    """(iam stubber, sts stubber) behind AnsibleAWSModule.client; any call not stubbed fails the test."""
    iam_client, iam_stub = _stubbed("iam")
    sts_client, sts_stub = _stubbed("sts")
    retry = AWSRetry.jittered_backoff(retries=1)
    clients = {"iam": RetryingBotoClientWrapper(iam_client, retry), "sts": RetryingBotoClientWrapper(sts_client, retry)}
    monkeypatch.setattr(module_file.AnsibleAWSModule, "client", lambda self, service, retry_decorator=None: clients[service])
    sts_stub.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "UserId": "AIDA"})
    with iam_stub, sts_stub:
        yield iam_stub, sts_stub
        iam_stub.assert_no_pending_responses()


def _policy(tags=None):
    return {"Policy": {"PolicyName": "lab-ca", "Arn": ARN, "DefaultVersionId": "v3", "Description": "IRSA policy",
                       "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}}


def _run_main(args, capsys, check_mode=False):
    with patch_module_args(dict({"region": "us-east-1", "_ansible_check_mode": check_mode}, **args)):
        with pytest.raises(SystemExit):
            module_file.main()
    return json.loads(capsys.readouterr().out)


def test_main_reads_by_arn_and_writes_nothing_when_equal(aws, capsys):
    iam_stub, _sts = aws
    iam_stub.add_response("get_policy", _policy({"team": "a"}), {"PolicyArn": ARN})
    iam_stub.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(SAME_DOC), "VersionId": "v3"}},
                          {"PolicyArn": ARN, "VersionId": "v3"})
    out = _run_main({"policies": [{"name": "lab-ca", "document": DOC}], "description": "IRSA policy", "tags": {"team": "a"}}, capsys)
    assert out["changed"] is False and out["changes"] == [] and out["policies"][0]["arn"] == ARN


def test_main_makes_room_for_a_new_default_version(aws, capsys):
    iam_stub, _sts = aws
    iam_stub.add_response("get_policy", _policy(), {"PolicyArn": ARN})
    iam_stub.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(OTHER_DOC), "VersionId": "v3"}},
                          {"PolicyArn": ARN, "VersionId": "v3"})
    versions = [{"VersionId": f"v{n}", "IsDefaultVersion": n == 3, "CreateDate": f"2026-01-0{n}T00:00:00Z"} for n in range(1, 6)]
    iam_stub.add_response("list_policy_versions", {"Versions": versions}, {"PolicyArn": ARN})
    iam_stub.add_response("delete_policy_version", {}, {"PolicyArn": ARN, "VersionId": "v1"})
    iam_stub.add_response("create_policy_version", {"PolicyVersion": {"VersionId": "v6"}},
                          {"PolicyArn": ARN, "PolicyDocument": json.dumps(DOC), "SetAsDefault": True})
    out = _run_main({"policies": [{"name": "lab-ca", "document": DOC}]}, capsys)
    assert out["changed"] is True and out["changes"][0]["action"] == "change"
    assert out["diff"]["before"]["/lab-ca"]["document"] == OTHER_DOC and out["diff"]["after"]["/lab-ca"]["document"] == DOC


def test_main_check_mode_predicts_the_add_without_writing(aws, capsys):
    iam_stub, _sts = aws
    iam_stub.add_client_error("get_policy", service_error_code="NoSuchEntity", http_status_code=404)
    out = _run_main({"policies": [{"name": "lab-ca", "document": DOC}], "tags": {"team": "a"}}, capsys, check_mode=True)
    assert out["changed"] is True and out["changes"] == [{"resource": "aws:iam-policy/lab-ca", "action": "add"}]
    assert out["policies"][0]["arn"] == ARN and out["diff"]["before"] == {}


def test_main_names_a_policy_taken_under_another_path(aws, capsys):
    iam_stub, _sts = aws
    iam_stub.add_client_error("get_policy", service_error_code="NoSuchEntity", http_status_code=404)
    iam_stub.add_client_error("create_policy", service_error_code="EntityAlreadyExists", http_status_code=409)
    out = _run_main({"policies": [{"name": "lab-ca", "document": DOC}]}, capsys)
    assert out["failed"] and out["msg"].startswith("policies[0].path: a policy named lab-ca exists under another path")


def test_main_turns_aws_errors_into_one_failure(aws, capsys):
    iam_stub, _sts = aws
    iam_stub.add_client_error("get_policy", service_error_code="AccessDenied", http_status_code=403)
    out = _run_main({"policies": [{"name": "lab-ca", "document": DOC}]}, capsys)
    assert out["failed"] and "Failed to read the policy" in out["msg"] and out["error"]["code"] == "AccessDenied"


def test_main_fails_on_bad_input_before_any_client(monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("no AWS client may be made for bad input")
    monkeypatch.setattr(module_file.AnsibleAWSModule, "client", no_client)
    out = _run_main({"policies": [{"name": "ok", "document": DOC}, {"name": "ok", "document": DOC}]}, capsys)
    assert out["failed"] and out["msg"].startswith("policies[1].name:")


def test_a_stated_account_needs_no_caller_identity_call(monkeypatch, capsys):
    iam_client, iam_stub = _stubbed("iam")
    clients = {"iam": RetryingBotoClientWrapper(iam_client, AWSRetry.jittered_backoff(retries=1))}
    # Only an IAM client exists: asking for STS would fail the test with a KeyError.
    monkeypatch.setattr(module_file.AnsibleAWSModule, "client", lambda self, service, retry_decorator=None: clients[service])
    gov_arn = ARN.replace("arn:aws:", "arn:aws-us-gov:")
    iam_stub.add_client_error("get_policy", service_error_code="NoSuchEntity", http_status_code=404,
                              expected_params={"PolicyArn": gov_arn})
    with iam_stub:
        out = _run_main({"policies": [{"name": "lab-ca", "document": DOC}], "account_id": ACCOUNT,
                         "partition": "aws-us-gov"}, capsys, check_mode=True)
        iam_stub.assert_no_pending_responses()
    assert out["changed"] is True and out["policies"][0]["arn"] == gov_arn


@pytest.mark.parametrize("account_id, partition, field", [("12345", "aws", "account_id"), (ACCOUNT, "azure", "partition")])
def test_a_bad_stated_account_or_partition_is_named(account_id, partition, field):
    with pytest.raises(P.InputError, match=f"^{field}: "):
        P.account_of(account_id, partition)
    assert P.account_of(None, "aws") is None
