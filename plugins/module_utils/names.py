# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name rules, in one place: Kubernetes DNS-1123 labels (namespaces, label values Karpenter writes names
into) and subdomains (most object names, ServiceAccounts, label-key prefixes), and IAM names (role names and ARNs, policy names and ARNs, paths)."""

from __future__ import annotations

import hashlib
import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]+$")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_IAM_PATH = re.compile(r"^/([\x21-\x7e]+/)?$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
ROLE_NAME_MAX = 64
_EKS_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def is_dns1123_label(value) -> bool:
    """Lower-case letters, digits and '-', starting and ending alphanumeric, at most 63 characters."""
    return isinstance(value, str) and len(value) <= 63 and bool(_LABEL.match(value))


def is_dns1123_subdomain(value, max_length: int = 253) -> bool:
    """Dot-separated DNS-1123 labels, at most MAX_LENGTH characters in all."""
    return isinstance(value, str) and len(value) <= max_length and bool(_SUBDOMAIN.match(value))


def is_role_arn(value) -> bool:
    """An IAM role ARN in any partition: arn:aws[-cn|-us-gov...]:iam::<12 digits>:role/<path and name>."""
    return isinstance(value, str) and bool(_ROLE_ARN.match(value))


def service_account_name_errors(namespace, service_account) -> list[tuple[str, str]]:
    """(field, message) for a namespace that is not a DNS-1123 label or an SA name that is not a subdomain."""
    errors = []
    if not is_dns1123_label(namespace):
        errors.append(("namespace", f"{namespace!r} is not a valid namespace name (DNS-1123 label: lower-case "
                                    "letters, digits and '-', at most 63 characters)"))
    if not is_dns1123_subdomain(service_account):
        errors.append(("service_account", f"{service_account!r} is not a valid ServiceAccount name (DNS-1123 subdomain: "
                                          "lower-case letters, digits, '-' and '.', at most 253 characters)"))
    return errors


def bounded_name(name: str, limit: int = ROLE_NAME_MAX) -> str:
    """``name`` if it fits, else a prefix plus an 8-character hash of the whole name (still unique and stable)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('-')}-{digest}"


def role_name_error(name) -> str | None:
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > ROLE_NAME_MAX:
        return f"{name!r} is {len(name)} characters; IAM role names are at most {ROLE_NAME_MAX}"
    if not _ROLE_NAME.match(name):
        return f"{name!r} may only contain letters, digits and +=,.@_-"
    return None


def is_policy_name(value) -> bool:
    """An IAM (managed) policy name: 1 to 128 of letters, digits and +=,.@_-."""
    return isinstance(value, str) and bool(_POLICY_NAME.match(value))


def iam_path_error(path) -> str | None:
    if not isinstance(path, str) or len(path) > 512 or not _IAM_PATH.match(path):
        return f"{path!r} is not an IAM path: it starts and ends with '/', e.g. /irsa/"
    return None


def is_policy_arn(value) -> bool:
    return isinstance(value, str) and bool(_POLICY_ARN.match(value))


def cluster_identity_error(name, region) -> str:
    """'' when NAME is an EKS cluster name and REGION is shaped like an AWS region, else one message naming both
    (the common role's preflight: every role reads the cluster by these two)."""
    if isinstance(name, str) and _EKS_CLUSTER_NAME.match(name) and isinstance(region, str) and _REGION_NAME.match(region):
        return ""
    return (f"nodeless_eks_cluster_name ({name or 'unset'}) must be an EKS cluster name and nodeless_eks_region "
            f"({region or 'unset'}) an AWS region such as eu-west-1. Set both per inventory host (or "
            "NODELESS_EKS_CLUSTER_NAME / NODELESS_EKS_REGION).")
