# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes name rules, in one place: DNS-1123 labels (namespaces, label values Karpenter writes names
into) and subdomains (most object names, ServiceAccounts, label-key prefixes)."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_dns1123_label(value) -> bool:
    """Lower-case letters, digits and '-', starting and ending alphanumeric, at most 63 characters."""
    return isinstance(value, str) and len(value) <= 63 and bool(_LABEL.match(value))


def is_dns1123_subdomain(value, max_length: int = 253) -> bool:
    """Dot-separated DNS-1123 labels, at most MAX_LENGTH characters in all."""
    return isinstance(value, str) and len(value) <= max_length and bool(_SUBDOMAIN.match(value))
