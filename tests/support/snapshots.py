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

    dyn = labenv.dynamic_client()
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
    """The lab account's state for every kind nodeless.eks writes (IAM, tags, SQS, EventBridge, EKS with its add-ons, access
    entries and Pod Identity associations, Route 53)."""
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
        for name in eks.list_addons(clusterName=cluster).get("addons", []):  # the lab's add-on emulation
            desc = eks.describe_addon(clusterName=cluster, addonName=name)["addon"]
            snap[f"eks:addon/{cluster}/{name}"] = {k: desc.get(k) for k in ("addonVersion", "configurationValues", "serviceAccountRoleArn")}
        # the lab's access-entry and Pod Identity emulation
        mode = (eks.describe_cluster(name=cluster)["cluster"].get("accessConfig") or {}).get("authenticationMode")
        snap[f"eks:authentication-mode/{cluster}"] = mode
        for page in eks.get_paginator("list_access_entries").paginate(clusterName=cluster) if mode != "CONFIG_MAP" else []:
            for arn in page["accessEntries"]:
                desc = eks.describe_access_entry(clusterName=cluster, principalArn=arn)["accessEntry"]
                policies = eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)["associatedAccessPolicies"]
                snap[f"eks:access-entry/{cluster}/{arn}"] = {
                    "entry": {k: desc.get(k) for k in ("type", "kubernetesGroups", "username", "tags")},
                    "policies": sorted((p["policyArn"], json.dumps(p["accessScope"], sort_keys=True)) for p in policies)}
        for page in eks.get_paginator("list_pod_identity_associations").paginate(clusterName=cluster):
            for assoc in page["associations"]:
                desc = eks.describe_pod_identity_association(clusterName=cluster, associationId=assoc["associationId"])["association"]
                snap[f"eks:pod-identity/{cluster}/{desc['namespace']}/{desc['serviceAccount']}"] = {
                    k: desc.get(k) for k in ("roleArn", "disableSessionTags", "ownerArn")}
    r53 = labenv.boto3_client("route53")
    for zone in r53.list_hosted_zones()["HostedZones"]:
        snap[f"route53:{zone['Name']}"] = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    return json.loads(json.dumps(snap, sort_keys=True, default=str))


def write_names(events: list[dict]) -> list[str]:
    """The API server's audit events (labenv.k8s_writes) as 'verb resource/name' lines."""
    return [f"{e['verb']} {e['objectRef'].get('resource')}/{e['objectRef'].get('name')}" for e in events]


def aws_write_calls(calls: list[list]) -> list[list]:
    return [c for c in calls if is_write(c[1])]


def run_counting_aws(playbook, plays, **kwargs):
    """Run PLAYS with PLAYBOOK (the ``playbook`` fixture); returns (result, its AWS write calls, the names of
    all its AWS calls)."""
    labenv.aws_calls(reset=True)
    run = playbook(plays, **kwargs)
    calls = labenv.aws_calls()
    return run, aws_write_calls(calls), [c[1] for c in calls]


CALL_LOG = "AWS calls after: "


def with_call_log(tasks: list[dict]) -> list[dict]:
    """TASKS, each followed by a read of the lab's AWS call log (run even in check mode): several module calls in
    one playbook run, each with its own calls (``calls_by_task``). Reset the log (``labenv.aws_calls(reset=True)``,
    ``untouched()``) before the run."""
    logged = []
    for task in tasks:
        logged += [task, {"name": CALL_LOG + task["name"], "check_mode": False, "ansible.builtin.uri": {
            "url": "{{ lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') }}/_lab/calls"}}]
    return logged


def calls_by_task(run) -> dict[str, list[list]]:
    """{task name: the AWS calls ([service, action, status]) made between the call-log read before it and its own}
    for the tasks ``with_call_log`` wrapped, in a run started on a reset log."""
    seen, out = 0, {}
    for name, _host, res in run.tasks():
        if name.startswith(CALL_LOG):
            calls = res["json"]["calls"]
            out[name[len(CALL_LOG):]] = calls[seen:]
            seen = len(calls)
    return out


def writes_by_task(run) -> dict[str, list[str]]:
    """{task name: the names of its AWS write calls, in order} (see ``calls_by_task``)."""
    return {name: [c[1] for c in aws_write_calls(calls)] for name, calls in calls_by_task(run).items()}


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
    assert not k8s_events, "API server writes were made: " + ", ".join(write_names(k8s_events))
    assert aws_snapshot() == aws_before, "the AWS account changed"
    assert k8s_snapshot() == k8s_before, "the cluster changed"


def _dup_keys(tags: list[dict]) -> list[str]:
    keys = [t["Key"] for t in tags]
    return sorted({k for k in keys if keys.count(k) > 1})


def duplicates() -> list[str]:
    """What two writers racing (or a run interrupted and re-run) could leave twice or half-made, as problems
    (empty: none): more than one IAM role per IRSA service account (trust `sub`), IRSA annotations naming a
    role that does not exist, a managed policy without exactly one default version or with two versions of
    the same document, a tag key twice on one resource, a Helm release in two namespaces, without exactly one
    deployed revision, with failed or pending revisions or gaps in its revision chain, and two
    (Cluster)RoleBindings granting the same role to the same subjects."""
    problems: list[str] = []
    iam = labenv.boto3_client("iam")
    by_sub: dict = {}
    role_arns = set()
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            role_arns.add(role["Arn"])
            for st in (role.get("AssumeRolePolicyDocument") or {}).get("Statement", []):
                for key, value in ((st.get("Condition") or {}).get("StringEquals") or {}).items():
                    if key.endswith(":sub"):
                        for sub in [value] if isinstance(value, str) else value:
                            by_sub.setdefault(sub, []).append(role["RoleName"])
            if dup := _dup_keys(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])):
                problems.append(f"IAM role {role['RoleName']}: tag keys twice {dup}")
    problems += [f"{sub}: {len(names)} IAM roles {sorted(names)}" for sub, names in by_sub.items() if len(set(names)) > 1]
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for pol in page["Policies"]:
            versions = iam.list_policy_versions(PolicyArn=pol["Arn"])["Versions"]
            defaults = [v["VersionId"] for v in versions if v["IsDefaultVersion"]]
            if len(defaults) != 1:
                problems.append(f"IAM policy {pol['PolicyName']}: default versions {defaults}")
            docs = [json.dumps(iam.get_policy_version(PolicyArn=pol["Arn"], VersionId=v["VersionId"])
                               ["PolicyVersion"]["Document"], sort_keys=True) for v in versions]
            if len(set(docs)) != len(docs):
                problems.append(f"IAM policy {pol['PolicyName']}: {len(docs)} versions, {len(set(docs))} distinct documents")
    for prov in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        tags = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=prov["Arn"]).get("Tags", [])
        if dup := _dup_keys(tags):
            problems.append(f"OIDC provider {prov['Arn']}: tag keys twice {dup}")
    asg = labenv.boto3_client("autoscaling")
    for page in asg.get_paginator("describe_auto_scaling_groups").paginate():
        for group in page["AutoScalingGroups"]:
            if dup := _dup_keys(group["Tags"]):
                problems.append(f"ASG {group['AutoScalingGroupName']}: tag keys twice {dup}")

    from kubernetes import client  # noqa: PLC0415

    api = labenv.k8s_client()
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    for sa in core.list_service_account_for_all_namespaces().items:
        arn = (sa.metadata.annotations or {}).get("eks.amazonaws.com/role-arn")
        if arn and arn not in role_arns:
            problems.append(f"ServiceAccount {sa.metadata.namespace}/{sa.metadata.name}: role {arn} does not exist")
    releases: dict = {}
    for secret in core.list_secret_for_all_namespaces(field_selector="type=helm.sh/release.v1").items:
        labels = secret.metadata.labels or {}
        releases.setdefault(labels.get("name"), []).append(
            (secret.metadata.namespace, int(labels.get("version", 0)), labels.get("status")))
    for name, revisions in sorted(releases.items()):
        namespaces = sorted({ns for ns, _v, _s in revisions})
        statuses = [s for _ns, _v, s in revisions]
        numbers = sorted(v for _ns, v, _s in revisions)
        if len(namespaces) > 1:
            problems.append(f"Helm release {name} in {namespaces}")
        if statuses.count("deployed") != 1 or any(s == "failed" or str(s).startswith("pending") for s in statuses):
            problems.append(f"Helm release {name}: revisions {sorted(revisions)}")
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"Helm release {name}: revision chain {numbers}")
    grants: dict = {}
    bindings = [("", b) for b in rbac.list_cluster_role_binding().items] + \
        [(b.metadata.namespace, b) for b in rbac.list_role_binding_for_all_namespaces().items]
    for namespace, binding in bindings:
        if binding.metadata.name.startswith(("system:", "kubeadm:")):
            continue
        subjects = tuple(sorted((s.kind, s.namespace or "", s.name) for s in binding.subjects or []))
        key = (namespace, binding.role_ref.kind, binding.role_ref.name, subjects)
        grants.setdefault(key, []).append(binding.metadata.name)
    problems += [f"{key[1]} {key[2]} granted to {list(key[3])} in '{key[0]}' by {sorted(names)}"
                 for key, names in grants.items() if len(names) > 1]
    return problems


def untouched_run(run, plays, **kwargs):
    """RUN(PLAYS, **KWARGS) (``support.playbook.run``) inside ``untouched()``, for a module-scoped fixture that
    records rather than raises: (result, None), or (result, what ``untouched()`` found written)."""
    result = None
    try:
        with untouched():
            result = run(plays, **kwargs)
    except AssertionError as exc:
        return result, str(exc)
    return result, None


def read_after(run, read):
    """READ() after the playbook run RUN; if it raises (the run did not make what it reads), the error says how the
    run failed."""
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - re-raised with the run's failure
        raise AssertionError(f"{exc}; the run: rc={run.rc} {run.failure_text()[-2000:]}") from exc
