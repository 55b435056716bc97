#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: oidc_provider
short_description: Manage the IAM OpenID Connect provider of an EKS cluster
version_added: 0.1.0
description:
  - Creates, updates or deletes the IAM OIDC identity provider that lets IAM trust the tokens an EKS
    cluster's service account issuer signs (IAM Roles for Service Accounts).
  - The issuer comes from the cluster (one C(eks describe-cluster) call) or is given as O(url).
  - Thumbprints are only managed when given or computed; AWS no longer uses them for EKS issuers, so
    leaving them out never reports drift. A provider created without one gets the one IAM reads itself (the top
    intermediate CA's); RV(thumbprint_source) says where they came from.
  - Supports check mode and diff mode; returns C(changes), one entry per provider added, changed or removed.
author:
  - nodeless.eks contributors (@nodeless)
options:
  cluster_name:
    description: EKS cluster whose OIDC issuer the provider trusts. Mutually exclusive with O(url).
    type: str
  url:
    description: Issuer URL (C(https://...)). Mutually exclusive with O(cluster_name).
    type: str
  client_ids:
    description:
      - Audiences (client IDs) the provider accepts; at least one (an empty list is refused, since the provider
        would then accept no token).
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description:
      - SHA-1 thumbprints (40 hex characters) of the issuer's top certificate.
      - When omitted (and O(compute_thumbprint=false)), existing thumbprints are left as they are.
    type: list
    elements: str
  compute_thumbprint:
    description:
      - Compute the thumbprint as eksctl does, the SHA-1 of the top-most certificate in the chain the
        issuer's server presents. Mutually exclusive with O(thumbprints).
      - Reading the chain needs Python 3.13 or newer on the host that runs the module (the standard library has no
        public way to read a server's chain before it). On an older Python the thumbprint is left to IAM, with a
        warning and RV(thumbprint_source=iam); a new provider is created without one (IAM reads the top intermediate
        CA's thumbprint itself), an existing provider's thumbprints are kept. AWS IAM no longer relies on the
        thumbprint for an issuer whose certificate a well-known CA signs, as EKS's are.
    type: bool
    default: false
  issuer_validate_certs:
    description: Verify the issuer's TLS certificate when computing the thumbprint.
    type: bool
    default: true
  tags:
    description: Tags for the provider. When omitted, tags are left as they are.
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags).
    type: bool
    default: true
  state:
    description: Whether the provider exists.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Let IAM trust the cluster's service account tokens
  nodeless.eks.oidc_provider:
    cluster_name: prod-eu
    region: eu-west-1
    tags:
      nodeless.eks/cluster: prod-eu
  register: provider

- name: Pin the issuer's thumbprint as eksctl does
  nodeless.eks.oidc_provider:
    url: https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    compute_thumbprint: true

- name: Remove the provider
  nodeless.eks.oidc_provider:
    cluster_name: prod-eu
    state: absent
"""

RETURN = r"""
arn:
  description: Provider ARN (also predicted in check mode).
  type: str
  returned: when state=present
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE
url:
  description: Issuer as IAM names it, without C(https://).
  type: str
  returned: always
  sample: oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE
client_ids:
  description: Audiences the provider accepts.
  type: list
  elements: str
  returned: when state=present
thumbprints:
  description:
    - Thumbprints the provider holds.
    - Empty for a provider this run created with RV(thumbprint_source=iam), whose thumbprint IAM reads itself.
  type: list
  elements: str
  returned: when state=present
thumbprint_source:
  description:
    - Where the provider's thumbprints come from. C(given) is O(thumbprints); C(computed) is the issuer's chain
      (O(compute_thumbprint)); C(iam) is neither, or O(compute_thumbprint) on a Python older than 3.13, which cannot
      read the chain; then none is sent, IAM reads one when it creates the provider and an existing provider's
      thumbprints are left as they are.
  type: str
  returned: when state=present
  sample: computed
tags:
  description: Provider tags.
  type: dict
  returned: when state=present
changes:
  description: One entry per provider added, changed or removed (see module_utils/changes.py).
  type: list
  elements: dict
  returned: always
  sample: [{resource: "aws:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE", action: add}]
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.nodeless.eks.plugins.module_utils.botocore_models import share_loaders
from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.irsa_trust import STS_AUDIENCE, issuer_host_path
from ansible_collections.nodeless.eks.plugins.module_utils.oidc_provider import chain_readable, left_to_iam, thumbprint_source
from ansible_collections.nodeless.eks.plugins.module_utils.oidc_provider import provider_update, split_host_port, update_is_empty
from ansible_collections.nodeless.eks.plugins.module_utils.oidc_provider import tls_chain, top_certificate_sha1
from ansible_collections.nodeless.eks.plugins.module_utils.regions import check_region


class ProviderError(Exception):
    """A user-facing failure naming the field at fault."""


def issuer_url(module, eks):
    if module.params["url"]:
        if not module.params["url"].startswith("https://"):
            raise ProviderError(f"url: {module.params['url']!r} must start with https://")
        return module.params["url"].rstrip("/")
    name = module.params["cluster_name"]
    try:
        cluster = eks.describe_cluster(name=name, aws_retry=True)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        raise ProviderError(f"cluster_name: EKS cluster {name!r} was not found in region {module.region}") from None
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    if not issuer:
        raise ProviderError(f"cluster_name: EKS cluster {name!r} has no OIDC issuer")
    return issuer.rstrip("/")


def find_provider(client, host_path):
    """One list call, then one get for the match: the provider's current state, or None."""
    for item in client.list_open_id_connect_providers(aws_retry=True)["OpenIDConnectProviderList"]:
        if item["Arn"].endswith(f":oidc-provider/{host_path}"):
            desc = client.get_open_id_connect_provider(OpenIDConnectProviderArn=item["Arn"], aws_retry=True)
            return {"arn": item["Arn"], "url": host_path, "client_ids": sorted(desc.get("ClientIDList") or []),
                    "thumbprints": sorted(desc.get("ThumbprintList") or []),
                    "tags": boto3_tag_list_to_ansible_dict(desc.get("Tags") or [])}
    return None


def desired_state(module, issuer):
    thumbprints = module.params["thumbprints"]
    source = thumbprint_source(thumbprints, module.params["compute_thumbprint"], chain_readable())
    if source == "computed":
        host, port = split_host_port(issuer)
        try:
            thumbprints = [top_certificate_sha1(tls_chain(host, port, module.params["issuer_validate_certs"]))]
        except (OSError, ValueError) as exc:
            raise ProviderError(f"compute_thumbprint: could not read the TLS chain of {host}:{port}: {exc}") from exc
    elif module.params["compute_thumbprint"]:
        module.warn(f"compute_thumbprint: {left_to_iam()}")
    for index, thumb in enumerate(thumbprints or []):
        if len(thumb) != 40 or any(c not in "0123456789abcdefABCDEF" for c in thumb):
            raise ProviderError(f"thumbprints[{index}]: {thumb!r} is not a 40-character hex SHA-1")
    return {"client_ids": sorted(set(module.params["client_ids"])), "thumbprints": thumbprints, "tags": module.params["tags"],
            "thumbprint_source": source}


def apply_update(client, arn, plan):
    for cid in plan["add_client_ids"]:
        client.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=cid, aws_retry=True)
    for cid in plan["remove_client_ids"]:
        client.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=cid, aws_retry=True)
    if plan["thumbprints"] is not None:
        client.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=plan["thumbprints"], aws_retry=True)
    if plan["set_tags"]:
        client.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=ansible_dict_to_boto3_tag_list(plan["set_tags"]), aws_retry=True)
    if plan["remove_tags"]:
        client.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=plan["remove_tags"], aws_retry=True)


def create(client, issuer, want):
    """The new provider's ARN, or None when another run created it after this one read (two jobs at once)."""
    kwargs = {"Url": issuer, "ClientIDList": want["client_ids"], "aws_retry": True}
    if want["thumbprints"]:
        kwargs["ThumbprintList"] = want["thumbprints"]
    if want["tags"]:
        kwargs["Tags"] = ansible_dict_to_boto3_tag_list(want["tags"])
    try:
        return client.create_open_id_connect_provider(**kwargs)["OpenIDConnectProviderArn"]
    except is_boto3_error_code("EntityAlreadyExists"):
        return None


def ensure_present(module, client, current, issuer, want):
    """(before, after, changes); a provider another run created meanwhile is converged like any existing one."""
    host = issuer_host_path(issuer)
    if current is None:
        after = {"url": host, "client_ids": want["client_ids"], "thumbprints": want["thumbprints"] or [], "tags": want["tags"] or {}}
        if module.check_mode:
            return None, dict(after, arn=predicted_arn(module, host)), [change("aws", "oidc-provider", host, "add")]
        arn = create(client, issuer, want)
        if arn:
            return None, dict(after, arn=arn), [change("aws", "oidc-provider", host, "add")]
        current = find_provider(client, host)
        if current is None:  # IAM is eventually consistent: the other run's provider may not be listed yet
            raise ProviderError(f"url: IAM says a provider for {host} exists (another run created it just now) "
                                "but does not list it yet; run again")
    plan = provider_update(current, want, module.params["purge_tags"])
    if update_is_empty(plan):
        return current, current, []
    if not module.check_mode:
        apply_update(client, current["arn"], plan)
    tags = {k: v for k, v in current["tags"].items() if k not in plan["remove_tags"]}
    tags.update(plan["set_tags"])
    after = dict(current, client_ids=want["client_ids"], tags=tags,
                 thumbprints=plan["thumbprints"] if plan["thumbprints"] is not None else current["thumbprints"])
    detail = ", ".join(k for k in ("add_client_ids", "remove_client_ids", "thumbprints", "set_tags", "remove_tags")
                       if plan[k] not in (None, [], {}))
    return current, after, [change("aws", "oidc-provider", host, "change", detail=detail)]


def predicted_arn(module, host):
    """Check mode never creates, so the ARN is built the way IAM builds it (needs the account: one STS call)."""
    sts = module.client("sts", retry_decorator=AWSRetry.jittered_backoff())
    identity = sts.get_caller_identity(aws_retry=True)
    partition = identity["Arn"].split(":")[1]
    return f"arn:{partition}:iam::{identity['Account']}:oidc-provider/{host}"


def main():
    share_loaders()  # models parsed once per process (Mitogen: once per host), not once per client
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster_name=dict(type="str"), url=dict(type="str"),
            client_ids=dict(type="list", elements="str", default=[STS_AUDIENCE]),
            thumbprints=dict(type="list", elements="str"), compute_thumbprint=dict(type="bool", default=False),
            issuer_validate_certs=dict(type="bool", default=True),
            tags=dict(type="dict"), purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        mutually_exclusive=[("cluster_name", "url"), ("thumbprints", "compute_thumbprint")],
        required_one_of=[("cluster_name", "url")],
        supports_check_mode=True,
    )
    check_region(module)
    if module.params["state"] == "present" and not [c for c in module.params["client_ids"] if c]:
        # IAM accepts a provider with no audience; then no token is accepted and every IRSA role of the cluster breaks.
        module.fail_json(msg="client_ids: at least one audience is needed (sts.amazonaws.com for IRSA); "
                             "a provider without one accepts no token")
    retry = AWSRetry.jittered_backoff()
    client = module.client("iam", retry_decorator=retry)
    try:
        issuer = issuer_url(module, module.client("eks", retry_decorator=retry))
        host = issuer_host_path(issuer)
        current = find_provider(client, host)
        if module.params["state"] == "absent":
            changes = [change("aws", "oidc-provider", host, "remove")] if current else []
            if current and not module.check_mode:
                client.delete_open_id_connect_provider(OpenIDConnectProviderArn=current["arn"], aws_retry=True)
            module.exit_json(changed=bool(changes), url=host, changes=changes, diff={"before": current or {}, "after": {}})
        want = desired_state(module, issuer)
        current, after, changes = ensure_present(module, client, current, issuer, want)
    except ProviderError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json_aws(exc, msg="could not converge the OIDC provider")
    module.exit_json(changed=bool(changes), changes=changes, diff={"before": current or {}, "after": after},
                     thumbprint_source=want["thumbprint_source"], **after)


if __name__ == "__main__":
    main()
