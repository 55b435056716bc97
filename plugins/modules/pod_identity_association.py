#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pod_identity_association
short_description: Manage EKS Pod Identity associations (service account to IAM role) of a cluster
version_added: 0.2.0
description:
  - Binds Kubernetes service accounts to IAM roles with EKS Pod Identity. Several associations are managed in one
    call; each names a service account by O(associations[].namespace) and O(associations[].service_account).
  - Reads the cluster's associations once (one paginated list, then one describe per listed service account that has
    an association), compares locally, then creates, updates (role, session tags) or deletes only what differs.
    Every item is validated before any read or write, and every problem is reported together.
  - EKS allows one association per service account, so listing one service account twice is an error. Associations
    this call does not list are never touched. An association an EKS add-on owns (created through the add-on's
    C(podIdentityAssociations)) is refused; change it with M(nodeless.eks.eks_addon).
  - The role's trust policy must let C(pods.eks.amazonaws.com) call C(sts:AssumeRole) and C(sts:TagSession); the
    C(nodeless.eks.pod_identity) module_utils renders it. EKS does not check it when the association is made, the
    pod's credentials fail later. The Pod Identity agent add-on (C(eks-pod-identity-agent)) must run on the nodes.
  - Check mode reads only and returns the same C(changes) and C(diff) the real run makes.
author:
  - nodeless.eks contributors (@nodeless)
options:
  associations:
    description: The associations this task manages.
    type: list
    elements: dict
    required: true
    suboptions:
      namespace:
        description: Kubernetes namespace of the service account.
        type: str
        required: true
      service_account:
        description: Name of the Kubernetes service account. It need not exist yet.
        type: str
        required: true
      role_arn:
        description: ARN of the IAM role the service account's pods get. Required when O(associations[].state=present).
        type: str
      disable_session_tags:
        description: Do not add the session tags EKS sets (cluster, namespace, service account, pod) to the role session.
        type: bool
        default: false
      state:
        description: Whether the association exists.
        type: str
        choices: [present, absent]
        default: present
extends_documentation_fragment:
  - nodeless.eks.eks_cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Give the EBS CSI controller and a workload their roles through Pod Identity
  nodeless.eks.pod_identity_association:
    cluster_name: prod-eu
    associations:
      - namespace: kube-system
        service_account: ebs-csi-controller-sa
        role_arn: arn:aws:iam::123456789012:role/prod-eu-ebs-csi
      - namespace: payments
        service_account: api
        role_arn: arn:aws:iam::123456789012:role/payments-api
        disable_session_tags: true

- name: Remove an association
  nodeless.eks.pod_identity_association:
    cluster_name: prod-eu
    associations:
      - namespace: payments
        service_account: api
        state: absent
"""

RETURN = r"""
associations:
  description: Each listed association after the run (in check mode, as it would be), in the order given; C(null) for an absent one.
  type: list
  elements: dict
  returned: always
  sample:
    - namespace: payments
      service_account: api
      role_arn: arn:aws:iam::123456789012:role/payments-api
      disable_session_tags: false
      association_id: a-1b2c3d4e5f6g7h8i9
      association_arn: arn:aws:eks:eu-west-1:123456789012:podidentityassociation/prod-eu/a-1b2c3d4e5f6g7h8i9
      owner_arn: null
changes:
  description: One entry per association added, changed or removed (see module_utils/changes.py), the same in check mode.
  type: list
  elements: dict
  returned: always
  sample: [{"resource": "aws:pod-identity-association/prod-eu/payments/api", "action": "change", "detail": "role_arn"}]
diff:
  description: The listed associations' role and session-tag setting before and after, keyed C(namespace/service_account).
  type: dict
  returned: always
  contains:
    before:
      description: The associations before the run; a service account without one is left out.
      type: dict
    after:
      description: The associations after the run; an absent one is left out.
      type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.nodeless.eks.plugins.module_utils import pod_identity as pi
from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region

ASSOCIATION_SPEC = dict(
    namespace=dict(type="str", required=True),
    service_account=dict(type="str", required=True),
    role_arn=dict(type="str"),
    disable_session_tags=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)
_ACTION = {"create": "add", "update": "change", "delete": "remove"}


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(cluster_name=dict(type="str", required=True),
                           associations=dict(type="list", elements="dict", required=True, options=ASSOCIATION_SPEC)),
        supports_check_mode=True,
    )
    check_region(module)
    cluster = module.params["cluster_name"]
    try:
        wanted = pi.validate(module.params["associations"])
    except pi.PodIdentityError as exc:
        module.fail_json(msg=str(exc))
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = pi.read(client, cluster, wanted)
        steps = pi.plan(wanted, current)
        results = {w["key"]: pi.predicted(w, current.get(w["key"])) for w, _verb, _differs in steps}
        if not module.check_mode:
            results.update(pi.apply(client, cluster, steps, current))
    except pi.PodIdentityError as exc:
        module.fail_json(msg=str(exc))
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster!r} was not found in region {module.region}")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg=f"Pod Identity associations of EKS cluster {cluster!r}")
    changes = [change("aws", "pod-identity-association", f"{cluster}/{w['key']}", _ACTION[verb], detail=", ".join(differs) or None)
               for w, verb, differs in steps if verb]
    before = {w["key"]: pi.diff_view(pi.view(current[w["key"]])) for w, _verb, _d in steps if w["key"] in current}
    after = {key: pi.diff_view(item) for key, item in results.items() if item}
    module.exit_json(changed=bool(changes), changes=changes, associations=[results[w["key"]] for w, _verb, _d in steps],
                     diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
