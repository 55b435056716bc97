# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live reads of what convergence records cover: one list per Kubernetes selector, one paginated describe per AWS
resource type. Shared by the modules convergence_record (a capability's gate and record) and convergence_gate (the
run's gate over every record)."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # reported by AnsibleAWSModule's requirement check
    BotoCoreError = ClientError = Exception

CHUNK = 100  # filter values per EC2 describe, names per DescribeAutoScalingGroups


def _chunks(values: list):
    values = sorted(set(values))
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


@AWSRetry.jittered_backoff()
def _ec2_all(client, operation: str, key: str, name: str, values: list) -> list:
    found = []
    for chunk in _chunks(values):
        found += client.get_paginator(operation).paginate(Filters=[{"Name": name, "Values": chunk}]).build_full_result()[key]
    return found


@AWSRetry.jittered_backoff()
def _asg_all(client, names: list) -> list:
    found = []
    paginator = client.get_paginator("describe_auto_scaling_groups")
    for chunk in _chunks(names):
        found += paginator.paginate(AutoScalingGroupNames=chunk, PaginationConfig={"PageSize": CHUNK}).build_full_result()["AutoScalingGroups"]
    return found


@AWSRetry.jittered_backoff()
def _iam_details(client, filters: list) -> dict:
    return client.get_paginator("get_account_authorization_details").paginate(Filter=filters).build_full_result()


def iam_entries(client, wanted: dict) -> list:
    """The entries of the IAM roles (names) and customer managed policies (ARNs) WANTED names, from one paginated
    GetAccountAuthorizationDetails filtered to the detail types asked for."""
    roles, policies = set(wanted.get("iam_role") or []), set(wanted.get("iam_policy") or [])
    details = _iam_details(client, (["Role"] if roles else []) + (["LocalManagedPolicy"] if policies else []))
    return ([C.aws_entry("iam_role", r["RoleName"], C.iam_role(r)) for r in details.get("RoleDetailList") or [] if r.get("RoleName") in roles]
            + [C.aws_entry("iam_policy", p["Arn"], C.iam_policy(p)) for p in details.get("Policies") or [] if p.get("Arn") in policies])


@AWSRetry.jittered_backoff()
def _oidc_provider(client, arn: str):
    try:
        return client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None
        raise


def oidc_provider_entries(client, arns: list) -> list:
    """The entries of the IAM OIDC providers ARNS names that exist (one GetOpenIDConnectProvider each)."""
    found = [(arn, _oidc_provider(client, arn)) for arn in sorted(set(arns))]
    return [C.aws_entry("iam_oidc_provider", arn, C.oidc_provider(provider)) for arn, provider in found if provider is not None]


@AWSRetry.jittered_backoff()
def _fargate_names(client, cluster: str) -> list:
    return client.get_paginator("list_fargate_profiles").paginate(clusterName=cluster).build_full_result().get("fargateProfileNames") or []


def fargate_profile_entries(client, ids: list) -> list:
    """The entries of the Fargate profiles IDS names (<cluster>/<profile>) that exist: one list per cluster, then one
    describe per listed profile."""
    entries = []
    for cluster, names in _names_by_cluster(ids):
        for name in sorted(names & set(_fargate_names(client, cluster))):
            profile = client.describe_fargate_profile(clusterName=cluster, fargateProfileName=name, aws_retry=True)["fargateProfile"]
            entries.append(C.aws_entry("eks_fargate_profile", f"{cluster}/{name}", C.fargate_profile(profile)))
    return entries


def _names_by_cluster(ids: list) -> list:
    """[(cluster, {names})] sorted by cluster, from IDS of the form <cluster>/<name> (Fargate profiles, add-ons)."""
    wanted = {}
    for item in ids:
        cluster, _sep, name = item.partition("/")
        wanted.setdefault(cluster, set()).add(name)
    return sorted(wanted.items())


@AWSRetry.jittered_backoff()
def _eks_addon_names(client, cluster: str) -> list:
    return client.get_paginator("list_addons").paginate(clusterName=cluster).build_full_result()["addons"]


def eks_addon_entries(client, ids: list) -> list:
    """The entries of the EKS add-ons IDS names (<cluster>/<name>): one paginated ListAddons per cluster, then one
    DescribeAddon per wanted add-on it lists (EKS has no batched describe)."""
    entries = []
    for cluster, names in _names_by_cluster(ids):
        for name in sorted(names & set(_eks_addon_names(client, cluster))):
            addon = client.describe_addon(clusterName=cluster, addonName=name, aws_retry=True)["addon"]
            entries.append(C.aws_entry("eks_addon", f"{cluster}/{name}", C.eks_addon(addon)))
    return entries


@AWSRetry.jittered_backoff()
def _rules_under(client, prefix: str) -> list:
    return client.get_paginator("list_rules").paginate(NamePrefix=prefix).build_full_result()["Rules"]


def sqs_entries(client, names: list) -> list:
    """SQS queues by name: GetQueueUrl, then one GetQueueAttributes each. A queue that does not exist has no entry (the
    gate says it is gone; a write names it missing)."""
    entries = []
    for name in sorted(set(names)):
        try:
            url = client.get_queue_url(QueueName=name, aws_retry=True)["QueueUrl"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                continue
            raise
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"], aws_retry=True).get("Attributes")
        entries.append(C.aws_entry("sqs_queue", name, C.sqs_queue(attributes)))
    return entries


def rule_entries(client, prefixes: list) -> list:
    """EventBridge rules: one paginated ListRules per name prefix, one entry per prefix."""
    return [C.aws_entry("eventbridge_rules", prefix, C.eventbridge_rules(_rules_under(client, prefix))) for prefix in sorted(set(prefixes))]


def read_aws(module, wanted: dict) -> tuple[list, list]:
    """(entries, errors) for {type: [ids]}: one paginated describe per type (route tables per VPC of the subnets)."""
    entries, errors = [], []
    try:
        if wanted.get("subnet") or wanted.get("security_group") or wanted.get("route_tables"):
            ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
            subnets = _ec2_all(ec2, "describe_subnets", "Subnets", "subnet-id", wanted.get("subnet") or [])
            entries += [C.aws_entry("subnet", s["SubnetId"], C.ec2_tags(s)) for s in subnets]
            vpcs = set(wanted.get("route_tables") or []) | {s["VpcId"] for s in subnets}
            tables = _ec2_all(ec2, "describe_route_tables", "RouteTables", "vpc-id", list(vpcs))
            for vpc in sorted(vpcs):
                entries.append(C.aws_entry("route_tables", vpc, C.route_tables([t for t in tables if t.get("VpcId") == vpc])))
            groups = _ec2_all(ec2, "describe_security_groups", "SecurityGroups", "group-id", wanted.get("security_group") or [])
            entries += [C.aws_entry("security_group", g["GroupId"], C.ec2_tags(g)) for g in groups]
        if wanted.get("autoscaling_group"):
            asg = module.client("autoscaling", retry_decorator=AWSRetry.jittered_backoff())
            entries += [C.aws_entry("autoscaling_group", g["AutoScalingGroupName"], C.asg_tags(g))
                        for g in _asg_all(asg, wanted["autoscaling_group"])]
        if wanted.get("iam_role") or wanted.get("iam_policy"):
            entries += iam_entries(module.client("iam", retry_decorator=AWSRetry.jittered_backoff()), wanted)
        if wanted.get("eks_fargate_profile"):
            entries += fargate_profile_entries(module.client("eks", retry_decorator=AWSRetry.jittered_backoff()), wanted["eks_fargate_profile"])
        if wanted.get("iam_oidc_provider"):
            entries += oidc_provider_entries(module.client("iam", retry_decorator=AWSRetry.jittered_backoff()), wanted["iam_oidc_provider"])
        if wanted.get("eks_addon"):
            entries += eks_addon_entries(module.client("eks", retry_decorator=AWSRetry.jittered_backoff()), wanted["eks_addon"])
        if wanted.get("sqs_queue"):
            entries += sqs_entries(module.client("sqs", retry_decorator=AWSRetry.jittered_backoff()), wanted["sqs_queue"])
        if wanted.get("eventbridge_rules"):
            entries += rule_entries(module.client("events", retry_decorator=AWSRetry.jittered_backoff()), wanted["eventbridge_rules"])
    except (BotoCoreError, ClientError) as exc:
        errors.append(f"AWS: {exc}")
    return entries, errors


def read_k8s(client, selectors: list) -> tuple[list, list]:
    """(entries, errors): one list per selector. A kind the API server does not serve (its CRD not installed yet, as
    in a check run on a bare cluster, or deleted) has no objects: none listed, not an error."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    entries, errors = [], []
    for sel in selectors:
        try:
            resource = client.resources.get(api_version=sel["api_version"], kind=sel["kind"])
            items = resource.get(namespace=sel.get("namespace"), label_selector=sel.get("label_selector")).to_dict().get("items") or []
        except ResourceNotFoundError:
            continue
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(f"{sel['kind']} list: {exc}")
            continue
        if sel.get("names") is not None:
            keep = set(sel["names"])
            items = [i for i in items if (i.get("metadata") or {}).get("name") in keep]
        for item in items:
            entries.append(C.k8s_entry(dict(item, apiVersion=sel["api_version"], kind=sel["kind"]), sel["track"]))
    return entries, errors


def read_files(paths: list) -> tuple[list, list]:
    """(entries, errors) for files on this host: a missing file has no entry (the gate says it is gone), one that
    cannot be read is an error (never in sync)."""
    import os

    entries, errors = [], []
    for path in sorted(set(paths)):
        try:
            with open(path, "rb") as handle:
                entries.append(C.file_entry(path, handle.read(), os.fstat(handle.fileno()).st_mode))
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(f"file {path}: {exc.strerror or exc}")
    return entries, errors


def read_record(client, namespace: str, capability: str):
    """(stored ConfigMap text or None, error or None)."""
    from kubernetes.dynamic.exceptions import NotFoundError

    try:
        resource = client.resources.get(api_version="v1", kind="ConfigMap")
        configmap = resource.get(name=C.configmap_name(capability), namespace=namespace).to_dict()
    except NotFoundError:
        return None, None
    except Exception as exc:  # pylint: disable=broad-except
        return None, f"record {namespace}/{C.configmap_name(capability)}: {exc}"
    return (configmap.get("data") or {}).get(C.DATA_KEY, ""), None


def namespace_exists(client, name: str) -> bool:
    from kubernetes.dynamic.exceptions import NotFoundError

    try:
        client.resources.get(api_version="v1", kind="Namespace").get(name=name)
    except NotFoundError:
        return False
    return True


def stored_record(module, client, params: dict):
    """(trusted record or None, reasons why none is trusted)."""
    text, error = read_record(client, params["namespace"], params["capability"])
    if error:
        return None, [f"read failed: {error}"]
    if text is None:
        return None, ["no record: full path"]
    try:
        record = C.parse(text)
    except C.RecordError as exc:
        module.warn(f"{params['capability']}: the convergence record is not one nodeless.eks wrote ({exc}); ignored: full path")
        return None, [f"record ignored: {exc}"]
    distrust = C.trust(record)
    if distrust:
        module.warn(f"{params['capability']}: {distrust}")
        return None, [distrust]
    return record, []


def snapshot(module, client, params: dict, aws_wanted: dict, files: list) -> dict:
    k8s_entries, k8s_errors = read_k8s(client, params["kubernetes"])
    aws_entries, aws_errors = read_aws(module, aws_wanted) if aws_wanted else ([], [])
    file_entries, file_errors = read_files(files)
    return {"kubernetes": k8s_entries, "aws": aws_entries, "helm": [], "files": file_entries,
            "errors": k8s_errors + aws_errors + file_errors}
