#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: access_entries_migration
short_description: Move the IAM mappings of the aws-auth ConfigMap to EKS access entries, then the authentication mode forward
version_added: 0.1.0
description:
  - Turns every C(mapRoles) / C(mapUsers) / C(mapAccounts) item of the O(aws_auth) ConfigMap data into an access entry,
    says for each what it becomes, and moves the cluster's authentication mode forward.
  - C(system:masters) becomes the access policy C(AmazonEKSClusterAdminPolicy) (cluster scope), the one policy that
    grants everything; other groups stay Kubernetes groups of the entry, so the cluster's RBAC bindings keep
    answering as before. Node mappings (C(system:bootstrappers) and C(system:nodes)) become C(EC2_LINUX), with
    C(eks:kube-proxy-windows) C(EC2_WINDOWS), with C(system:node-proxier) C(FARGATE_LINUX).
  - The roles of the cluster's managed node groups and Fargate profiles get their entries from EKS when the mode
    comes to include C(API); the module checks they are there after the change and makes those that are not.
  - What an access entry cannot express (an account mapping, a username template other than C({{SessionName}}) /
    C({{SessionNameRaw}}) after a colon on a role, another C(system:) group, a reserved username prefix, one principal
    mapped twice differently) is reported in RV(mappings), never dropped, and blocks the move to C(API). A C(rolearn)
    with a path, which aws-auth matches to nobody, is reported and not migrated.
  - Order of the writes, in the real run as in the check-mode plan. C(CONFIG_MAP) -> C(API_AND_CONFIG_MAP), the entries
    and their access policies, then C(API) when asked and nothing blocks it. Entries are tagged C(nodeless.eks/owner=<owner>);
    the module adds and updates them, and never deletes one (aws-auth may be emptied once the cluster is in C(API)).
    A principal that already has an entry made by someone else keeps it as it is.
author:
  - nodeless.eks contributors (@nodeless)
options:
  aws_auth:
    description: The C(data) of the C(kube-system/aws-auth) ConfigMap (C(mapRoles), C(mapUsers), C(mapAccounts) as YAML text).
    type: dict
    required: true
  aws_auth_owners:
    description:
      - The ConfigMap's C(nodeless.eks/aws-auth-owners) annotation (JSON), which records the owner that mapped each ARN
        (the access role's C(access_owner), C(karpenter)). An entry is made under that owner's tag, so that owner, moved to
        access entries mode, finds the entry as its own; other entries get O(owner).
    type: str
    default: ""
  authentication_mode:
    description:
      - The mode to end in. C(API_AND_CONFIG_MAP) keeps aws-auth working beside the entries (the step to take first; it can
        be rolled back by deleting the entries). C(API) ignores aws-auth; it is refused while a mapping is not migrated.
      - EKS moves the mode only forward; a mode behind the cluster's fails before any write, saying why.
    type: str
    choices: [API_AND_CONFIG_MAP, API]
    default: API_AND_CONFIG_MAP
  owner:
    description: Owner tag value of the entries this migration makes (and later updates) for mappings no nodeless.eks owner recorded.
    type: str
    default: aws-auth-migration
  partition:
    description: AWS partition of the access policy ARNs.
    type: str
    default: aws
extends_documentation_fragment:
  - nodeless.eks.eks_cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read aws-auth
  kubernetes.core.k8s_info:
    kind: ConfigMap
    namespace: kube-system
    name: aws-auth
  register: aws_auth_cm

- name: Give every aws-auth mapping its access entry, aws-auth still read (API_AND_CONFIG_MAP)
  nodeless.eks.access_entries_migration:
    cluster_name: prod-eu
    aws_auth: "{{ aws_auth_cm.resources[0].data | default({}) if aws_auth_cm.resources else {} }}"
    aws_auth_owners: "{{ aws_auth_cm.resources[0].metadata.annotations['nodeless.eks/aws-auth-owners'] | default('') if aws_auth_cm.resources else '' }}"
  register: migration

- name: Say what each mapping became
  ansible.builtin.debug:
    msg: "{{ migration.mappings | map(attribute='plan') }}"
"""

RETURN = r"""
changes:
  description: The authentication mode changes, the access entries and the access policy associations added or changed, in order.
  type: list
  elements: dict
  returned: always
  sample: [{resource: "aws:eks-authentication-mode/prod-eu", action: change, detail: "CONFIG_MAP -> API_AND_CONFIG_MAP"}]
mappings:
  description:
    - One item per aws-auth mapping; C(outcome) is C(entry) (made by this module), C(eks) (made by EKS), C(exists),
      C(inert), C(duplicate) or C(unmigrated) (blocks C(API)).
  type: list
  elements: dict
  returned: always
  sample: [{source: "aws_auth.mapRoles[0]", principal_arn: "arn:aws:iam::123456789012:role/admin", outcome: entry,
            plan: "aws_auth.mapRoles[0] arn:aws:iam::123456789012:role/admin -> STANDARD access entry, access policy AmazonEKSClusterAdminPolicy (cluster)"}]
authentication_mode:
  description: The cluster's authentication mode after the run (predicted in check mode).
  type: str
  returned: success
  sample: API_AND_CONFIG_MAP
blocked:
  description: Why the move to C(API) was not made (empty when it was made or not asked).
  type: str
  returned: always
diff:
  description: The authentication mode and this owner's access entries before and after.
  type: dict
  returned: always
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.nodeless.eks.plugins.module_utils import access_entries as ae
from ansible_collections.nodeless.eks.plugins.module_utils import access_migration as am
from ansible_collections.nodeless.eks.plugins.module_utils import aws_auth
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.changes import change


def _managed_roles(client, cluster: str) -> dict:
    """principal ARN -> entry type of the roles EKS makes entries for: managed node groups, Fargate profiles."""

    @AWSRetry.jittered_backoff()
    def _names(operation, key):
        return client.get_paginator(operation).paginate(clusterName=cluster).build_full_result().get(key, [])

    roles = {}
    for name in sorted(_names("list_nodegroups", "nodegroups")):
        group = client.describe_nodegroup(clusterName=cluster, nodegroupName=name, aws_retry=True)["nodegroup"]
        if group.get("nodeRole"):
            roles[group["nodeRole"]] = "EC2_LINUX"
    for name in sorted(_names("list_fargate_profiles", "fargateProfileNames")):
        profile = client.describe_fargate_profile(clusterName=cluster, fargateProfileName=name, aws_retry=True)["fargateProfile"]
        if profile.get("podExecutionRoleArn"):
            roles[profile["podExecutionRoleArn"]] = "FARGATE_LINUX"
    return roles


def _actions(result: dict, current: dict, owner: str) -> list:
    """[(owner, access_entries.plan actions)] for the entries to make, per owner tag, without deletes: the migration never
    removes an entry."""
    out = []
    for tag in sorted({d.get("owner") or owner for d in result["desired"]}):
        mine = {arn: e for arn, e in current.items() if e.get("owner") == tag}
        wanted = [d for d in result["desired"] if (d.get("owner") or owner) == tag]
        out.append((tag, [a for a in ae.plan(wanted, mine, tag) if a[0] != "delete"]))
    return out


def _entry_changes(actions: list) -> list:
    out = []
    for verb, arn, detail in actions:
        if verb in ("associate", "disassociate"):
            policy = detail[0] if isinstance(detail, tuple) else detail
            out.append(change("aws", "access-policy", f"{arn}/{policy.rsplit('/', 1)[-1]}", "add" if verb == "associate" else "remove"))
        else:
            out.append(change("aws", "access-entry", arn, "add" if verb == "create" else "change",
                              detail=detail["type"] if verb == "create" else None))
    return out


def _node_entries(missing: dict) -> list:
    return [("create", arn, {"type": kind, "kubernetes_groups": [], "username": None}) for arn, kind in sorted(missing.items())]


def migrate(module, client) -> dict:
    params = module.params
    cluster, owner, wanted = params["cluster_name"], params["owner"], params["authentication_mode"]
    mode = ae.cluster_mode(client, cluster)
    ae.mode_step(mode, wanted)  # a mode behind the cluster's is refused here, before any write
    managed = _managed_roles(client, cluster)
    current = {} if mode == "CONFIG_MAP" else ae.read(client, cluster)
    before = {arn: e for arn, e in current.items() if e.get("owner") == owner}
    result = am.plan(params["aws_auth"], current, managed, owner, params["partition"], params["aws_auth_owners"])
    if wanted == "API" and mode != "API" and result["blocking"]:
        raise ae.AccessEntryError(am.blocking_message(result["blocking"]))
    step = "API_AND_CONFIG_MAP" if mode == "CONFIG_MAP" else None
    changes = [change("aws", "eks-authentication-mode", cluster, "change", detail=f"{mode} -> {step}")] if step else []
    how = "made by EKS with the mode change" if step else "made by the migration: EKS had not made it"
    changes += [change("aws", "access-entry", arn, "add", detail=f"{kind}, {how}") for arn, kind in sorted(result["eks"].items())]
    if step and not module.check_mode:
        ae.set_mode(client, cluster, step)
        current = ae.read(client, cluster)  # now with the entries EKS made for node groups and Fargate profiles
        result = am.plan(params["aws_auth"], current, managed, owner, params["partition"], params["aws_auth_owners"])
    actions = _actions(result, current, owner)
    for _tag, acts in actions:
        changes += _entry_changes(acts)
    if not module.check_mode:
        ae.apply(client, cluster, owner, _node_entries(result["eks"]))  # after a mode change: those EKS did not make
        for tag, acts in actions:
            ae.apply(client, cluster, tag, acts)
    final = step or mode
    if wanted == "API" and final != "API":
        changes.append(change("aws", "eks-authentication-mode", cluster, "change", detail=f"{final} -> API"))
        if not module.check_mode:
            ae.set_mode(client, cluster, "API")
        final = "API"
    after = dict(before, **{d["principal_arn"]: dict(d, owner=d.get("owner") or owner) for d in result["desired"]})
    rows = [dict(r, plan=am.describe(r)) for r in result["rows"]]
    blocked = am.blocking_message(result["blocking"]) if result["blocking"] and final != "API" else ""
    return {"changed": bool(changes), "changes": changes, "mappings": rows, "authentication_mode": final, "blocked": blocked,
            "diff": {"before": dict(before, authentication_mode=mode), "after": dict(after, authentication_mode=final)}}


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(cluster_name=dict(type="str", required=True), aws_auth=dict(type="dict", required=True),
                           authentication_mode=dict(type="str", choices=["API_AND_CONFIG_MAP", "API"], default="API_AND_CONFIG_MAP"),
                           aws_auth_owners=dict(type="str", default=""),
                           owner=dict(type="str", default="aws-auth-migration"), partition=dict(type="str", default="aws")),
        supports_check_mode=True,
    )
    try:
        am.parse(module.params["aws_auth"])  # a ConfigMap that cannot be read fails before any call
    except (am.MigrationError, aws_auth.AwsAuthError) as exc:
        module.fail_json(msg=str(exc))
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    cluster = module.params["cluster_name"]
    try:
        result = migrate(module, client)
    except (ae.AccessEntryError, am.MigrationError) as exc:
        module.fail_json(msg=str(exc))
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster!r} was not found in region {module.region}")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg=f"cluster_name: moving the aws-auth mappings of EKS cluster {cluster!r} to access entries")
    if result["blocked"]:
        module.warn(result["blocked"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
