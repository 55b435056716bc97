"""Snapshots of the lab's AWS account and cluster, to prove that a run wrote nothing.

`untouched()` is the check every bad-input and check-mode test uses: both snapshots equal before
and after, and no write call reached moto or the API server (counted, not inferred).
"""
from __future__ import annotations

import contextlib
import hashlib
import json

from . import labenv
from nodeless_lab.aws_server import is_write

# Kinds whose desired state (not status) is compared; nodes, leases, events and pods churn by design.
K8S_KINDS = (
    ("", "v1", "namespaces"), ("", "v1", "serviceaccounts"), ("", "v1", "configmaps"), ("", "v1", "secrets"),
    ("", "v1", "services"), ("apps", "v1", "deployments"), ("apps", "v1", "daemonsets"),
    ("rbac.authorization.k8s.io", "v1", "clusterroles"), ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "v1", "roles"), ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    ("scheduling.k8s.io", "v1", "priorityclasses"), ("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"),
    ("karpenter.sh", "v1", "nodepools"), ("karpenter.k8s.aws", "v1", "ec2nodeclasses"),
)
_SKIP_KEYS = ("status", "metadata.resourceVersion", "metadata.managedFields")


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def k8s_snapshot(extra_kinds: tuple = ()) -> dict:
    """{kind/namespace/name: digest of metadata (labels, annotations, uid) + desired state}."""
    from kubernetes import client
    from kubernetes.dynamic import DynamicClient

    dyn = DynamicClient(labenv.k8s_client())
    snap = {}
    for group, version, plural in K8S_KINDS + tuple(extra_kinds):
        path = f"/api/{version}/{plural}" if not group else f"/apis/{group}/{version}/{plural}"
        try:
            data = dyn.request("GET", path).to_dict()
        except client.exceptions.ApiException as exc:
            if exc.status == 404:  # kind not installed (yet)
                continue
            raise
        for item in data.get("items", []):
            meta = item.get("metadata", {})
            kept = {k: v for k, v in item.items() if k not in ("status", "metadata")}
            kept["metadata"] = {k: meta.get(k) for k in ("uid", "labels", "annotations", "ownerReferences", "finalizers")}
            if plural == "serviceaccounts":
                kept.pop("secrets", None)  # filled by controllers
            snap[f"{plural}/{meta.get('namespace', '')}/{meta['name']}"] = _digest(kept)
    return snap


def aws_snapshot() -> dict:
    """The lab account's state for every kind nodeless.eks writes (IAM, tags, SQS, EventBridge, EKS, Route 53)."""
    iam = labenv.boto3_client("iam")
    snap: dict = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            snap[f"iam:role/{name}"] = {
                "trust": role.get("AssumeRolePolicyDocument"),
                "attached": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
                "inline": sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]),
                "tags": iam.list_role_tags(RoleName=name).get("Tags", []),
                "max_session": role.get("MaxSessionDuration"),
                "boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
            }
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for pol in page["Policies"]:
            versions = iam.list_policy_versions(PolicyArn=pol["Arn"])["Versions"]
            snap[f"iam:policy/{pol['PolicyName']}"] = sorted((v["VersionId"], v["IsDefaultVersion"]) for v in versions)
    for prov in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        desc = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=prov["Arn"])
        snap[f"iam:oidc/{prov['Arn']}"] = {k: desc.get(k) for k in ("Url", "ClientIDList", "ThumbprintList", "Tags")}
    for page in iam.get_paginator("list_instance_profiles").paginate():
        for prof in page["InstanceProfiles"]:
            snap[f"iam:instance-profile/{prof['InstanceProfileName']}"] = sorted(r["RoleName"] for r in prof["Roles"])
    ec2 = labenv.boto3_client("ec2")
    tags: dict = {}
    for page in ec2.get_paginator("describe_tags").paginate():
        for tag in page["Tags"]:
            tags.setdefault(tag["ResourceId"], {})[tag["Key"]] = tag["Value"]
    snap.update({f"ec2:tags/{rid}": t for rid, t in tags.items()})
    asg = labenv.boto3_client("autoscaling")
    for page in asg.get_paginator("describe_auto_scaling_groups").paginate():
        for group in page["AutoScalingGroups"]:
            snap[f"autoscaling:{group['AutoScalingGroupName']}"] = sorted(
                (t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"])
    sqs = labenv.boto3_client("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        snap[f"sqs:{url.rsplit('/', 1)[1]}"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    events = labenv.boto3_client("events")
    for rule in events.list_rules()["Rules"]:
        snap[f"events:{rule['Name']}"] = {"pattern": rule.get("EventPattern"), "state": rule.get("State"),
                                          "targets": events.list_targets_by_rule(Rule=rule["Name"])["Targets"]}
    eks = labenv.boto3_client("eks")
    for cluster in eks.list_clusters()["clusters"]:
        for prof in eks.list_fargate_profiles(clusterName=cluster).get("fargateProfileNames", []):
            desc = eks.describe_fargate_profile(clusterName=cluster, fargateProfileName=prof)["fargateProfile"]
            snap[f"eks:fargate/{cluster}/{prof}"] = {k: desc.get(k) for k in ("selectors", "subnets", "podExecutionRoleArn")}
    r53 = labenv.boto3_client("route53")
    for zone in r53.list_hosted_zones()["HostedZones"]:
        snap[f"route53:{zone['Name']}"] = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    return json.loads(json.dumps(snap, sort_keys=True, default=str))


def aws_write_calls(calls: list[list]) -> list[list]:
    return [c for c in calls if is_write(c[1])]


@contextlib.contextmanager
def untouched():
    """Assert that the block changed nothing in AWS or the cluster and made no write call to either."""
    aws_before, k8s_before = aws_snapshot(), k8s_snapshot()
    labenv.aws_calls(reset=True)
    offset = labenv.k8s_writes()[0]
    yield
    aws_writes = aws_write_calls(labenv.aws_calls())
    k8s_events = labenv.k8s_writes(offset)[1]
    assert not aws_writes, f"AWS write calls were made: {aws_writes}"
    assert not k8s_events, "API server writes were made: " + ", ".join(
        f"{e['verb']} {e['objectRef'].get('resource')}/{e['objectRef'].get('name')}" for e in k8s_events)
    assert aws_snapshot() == aws_before, "the AWS account changed"
    assert k8s_snapshot() == k8s_before, "the cluster changed"
