"""nodeless.eks.iam_managed_policies against the lab (moto): check mode predicts the real run, each policy is
read by its ARN (no ListPolicies), a re-run writes nothing, a real difference makes one new default version."""
from __future__ import annotations

import json

import pytest

from support import labenv
from support.snapshots import run_counting_aws, untouched

pytestmark = pytest.mark.lab

PREFIX = "it-pol-"
ACCOUNT = "123456789012"  # moto's account
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeTags"], "Resource": "*"}]}
ZONE_DOC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets", "Resource": "arn:aws:route53:::hostedzone/Z0123456789TEST"}]}


def _task(policies: list, **args) -> list:
    task = {"name": "the policies", "register": "out", "nodeless.eks.iam_managed_policies": dict(policies=policies, **args)}
    return [{"name": "iam_managed_policies", "hosts": "lab", "gather_facts": False, "tasks": [task]}]


def _two(**over) -> list:
    first = dict({"name": f"{PREFIX}ca", "document": DOC}, **over)
    return [first, {"name": f"{PREFIX}dns", "path": "/it/", "document": ZONE_DOC}]


def _result(run) -> dict:
    return next(res for name, _host, res in run.tasks() if name == "the policies")


def _arn(path: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy{path}{name}"


def _delete_ours():
    iam = labenv.boto3_client("iam")
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        if policy["PolicyName"].startswith(PREFIX):
            for version in iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=policy["Arn"], VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=policy["Arn"])


@pytest.fixture
def iam(lab):
    _delete_ours()
    yield labenv.boto3_client("iam")
    _delete_ours()


def _default_document(iam, arn: str) -> dict:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def test_check_then_create_then_rerun_reads_by_arn_and_writes_nothing(iam, playbook):
    tags = {"nodeless.eks/cluster": "lab"}
    with untouched():
        check = playbook(_task(_two(), tags=tags, description="it"), check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    predicted = _result(check)
    assert predicted["changes"] == [{"resource": f"aws:iam-policy/{PREFIX}ca", "action": "add"},
                                    {"resource": f"aws:iam-policy/it/{PREFIX}dns", "action": "add"}]
    assert [p["arn"] for p in predicted["policies"]] == [_arn("/", f"{PREFIX}ca"), _arn("/it/", f"{PREFIX}dns")]

    real, writes, _calls = run_counting_aws(playbook, _task(_two(), tags=tags, description="it"), diff=True)
    assert real.rc == 0, real.failure_text()
    assert _result(real)["changes"] == predicted["changes"]
    assert [w[1] for w in writes] == ["CreatePolicy", "CreatePolicy"]  # tags and description in the same call
    for path, name, doc in (("/", f"{PREFIX}ca", DOC), ("/it/", f"{PREFIX}dns", ZONE_DOC)):
        arn = _arn(path, name)
        assert _default_document(iam, arn) == doc
        assert {t["Key"]: t["Value"] for t in iam.list_policy_tags(PolicyArn=arn)["Tags"]} == tags
        assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "it"

    # The same documents spelled otherwise (JSON text, a single action as a string): no change, no write,
    # and no ListPolicies: each policy is read by its ARN.
    respelled = _two(document=json.dumps({"Statement": [{"Resource": "*", "Action": "ec2:DescribeTags", "Effect": "Allow"}],
                                          "Version": "2012-10-17"}))
    again, writes, calls = run_counting_aws(playbook, _task(respelled, tags=tags, description="it"))
    assert again.rc == 0 and again.total_changed() == 0, again.changed()
    assert writes == [] and "ListPolicies" not in calls
    assert calls.count("GetPolicy") == 2 and calls.count("GetPolicyVersion") == 2


def test_real_difference_makes_one_new_default_version_and_tags_follow(iam, playbook):
    assert playbook(_task(_two(), tags={"team": "a"})).rc == 0
    arn = _arn("/", f"{PREFIX}ca")
    wider = dict(DOC, Statement=DOC["Statement"] + [{"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"}])
    with untouched():
        check = playbook(_task(_two(document=wider), tags={"team": "b"}, purge_tags=True), check=True, diff=True)
    assert check.rc == 0, check.failure_text()
    predicted = _result(check)["changes"]
    assert predicted == [
        {"resource": f"aws:iam-policy/{PREFIX}ca", "action": "change", "detail": "document (new default version); tags"},
        {"resource": f"aws:iam-policy/it/{PREFIX}dns", "action": "change", "detail": "tags"}]

    real, writes, _calls = run_counting_aws(playbook, _task(_two(document=wider), tags={"team": "b"}, purge_tags=True))
    assert real.rc == 0, real.failure_text()
    assert _result(real)["changes"] == predicted
    assert sorted(w[1] for w in writes) == ["CreatePolicyVersion", "TagPolicy", "TagPolicy"]  # team=b overwrites team=a
    assert _default_document(iam, arn) == wider
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 2
    assert {t["Key"]: t["Value"] for t in iam.list_policy_tags(PolicyArn=arn)["Tags"]} == {"team": "b"}


def test_a_name_taken_under_another_path_is_refused_naming_the_path(iam, playbook):
    assert playbook(_task([{"name": f"{PREFIX}ca", "path": "/other/", "document": DOC}])).rc == 0
    run, writes, _calls = run_counting_aws(playbook, _task([{"name": f"{PREFIX}ca", "document": DOC}]))
    assert run.rc != 0
    assert f"policies[0].path: a policy named {PREFIX}ca exists under another path than /" in run.failure_text()
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local", PathPrefix="/")["Policies"]
            if p["PolicyName"].startswith(PREFIX)] == [f"{PREFIX}ca"]  # only the one under /other/
