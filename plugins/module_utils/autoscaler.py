# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster-autoscaler's image and command line for one EKS cluster. Pure functions, no I/O.

cluster-autoscaler is released once per Kubernetes minor and only supports that minor, so the
image follows the cluster's version (``eks describe-cluster``) through ``RELEASES``.
"""

from __future__ import annotations

import re

REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"

# Kubernetes minor -> latest known cluster-autoscaler patch for it (github.com/kubernetes/autoscaler/releases,
# images promoted in kubernetes/k8s.io). Minors EKS no longer supports are left out on purpose: pass an image.
RELEASES = {
    "1.32": "1.32.5",
    "1.33": "1.33.5",
    "1.34": "1.34.4",
    "1.35": "1.35.1",
    "1.36": "1.36.0",
}

# Expanders cluster-autoscaler knows; `price` needs a cloud pricing model, which the AWS provider lacks.
EXPANDERS = ("random", "most-pods", "least-waste", "least-nodes", "priority", "grpc", "price")
AWS_UNSUPPORTED_EXPANDERS = {"price": "the AWS cloud provider has no pricing model"}

DISCOVERY_ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"
_FLAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def discovery_tags(cluster_name: str) -> dict:
    """The ASG tags --node-group-auto-discovery looks for, with the values nodeless.eks.asg_tags writes."""
    return {DISCOVERY_ENABLED_TAG: "true", f"k8s.io/cluster-autoscaler/{cluster_name}": "owned"}


def release(minor: str, overrides: dict | None = None) -> str | None:
    """The cluster-autoscaler version for a Kubernetes minor, or None when none is known."""
    known = dict(RELEASES, **{str(k): str(v) for k, v in (overrides or {}).items()})
    version = known.get(str(minor))
    return version.lstrip("v") if version else None


def expander_errors(expander: str) -> list[str]:
    """Problems with an --expander value (a comma-separated chain, tried in order)."""
    names = [n.strip() for n in str(expander or "").split(",")]
    errors = []
    for name in names:
        if name not in EXPANDERS:
            errors.append(f"cluster_autoscaler_expander: unknown expander {name!r}; choose from {', '.join(EXPANDERS[:-1])}")
        elif name in AWS_UNSUPPORTED_EXPANDERS:
            errors.append(f"cluster_autoscaler_expander: {name!r} cannot be used on EKS: {AWS_UNSUPPORTED_EXPANDERS[name]}")
    if len(set(names)) != len(names):
        errors.append(f"cluster_autoscaler_expander: {expander!r} names an expander twice")
    return errors


def _flag(name: str, value) -> str:
    if value is True:
        return f"--{name}"
    if value is False:
        return f"--{name}=false"
    return f"--{name}={value}"


def managed_flags(cluster_name: str, namespace: str, expander: str, balance_similar_node_groups: bool,
                  expendable_cutoff: int) -> dict:
    """The flags this collection sets; they are what makes cluster-autoscaler work on EKS without surprises."""
    enabled, owned = discovery_tags(cluster_name)
    return {
        "cloud-provider": "aws",
        "namespace": namespace,
        "node-group-auto-discovery": f"asg:tag={enabled},{owned}",
        "expander": expander,
        "balance-similar-node-groups": bool(balance_similar_node_groups),
        # Nodes running kube-system pods (CoreDNS, metrics-server) could otherwise never be scaled down.
        "skip-nodes-with-system-pods": False,
        # emptyDir is local storage; almost every pod has one, so the upstream default blocks scale-down.
        "skip-nodes-with-local-storage": False,
        "expendable-pods-priority-cutoff": int(expendable_cutoff),
        "stderrthreshold": "info",
        "v": 4,
    }


def plan(cluster_name: str, version: str, image: str = "", repository: str = REPOSITORY, releases: dict | None = None,
         namespace: str = "kube-system", expander: str = "least-waste", balance_similar_node_groups: bool = True,
         expendable_cutoff: int = -10, extra_flags: dict | None = None) -> dict:
    """{image, version, command, discovery_tags, errors}: everything the role renders, and every input problem."""
    errors = expander_errors(expander)
    chosen = release(version, releases)
    if image:
        chosen_image = image
    elif chosen:
        chosen_image = f"{repository}:v{chosen}"
    else:
        chosen_image = ""
        errors.append(f"cluster_autoscaler_image: no cluster-autoscaler release is known for Kubernetes {version} "
                      f"(known: {', '.join(sorted(dict(RELEASES, **(releases or {}))))}); set cluster_autoscaler_image "
                      "to an image built for this minor, or add it to cluster_autoscaler_releases")
    flags = managed_flags(cluster_name, namespace, expander, balance_similar_node_groups, expendable_cutoff)
    for name, value in sorted((extra_flags or {}).items()):
        key = str(name).lstrip("-")
        if not _FLAG_NAME.match(key):
            errors.append(f"cluster_autoscaler_extra_flags.{name}: not a flag name (lower-case words joined by '-')")
        elif key in flags:
            errors.append(f"cluster_autoscaler_extra_flags.{name}: set by the role; use its own variable instead")
        else:
            flags[key] = value
    if "grpc" in str(expander).split(",") and "grpc-expander-url" not in flags:
        errors.append("cluster_autoscaler_expander: grpc needs cluster_autoscaler_extra_flags.grpc-expander-url")
    command = ["./cluster-autoscaler"] + [_flag(k, v) for k, v in flags.items()]
    return {"image": chosen_image, "version": chosen, "command": command, "discovery_tags": discovery_tags(cluster_name),
            "errors": errors}


_WHOLE = re.compile(r"^[0-9]+$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_RESOURCE_TAG = re.compile(r"^aws:ResourceTag/")


def policy_tags(policy: dict) -> dict:
    """The tag conditions of a policy's statements, ``{tag key: value}``: each ``StringEquals`` key
    ``aws:ResourceTag/<key>`` of a statement with a ``Condition`` (a later statement's value wins)."""
    tags = {}
    for statement in policy.get("Statement") or []:
        if "Condition" not in statement:
            continue
        equals = statement["Condition"].get("StringEquals", {}) if isinstance(statement["Condition"], dict) else {}
        for key, value in (equals or {}).items():
            if _RESOURCE_TAG.match(str(key)):
                tags[_RESOURCE_TAG.sub("", str(key))] = value
    return tags


def _lacks(wanted: dict, tags: dict) -> bool:
    """Whether TAGS lacks one of WANTED's items (key and value)."""
    return any(item not in tags.items() for item in wanted.items())


def role_errors(planned: dict, cluster: dict, policy: dict, replicas, expendable_cutoff) -> list[str]:
    """Every broken setting of the cluster_autoscaler role at once: the errors of PLANNED (what :func:`plan` returned:
    image, expander, flags), then replicas and the cutoff as whole numbers, the cluster's OIDC issuer, and the IAM
    policy's tag conditions among the plan's discovery tags (else cluster-autoscaler would find node groups it may not
    scale). Worded as the role printed them from vars Jinja before."""
    errors = list(planned.get("errors") or [])
    if not _WHOLE.match(str(replicas)) or not _INTEGER.match(str(expendable_cutoff)):
        errors.append(f"cluster_autoscaler_replicas ({replicas}) must be a whole number and "
                      f"cluster_autoscaler_expendable_pods_priority_cutoff ({expendable_cutoff}) an integer.")
    if not cluster.get("oidc_issuer"):
        errors.append(f"nodeless_eks_cluster_name: cluster {cluster.get('name')} has no OIDC issuer, so cluster-autoscaler cannot "
                      "get AWS credentials through IRSA. Enable the issuer (eksctl utils associate-iam-oidc-provider).")
    conditions, wanted = policy_tags(policy), planned.get("discovery_tags") or {}
    if not conditions or _lacks(conditions, wanted):
        errors.append(f"The cluster_autoscaler policy's tag conditions {conditions} are not among the discovery tags {wanted}; "
                      "cluster-autoscaler would find node groups it may not scale.")
    return errors


def lacking(asgs: list, wanted: dict, asg_tags: dict) -> list:
    """The ASGs (in ASGS' order) whose tags in ASG_TAGS (name -> tags; absent: none) lack an item of WANTED."""
    return [asg for asg in asgs if _lacks(wanted, asg_tags.get(asg, {}))]
