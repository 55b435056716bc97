"""nodeless.eks.iam_managed_policies against the lab (moto): check mode predicts the real run, each policy is
read by its ARN (no ListPolicies), a re-run writes nothing, a real difference makes one new default version.

One lifecycle for the file (the ``life`` fixture): check -> create (and the re-run) -> the check of a change,
untouched -> the path refusal and the change, each module call with its own AWS calls
(``support.snapshots.with_call_log``); the tests read its results.
"""
from __future__ import annotations

import json

import pytest

from support import labenv
from support import playbook as runner
from support.snapshots import calls_by_task, read_after, untouched_run, with_call_log, writes_by_task

pytestmark = pytest.mark.lab

PREFIX = "it-pol-"
ACCOUNT = "123456789012"  # moto's account
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeTags"], "Resource": "*"}]}
ZONE_DOC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets", "Resource": "arn:aws:route53:::hostedzone/Z0123456789TEST"}]}
WIDER = dict(DOC, Statement=DOC["Statement"] + [{"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"}])
TAGS = {"nodeless.eks/cluster": "lab"}
TAKEN = f"{PREFIX}taken"  # a name that exists under /other/


def _task(name: str, policies: list, **args) -> dict:
    return {"name": name, "nodeless.eks.iam_managed_policies": dict(policies=policies, **args)}


def _play(tasks: list) -> list:
    return [{"name": "iam_managed_policies", "hosts": "lab", "gather_facts": False, "tasks": with_call_log(tasks)}]


def _two(**over) -> list:
    first = dict({"name": f"{PREFIX}ca", "document": DOC}, **over)
    return [first, {"name": f"{PREFIX}dns", "path": "/it/", "document": ZONE_DOC}]


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


def _default_document(iam, arn: str) -> dict:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def _live(iam, arn: str) -> dict:
    return {"document": _default_document(iam, arn), "description": iam.get_policy(PolicyArn=arn)["Policy"].get("Description"),
            "tags": {t["Key"]: t["Value"] for t in iam.list_policy_tags(PolicyArn=arn)["Tags"]},
            "versions": len(iam.list_policy_versions(PolicyArn=arn)["Versions"])}


def _run(plays: list, **kwargs):
    labenv.aws_calls(reset=True)
    return runner.run(plays, **kwargs)


@pytest.fixture(scope="module")
def life(lab):
    iam = labenv.boto3_client("iam")
    arns = [_arn("/", f"{PREFIX}ca"), _arn("/it/", f"{PREFIX}dns")]
    _delete_ours()
    out = {}
    try:
        out["check"], out["check_untouched"] = untouched_run(
            runner.run, _play([_task("two", _two(), tags=TAGS, description="it")]), check=True, diff=True)
        # The same documents spelled otherwise (JSON text, a single action as a string).
        respelled = _two(document=json.dumps({"Statement": [{"Resource": "*", "Action": "ec2:DescribeTags", "Effect": "Allow"}],
                                              "Version": "2012-10-17"}))
        out["create"] = _run(_play([_task("two", _two(), tags=TAGS, description="it"),
                                    _task("respelled", respelled, tags=TAGS, description="it"),
                                    _task("taken", [{"name": TAKEN, "path": "/other/", "document": DOC}])]), diff=True)
        out["created"] = read_after(out["create"], lambda: {arn: _live(iam, arn) for arn in arns})
        change = _task("wider", _two(document=WIDER), tags={"nodeless.eks/cluster": "b"}, purge_tags=True)
        out["plan"], out["plan_untouched"] = untouched_run(runner.run, _play([dict(change, check_mode=True, diff=True)]))
        # The refusal tries CreatePolicy (409: the name exists), so it is not in the untouched run.
        out["change"] = _run(_play([dict(_task("taken under /", [{"name": TAKEN, "document": DOC}]), ignore_errors=True), change]))
        out["taken"] = [(p["PolicyName"], p["Path"]) for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == TAKEN]
        out["changed"] = read_after(out["change"], lambda: {arn: _live(iam, arn) for arn in arns})
        yield out
    finally:
        _delete_ours()


def test_check_then_create_then_rerun_reads_by_arn_and_writes_nothing(life):
    check, create = life["check"], life["create"]
    assert check.rc == 0 and life["check_untouched"] is None, (check.failure_text(), life["check_untouched"])
    predicted = check.task("two")
    assert predicted["changes"] == [{"resource": f"aws:iam-policy/{PREFIX}ca", "action": "add"},
                                    {"resource": f"aws:iam-policy/it/{PREFIX}dns", "action": "add"}]
    assert [p["arn"] for p in predicted["policies"]] == [_arn("/", f"{PREFIX}ca"), _arn("/it/", f"{PREFIX}dns")]

    assert create.rc == 0, create.failure_text()
    writes = writes_by_task(create)
    assert create.task("two")["changes"] == predicted["changes"]
    assert writes["two"] == ["CreatePolicy", "CreatePolicy"]  # tags and description in the same call
    for path, name, doc in (("/", f"{PREFIX}ca", DOC), ("/it/", f"{PREFIX}dns", ZONE_DOC)):
        live = life["created"][_arn(path, name)]
        assert live["document"] == doc
        assert live["tags"] == TAGS
        assert live["description"] == "it"

    # The same documents spelled otherwise: no change, no write, and no ListPolicies: each policy is read by its ARN.
    assert create.task("respelled")["changed"] is False, create.task("respelled")["changes"]
    calls = [c[1] for c in calls_by_task(create)["respelled"]]
    assert writes["respelled"] == [] and "ListPolicies" not in calls
    assert calls.count("GetPolicy") == 2 and calls.count("GetPolicyVersion") == 2


def test_real_difference_makes_one_new_default_version_and_tags_follow(life):
    plan, change = life["plan"], life["change"]
    arn = _arn("/", f"{PREFIX}ca")
    assert plan.rc == 0 and life["plan_untouched"] is None, (plan.failure_text(), life["plan_untouched"])
    predicted = plan.task("wider")["changes"]
    assert predicted == [
        {"resource": f"aws:iam-policy/{PREFIX}ca", "action": "change", "detail": "document (new default version); tags"},
        {"resource": f"aws:iam-policy/it/{PREFIX}dns", "action": "change", "detail": "tags"}]

    assert change.rc == 0, change.failure_text()
    assert change.task("wider")["changes"] == predicted
    # the tag's new value b overwrites lab: one TagPolicy per policy, nothing to untag
    assert sorted(writes_by_task(change)["wider"]) == ["CreatePolicyVersion", "TagPolicy", "TagPolicy"]
    live = life["changed"][arn]
    assert live["document"] == WIDER
    assert live["versions"] == 2
    assert live["tags"] == {"nodeless.eks/cluster": "b"}


def test_a_name_taken_under_another_path_is_refused_naming_the_path(life):
    assert life["create"].task("taken")["changed"] is True
    refused = life["change"].task("taken under /")
    assert refused["failed"]
    assert f"policies[0].path: a policy named {TAKEN} exists under another path than /" in refused["msg"]
    assert life["taken"] == [(TAKEN, "/other/")]  # only the one under /other/
