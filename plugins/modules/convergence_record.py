#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: convergence_record
short_description: Gate a capability on its convergence record, and write the record after it converged
version_added: 0.1.0
description:
  - A capability's convergence record is the ConfigMap C(nodeless-eks-<capability>) in O(namespace), key
    C(record.json), readable JSON - the nodeless.eks version and record schema that wrote it, when its content
    last changed, a sha256 of the role's effective inputs, and every object the role manages (Kubernetes objects
    by kind, namespace, name, uid and C(metadata.generation) or C(resourceVersion); AWS resources by type, id
    and a sha256 of what is managed on them; Helm release revisions; files the role wrote by path, sha256 and mode;
    for a record that expires, O(valid_until)).
  - With O(state=check) (the gate, first task after a role's preflight) the module reads the record, then the
    live state in one list per Kubernetes selector of O(kubernetes) and one paginated describe per AWS
    resource type the record lists, and compares. RV(in_sync) is true only when the inputs digest and every
    object are the same; the role then ends. Nothing is written, in check mode or not.
  - A record written by a newer nodeless.eks or schema is not trusted, one that is not a record is ignored
    (both with a warning), and any read that fails (throttling, the API server down) gives RV(in_sync=false), and
    the role takes its full path.
  - With O(state=write) (the role's last task) it reads the same live state, AWS resources from O(aws), and
    writes the record only when its content differs from the stored one, so C(written_at) moves only when the
    content does and a re-run changes nothing. The namespace is created (labelled
    C(app.kubernetes.io/managed-by=nodeless.eks)) when missing. In check mode it reads and reports whether it
    would write (an AWS resource of O(aws) that the check run only planned, so is not found, is no error there).
    A failed read fails the task.
  - Kubernetes authentication comes from O(kubeconfig) and O(context), or the C(K8S_AUTH_*) environment
    variables as for kubernetes.core modules.
  - RV(changes) is always empty - the record is bookkeeping, not a managed resource, so the plan callback shows
    no row for it.
author:
  - nodeless.eks contributors (@nodeless)
options:
  capability:
    description:
      - Name of the capability (usually the role name; lowercase letters, digits, C(-) and C(_), at most 50); the
        ConfigMap is C(nodeless-eks-<capability>) with C(_) written C(-).
    type: str
    required: true
  state:
    description: V(check) compares the record with the live state; V(write) stores the live state as the record.
    type: str
    choices: [check, write]
    default: check
  inputs:
    description:
      - The role's effective inputs as the role resolved them (its variables, the cluster facts its plan
        depends on). Only their sha256 (canonical JSON) is stored.
    type: raw
    required: true
  kubernetes:
    description:
      - The Kubernetes objects the capability manages, as lists. Every object a list returns is in the record, so
        an object added with the selector's labels is found, as is one deleted or edited.
    type: list
    elements: dict
    default: []
    suboptions:
      api_version:
        description: API version of the kind.
        type: str
        required: true
      kind:
        description: Kind to list.
        type: str
        required: true
      namespace:
        description: Namespace to list; every namespace when omitted (and the kind is namespaced).
        type: str
      label_selector:
        description: Label selector of the list.
        type: str
      names:
        description:
          - Keep only the objects of these names from the list (still one list), for objects that carry no label of
            the capability's, such as ServiceAccounts a chart made and the capability annotates. A name the list
            lacks is an object gone.
        type: list
        elements: str
      track:
        description:
          - What changes when the object is edited. V(generation) for kinds whose spec no controller writes
            (Deployments), V(resourceVersion) otherwise.
          - V(spec_except_replicas) for a Deployment a HorizontalPodAutoscaler scales, a digest of its spec without
            C(replicas), so the autoscaler's scaling is not drift and any other change to the spec is.
          - V(data) for a Secret or ConfigMap whose labels others move (the API server labels a legacy token Secret when the
            token is used), a digest of its C(data) (never the data).
        type: str
        choices: [generation, resourceVersion, spec_except_replicas, data]
        default: resourceVersion
  aws:
    description:
      - The AWS resources the capability manages, read with O(state=write) (each must exist, or the task fails naming
        it before any write); the gate reads what the record lists.
        Subnets come with the route tables of their VPCs (what classifies them public or private).
      - The digest covers every tag of subnets, security groups and Auto Scaling groups (value and
        propagate-at-launch), and the associations and routes of route tables.
      - IAM roles (V(iam_role), by name) and customer managed policies (V(iam_policy), by ARN) are read together
        with one paginated C(iam:GetAccountAuthorizationDetails) (filter C(Role), C(LocalManagedPolicy)). A role's
        digest covers its id, path, trust policy, attached managed policy ARNs, inline policies (names and documents),
        permissions boundary and tags (not its description or maximum session duration, which that call does not
        return, nor RoleLastUsed); a policy's covers its id, path, default version id and document, and every
        version id (a version added out of band, default or not, changes it).
      - IAM OIDC providers (V(iam_oidc_provider), by ARN) are read with one C(iam:GetOpenIDConnectProvider) each (IAM
        has no call that lists them with their settings); the digest covers the URL, client IDs, thumbprints and tags.
      - Fargate profiles (V(eks_fargate_profile), C(<cluster>/<profile>)) are listed with one paginated
        C(eks:ListFargateProfiles) per cluster, and each listed one is described (C(eks:DescribeFargateProfile)); the
        digest covers its ARN (a profile made again has another), pod execution role, subnets, selectors, tags and status.
      - EKS add-ons (V(eks_addon), by C(<cluster>/<add-on name>)) are read with one paginated C(eks:ListAddons) per
        cluster, then one C(eks:DescribeAddon) per add-on it lists (EKS has no batched describe); the digest covers the
        version, configuration values, service account role ARN, Pod Identity association ARNs and status.
      - An SQS queue (V(sqs_queue), by name) is read with C(GetQueueUrl) and one C(GetQueueAttributes); its digest
        covers every attribute but the message counts (not its tags). EventBridge rules (V(eventbridge_rules), by
        name prefix) are read with one paginated C(ListRules) on the default event bus; the digest covers each rule
        under the prefix (name, pattern, state, description, ARN), so a rule added, deleted or edited out of band
        changes it (not the rules' targets, which C(ListRules) does not return).
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: Resource type.
        type: str
        required: true
        choices: [subnet, security_group, autoscaling_group, iam_role, iam_policy, iam_oidc_provider, eks_fargate_profile, eks_addon,
                  sqs_queue, eventbridge_rules]
      ids:
        description:
          - Subnet or security group IDs, Auto Scaling group names, IAM role names, customer managed policy ARNs,
            IAM OIDC provider ARNs, Fargate profiles as C(<cluster>/<profile>), EKS add-ons as C(<cluster>/<add-on name>),
            SQS queue names or EventBridge rule name prefixes.
        type: list
        elements: str
        required: true
  files:
    description:
      - Files the role wrote on the host the module runs on (a kubeconfig). The record keeps each one's path, a sha256
        of its bytes (never the bytes) and its mode, so a file edited, deleted or made readable by others is found. With
        O(state=write) each must exist (check mode aside); the gate reads the files the record lists.
    type: list
    elements: path
    default: []
  valid_until:
    description:
      - Epoch seconds after which the record no longer holds, whatever the live state (a kubeconfig's token is renewed
        before it expires). Stored with O(state=write); omit for records that hold until something changes.
    type: int
extends_documentation_fragment:
  - nodeless.eks.convergence
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Compare the record of overprovisioning with the live objects
  nodeless.eks.convergence_record:
    capability: overprovisioning
    inputs: "{{ _overprovisioning_record_inputs }}"
    kubernetes:
      - {api_version: scheduling.k8s.io/v1, kind: PriorityClass, label_selector: app.kubernetes.io/name=overprovisioning}
      - {api_version: apps/v1, kind: Deployment, namespace: overprovisioning, track: generation,
         label_selector: app.kubernetes.io/name=overprovisioning}
  register: _gate

- name: End the role when nothing differs
  ansible.builtin.meta: end_role
  when: _gate.in_sync

- name: Record what the tags converged to (last task of the role)
  nodeless.eks.convergence_record:
    capability: discovery_tags
    state: write
    inputs: "{{ _discovery_tags_record_inputs }}"
    aws:
      - {type: subnet, ids: "{{ nodeless_eks_cluster.subnet_ids }}"}
      - {type: security_group, ids: ["{{ nodeless_eks_cluster.cluster_security_group_id }}"]}
"""

RETURN = r"""
in_sync:
  description: With O(state=check), whether the live state and the inputs are those of the record; always false after a failed read.
  returned: always
  type: bool
  sample: true
reasons:
  description: Why it is not in sync, one entry per difference (empty when in sync).
  returned: always
  type: list
  elements: str
  sample: ["aws subnet subnet-0a1b: sha256 changed", "Deployment overprovisioning/overprovisioning: gone"]
msg:
  description: One line for people.
  returned: always
  type: str
  sample: "overprovisioning: in sync (record 2026-12-05T12:00:00Z, 4 objects)"
record:
  description: The stored record (with O(state=write), the record as written); null when there is none.
  returned: always
  type: dict
  sample: {"schema": 1, "version": "0.1.0", "capability": "overprovisioning", "written_at": "2026-12-05T12:00:00Z",
           "inputs": "sha256:0f1e...", "kubernetes": [], "aws": [], "helm": []}
ansible_facts:
  description:
    - C(nodeless_eks_record_<capability>), what the run's gate (M(nodeless.eks.convergence_gate), site.yml's last task)
      builds the run record from - the inputs digest, the O(kubernetes) selectors and the time.
  returned: with O(state=write), and with O(state=check) when in sync
  type: dict
  sample: {"nodeless_eks_record_overprovisioning": {"inputs": "sha256:0f1e...", "selectors": [], "at": 1764936000.0}}
changes:
  description: Always empty; the record is bookkeeping, not a managed resource.
  returned: always
  type: list
  elements: dict
  sample: []
diff:
  description: The record's content before and after the write (without C(written_at)).
  returned: always
  type: dict
  sample: {"before": {}, "after": {}}
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.nodeless.eks.plugins.module_utils import convergence as C
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.convergence_reads import namespace_exists, read_record, snapshot, stored_record
from ansible_collections.nodeless.eks.plugins.module_utils.k8s import K8sError, apply

ARGUMENT_SPEC = dict(
    capability=dict(type="str", required=True),
    state=dict(type="str", choices=["check", "write"], default="check"),
    inputs=dict(type="raw", required=True),
    kubernetes=dict(type="list", elements="dict", default=[], options=dict(
        api_version=dict(type="str", required=True),
        kind=dict(type="str", required=True),
        namespace=dict(type="str"),
        label_selector=dict(type="str"),
        names=dict(type="list", elements="str"),
        track=dict(type="str", choices=list(C.TRACKS), default="resourceVersion"),
    )),
    files=dict(type="list", elements="path", default=[]),
    valid_until=dict(type="int"),
    aws=dict(type="list", elements="dict", default=[], options=dict(
        type=dict(type="str", required=True, choices=["subnet", "security_group", "autoscaling_group", "iam_role", "iam_policy",
                                                      "iam_oidc_provider", "eks_fargate_profile", "eks_addon", "sqs_queue",
                                                      "eventbridge_rules"]),
        ids=dict(type="list", elements="str", required=True),
    )),
    **C.RECORD_STORE_ARGS,
)


def check(module, client, params: dict, inputs_digest: str) -> dict:
    record, reasons = stored_record(module, client, params)
    if record is not None and record["inputs"] != inputs_digest:
        reasons = ["the role's inputs changed"]
    elif record is not None:
        wanted = {}
        for entry in record["aws"]:
            wanted.setdefault(entry["type"], []).append(entry["id"])
        live = snapshot(module, client, params, wanted, [e["path"] for e in record.get("files") or []])
        _unused, reasons = C.compare(record, inputs_digest, live, time.time())
    in_sync = record is not None and not reasons
    return dict(changed=False, in_sync=in_sync, reasons=reasons, record=record,
                msg=C.message(params["capability"], in_sync, record, reasons), diff={"before": {}, "after": {}})


def store(client, params: dict, record: dict) -> bool:
    """Write RECORD (and its namespace when missing). A run beside this one (site.yml twice at once) may create either
    first: after a refused write, when the stored record now has this content, nothing is written (False)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": params["namespace"], "labels": dict(C.LABELS)}}
    for attempt in (1, 2):
        try:
            if not namespace_exists(client, params["namespace"]):
                apply(client, namespace, params["field_manager"], dry_run=False)
            apply(client, C.configmap(record, params["namespace"]), params["field_manager"], dry_run=False)
            return True
        except K8sError:
            text, _error = read_record(client, params["namespace"], params["capability"])
            try:
                if text is not None and C.content(C.parse(text)) == C.content(record):
                    return False
            except C.RecordError:
                pass
            if attempt == 2:
                raise
    return True


def write(module, client, params: dict, inputs_digest: str) -> dict:
    text, error = read_record(client, params["namespace"], params["capability"])
    if error:
        module.fail_json(msg=f"{params['capability']}: could not read the convergence record: {error}")
    try:
        stored = C.parse(text) if text is not None else None
    except C.RecordError:
        stored = None
    wanted = {}
    for item in params["aws"]:
        wanted.setdefault(item["type"], []).extend(item["ids"])
    live = snapshot(module, client, params, wanted, params["files"])
    if live["errors"]:
        module.fail_json(msg=f"{params['capability']}: could not read what the record covers: {'; '.join(live['errors'])}")
    # In check mode a resource the run only planned does not exist yet: the record would differ, which is reported.
    errors = C.missing_ids(params["aws"], live["aws"])
    found = {e["path"] for e in live["files"]}
    errors += [f"files: {path} not found" for path in params["files"] if path not in found]
    if errors and not module.check_mode:
        module.fail_json(msg="; ".join(errors), errors=errors)
    record = C.build(params["capability"], inputs_digest, live, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     params["valid_until"])
    diff = {"before": C.content(stored) or {}, "after": C.content(record)}
    if stored is not None and C.content(stored) == C.content(record):
        return dict(changed=False, in_sync=True, reasons=[], record=stored, diff=diff,
                    msg=f"{params['capability']}: record unchanged ({C.count(stored)} objects)")
    if not module.check_mode and not store(client, params, record):
        return dict(changed=False, in_sync=True, reasons=[], record=record, diff=diff,
                    msg=f"{params['capability']}: record unchanged, written by a run beside this one")
    return dict(changed=True, in_sync=True, reasons=[], record=record, diff=diff,
                msg=f"{params['capability']}: record written ({C.count(record)} objects)")


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    errors = C.capability_errors(params["capability"])
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors)
    try:
        from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

        client = get_api_client(kubeconfig=params["kubeconfig"], context=params["context"]).client
    except Exception as exc:  # pylint: disable=broad-except
        if params["state"] == "write":
            module.fail_json(msg=f"{params['capability']}: no Kubernetes client: {exc}")
        reasons = [f"read failed: no Kubernetes client: {exc}"]
        module.exit_json(changed=False, in_sync=False, reasons=reasons, record=None, changes=[], diff={"before": {}, "after": {}},
                         msg=C.message(params["capability"], False, None, reasons))
    inputs_digest = C.digest(params["inputs"])
    try:
        result = (write if params["state"] == "write" else check)(module, client, params, inputs_digest)
    except K8sError as exc:
        module.fail_json(msg=f"{params['capability']}: could not write the convergence record: {exc}")
    if params["state"] == "write" or result["in_sync"]:
        # What the run's gate (convergence_gate, site.yml's last task) builds the run record from.
        result["ansible_facts"] = {C.fact_name(params["capability"]): {
            "inputs": inputs_digest, "selectors": params["kubernetes"], "at": time.time()}}
    module.exit_json(changes=[], **result)


if __name__ == "__main__":
    main()
