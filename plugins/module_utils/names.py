# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name rules, in one place: Kubernetes DNS-1123 labels (namespaces, label values Karpenter writes names
into) and subdomains (most object names, ServiceAccounts, label-key prefixes), and IAM role ARNs."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def is_dns1123_label(value) -> bool:
    """Lower-case letters, digits and '-', starting and ending alphanumeric, at most 63 characters."""
    return isinstance(value, str) and len(value) <= 63 and bool(_LABEL.match(value))


def is_dns1123_subdomain(value, max_length: int = 253) -> bool:
    """Dot-separated DNS-1123 labels, at most MAX_LENGTH characters in all."""
    return isinstance(value, str) and len(value) <= max_length and bool(_SUBDOMAIN.match(value))


def is_role_arn(value) -> bool:
    """An IAM role ARN in any partition: arn:aws[-cn|-us-gov...]:iam::<12 digits>:role/<path and name>."""
    return isinstance(value, str) and bool(_ROLE_ARN.match(value))
