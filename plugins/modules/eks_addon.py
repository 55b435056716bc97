#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_addon
short_description: Manage EKS managed add-ons (several in one call), their versions and configuration values
version_added: 0.1.0
description:
  - Creates, updates or deletes the listed EKS managed add-ons of one cluster (vpc-cni, coredns, kube-proxy,
    aws-ebs-csi-driver, eks-pod-identity-agent, or any other add-on EKS lists for the cluster).
  - Versions are resolved for the cluster's Kubernetes minor from C(DescribeAddonVersions) - C(latest), C(default)
    or an exact version. A version not compatible with the cluster's minor fails, listing the compatible ones;
    an add-on name EKS does not list fails, listing the valid names.
  - Configuration values are given as data (or JSON / YAML text) and validated against the add-on version's JSON
    schema (C(DescribeAddonConfiguration)) before any write; a failure names the JSON path, for example
    C(addons[0].configuration_values.env.WARM_PREFIX_TARGET). They are compared as data, so key order and
    formatting make no difference, and sent as compact JSON with sorted keys.
  - Every input of every listed add-on is checked before the first write. Then the writes are made, then the module
    waits for each add-on to be C(ACTIVE) (or deleted); C(DEGRADED) or C(CREATE_FAILED) fails with the add-on's
    health issues.
  - Supports check mode (read calls only; the same C(changed) and C(changes) as the real run) and diff mode.
author:
  - nodeless.eks contributors (@nodeless)
requirements:
  - jsonschema (validates configuration values against the add-on's JSON schema)
options:
  addons:
    description: The add-ons this task manages. Add-ons not listed are left as they are.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The add-on's name as EKS lists it, for example C(vpc-cni) or C(coredns).
        type: str
        required: true
      state:
        description: Whether the add-on is installed as an EKS managed add-on.
        type: str
        choices: [present, absent]
        default: present
      version:
        description:
          - C(latest) (the newest version compatible with the cluster's minor), C(default) (the version EKS installs
            by default on that minor; an add-on already newer keeps its version) or an exact version such as
            C(v1.20.4-eksbuild.1).
          - When omitted, a new add-on gets the default version and an existing one keeps its version.
        type: str
      configuration_values:
        description:
          - The add-on's configuration values, as a mapping (or JSON / YAML text of one), validated against the
            schema of the resolved version. An empty mapping removes every value.
          - When omitted, the add-on's values are not managed.
        type: raw
      service_account_role_arn:
        description:
          - IAM role (IRSA) of the add-on's service account. When omitted, not managed.
          - An empty string asks for no role. It is accepted when the add-on has none, and refused before any write when it has
            one, since EKS cannot remove an add-on's role in place (delete it with O(addons[].preserve) and create it
            again).
        type: str
      pod_identity_associations:
        description:
          - EKS Pod Identity associations the add-on creates and owns, one IAM role per service account; the service
            accounts must be ones the add-on's pod identity configuration names (C(aws-node) for vpc-cni,
            C(ebs-csi-controller-sa) for aws-ebs-csi-driver), checked before any write.
          - An empty list removes them. When omitted, not managed.
          - Compared as a set of service account and role pairs (one C(DescribePodIdentityAssociation) read per
            association, only when this option is given).
        type: list
        elements: dict
        suboptions:
          service_account:
            description: The add-on's service account (in the add-on's namespace).
            type: str
            required: true
          role_arn:
            description: The IAM role its pods get. The role must trust C(pods.eks.amazonaws.com).
            type: str
            required: true
      resolve_conflicts:
        description: How EKS treats fields of the add-on's objects that others changed; overrides O(resolve_conflicts).
        type: str
        choices: [overwrite, none, preserve]
      preserve:
        description:
          - With O(addons[].state=absent), keep the add-on's workload (DaemonSets, Deployments) running in the cluster
            and only stop EKS from managing it. C(false) deletes the workload too (AWS's own default).
        type: bool
        default: true
  resolve_conflicts:
    description:
      - How EKS treats fields of an add-on's Kubernetes objects that another manager changed. C(overwrite) sets them to
        the add-on's values (so the declared configuration wins), C(none) fails the add-on on a conflict, C(preserve)
        (updates only; creates use C(none)) keeps the other manager's values.
    type: str
    choices: [overwrite, none, preserve]
    default: overwrite
  wait:
    description: Wait for each created or updated add-on to be C(ACTIVE) and each deleted one to be gone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each add-on.
    type: int
    default: 600
  check_role_trust:
    description:
      - Before a role is sent (O(addons[].service_account_role_arn) on a new add-on, or a changed one), read its trust
        policy (C(iam:GetRole)) and refuse it unless it trusts the cluster's OIDC provider with
        C(sts:AssumeRoleWithWebIdentity) for the add-on's service account (when EKS names it in the add-on's pod identity
        configuration). A cluster without an OIDC issuer and a role that does not exist are refused too.
      - A role in another account than the cluster's cannot be read from here; it is refused unless this is C(false).
    type: bool
    default: true
notes:
  - Read calls per present add-on - C(DescribeAddonVersions), C(DescribeAddon), and C(DescribeAddonConfiguration) when
    O(addons[].configuration_values) or O(addons[].pod_identity_associations) is given; plus one C(DescribeCluster).
    A run that changes nothing writes nothing.
extends_documentation_fragment:
  - nodeless.eks.eks_cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: VPC CNI with prefix delegation, CoreDNS and kube-proxy as EKS managed add-ons
  nodeless.eks.eks_addon:
    cluster_name: prod-eu
    addons:
      - name: vpc-cni
        version: latest
        service_account_role_arn: arn:aws:iam::123456789012:role/prod-eu-aws-node
        configuration_values:
          env:
            ENABLE_PREFIX_DELEGATION: "true"
            WARM_PREFIX_TARGET: "1"
      - name: coredns
        version: default
        configuration_values:
          replicaCount: 3
          tolerations:
            - {key: CriticalAddonsOnly, operator: Exists}
      - name: kube-proxy
        version: v1.35.0-eksbuild.2

- name: Stop managing the EBS CSI driver as an add-on, leaving its pods running
  nodeless.eks.eks_addon:
    cluster_name: prod-eu
    addons:
      - name: aws-ebs-csi-driver
        state: absent
        preserve: true
"""

RETURN = r"""
addons:
  description: Each listed add-on after the run (in check mode, as it would be); C(null) for an absent one.
  type: list
  elements: dict
  returned: always
  sample:
    - name: vpc-cni
      version: v1.21.1-eksbuild.1
      status: ACTIVE
      configuration_values: {env: {WARM_PREFIX_TARGET: "1"}}
      service_account_role_arn: null
      pod_identity_associations: []
      arn: arn:aws:eks:eu-west-1:123456789012:addon/prod-eu/vpc-cni/0ac9b1a4-1b2c-3d4e-5f60-718293a4b5c6
      health: []
changes:
  description: One entry per add-on added, changed or removed (see module_utils/changes.py), the same in check mode.
  type: list
  elements: dict
  returned: always
  sample: [{"resource": "aws:eks-addon/prod-eu/vpc-cni", "action": "change", "detail": "configuration_values"}]
diff:
  description:
    - The listed add-ons' version, configuration values, role and (when there are) pod identity associations before and
      after, keyed by name.
  type: dict
  returned: always
  contains:
    before:
      description: The add-ons before the run; an add-on that did not exist is left out.
      type: dict
    after:
      description: The add-ons after the run; an absent add-on is left out.
      type: dict
"""

from functools import partial

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import eks_addon as ea
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region

ADDON_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    version=dict(type="str"),
    configuration_values=dict(type="raw"),
    service_account_role_arn=dict(type="str"),
    pod_identity_associations=dict(type="list", elements="dict", options=dict(
        service_account=dict(type="str", required=True), role_arn=dict(type="str", required=True))),
    resolve_conflicts=dict(type="str", choices=list(ea.RESOLVE)),
    preserve=dict(type="bool", default=True),
)


def checks(client, iam, described, want, version, differs):
    """The add-on's own problems: values against its schema, Pod Identity service accounts, and the trust of a role
    about to be sent (IAM is read only then; IAM=None skips that check)."""
    problems = ea.role_removal_errors(want, differs)
    sends_role = want["role"] and ("service_account_role_arn" in differs or not want.get("exists"))
    if not (want["values"] or want["pods"] or (sends_role and iam)):
        return problems
    conf = ea.configuration(client, want["name"], version)
    problems += ea.schema_errors(conf.get("configurationSchema") or "", want["values"] or {}, f"{want['field']}.configuration_values")
    problems += ea.pod_identity_errors(conf, want["pods"], f"{want['field']}.pod_identity_associations")
    if sends_role and iam:
        field = f"{want['field']}.service_account_role_arn"
        role_account, cluster_account = want["role"].split(":")[4], (described.get("arn") or "::::").split(":")[4]
        if cluster_account and role_account != cluster_account:
            return problems + [f"{field}: IAM role {want['role']} is in account {role_account}, the cluster in {cluster_account}: "
                               "its trust of the cluster's OIDC provider cannot be read from here; set check_role_trust=false "
                               "if that account trusts it"]
        accounts = [c.get("serviceAccount") for c in conf.get("podIdentityConfiguration") or []]
        problems += ea.trust_problems(ea.role_trust(iam(), want["role"]), want["role"], described, accounts, field)
    return problems


def prepare(client, cluster, wanted, iam=None):
    """Every read and check, before any write: [(want, resolved version, current canonical, verb, differs)].

    IAM: a callable giving an IAM client, to check the trust of a role about to be sent (None: not checked)."""
    described = ea.describe_cluster(client, cluster)
    minor = described["version"]
    steps, problems, unknown = [], [], []
    for want in wanted:
        raw = ea.describe(client, cluster, want["name"])
        current = ea.canonical(raw)
        if current and want["pods"] is not None and raw.get("podIdentityAssociations"):
            current["pod_identity_associations"] = ea.associations(client, cluster, raw["podIdentityAssociations"])
        version = None
        if want["state"] == "present":
            infos = ea.addon_versions(client, want["name"], minor)
            if not infos:
                unknown.append(want)
                continue
            try:
                version = ea.resolve_version(want, minor, infos, current)
            except ea.AddonError as exc:
                problems.append(str(exc))
                continue
        verb, differs = ea.plan(want, version, current)
        if want["state"] == "present":
            problems += checks(client, iam, described, dict(want, exists=current is not None), version, differs)
        steps.append((want, version, current, verb, differs))
    if unknown:
        names = ea.catalogue_names(client, minor)
        problems += [f"{w['field']}.name: EKS has no add-on {w['name']!r} for Kubernetes {minor}; "
                     f"valid names: {', '.join(names)}" for w in unknown]
    if problems:
        raise ea.AddonError("; ".join(problems))
    return steps


def converge(module, client, cluster, steps):
    """The writes, then the waits; the add-ons after (read back when waited for, else predicted)."""
    params = module.params
    results = {}
    for want, version, current, verb, differs in steps:
        results[want["name"]] = ea.after(want, version, current, verb)
        if verb and not module.check_mode:
            if ea.busy(current) and params["wait"]:
                ea.wait(client, cluster, want["name"], False, params["wait_timeout"])
            ea.write(client, cluster, want, version, verb, differs)
    if params["wait"] and not module.check_mode:
        for want, _version, _current, verb, _differs in steps:
            if verb:
                results[want["name"]] = ea.canonical(ea.wait(client, cluster, want["name"], verb == "delete", params["wait_timeout"]))
                if results[want["name"]] and want["pods"] is not None:
                    results[want["name"]]["pod_identity_associations"] = want["pods"]
    return results


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster_name=dict(type="str", required=True),
            addons=dict(type="list", elements="dict", required=True, options=ADDON_SPEC),
            resolve_conflicts=dict(type="str", choices=list(ea.RESOLVE), default="overwrite"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
            check_role_trust=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    check_region(module)
    if not ea.HAS_JSONSCHEMA:
        module.fail_json(msg=missing_required_lib("jsonschema"))
    cluster = module.params["cluster_name"]
    try:
        wanted = ea.validate(module.params["addons"], module.params["resolve_conflicts"])
    except ea.AddonError as exc:
        module.fail_json(msg=str(exc))
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    iam = partial(module.client, "iam", retry_decorator=AWSRetry.jittered_backoff()) if module.params["check_role_trust"] else None
    try:
        steps = prepare(client, cluster, wanted, iam)
        results = converge(module, client, cluster, steps)
    except ea.AddonError as exc:
        module.fail_json(msg=str(exc))
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster!r} was not found in region {module.region}")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg=f"EKS add-ons of cluster {cluster!r}")
    changes = [ea.entry(cluster, want["name"], verb, differs) for want, _v, _c, verb, differs in steps if verb]
    before = {w["name"]: ea.diff_view(c) for w, _v, c, _verb, _d in steps if c}
    after = {name: ea.diff_view(item) for name, item in results.items() if item}
    module.exit_json(changed=bool(changes), changes=changes, addons=[results[w["name"]] for w, *_rest in steps],
                     diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
