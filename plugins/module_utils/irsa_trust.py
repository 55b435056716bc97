# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IRSA trust: the OIDC provider's ARN for a cluster's issuer, a ServiceAccount's token subject, and the role trust
policy that lets exactly that ServiceAccount assume a role through STS (no wildcards).

Pure functions. Used by the irsa plan (``irsa_plan``), ``eks_addon`` and the ``oidc_provider`` module.
"""

from __future__ import annotations

import re

STS_AUDIENCE = "sts.amazonaws.com"
TRUST_POLICY_LIMIT = 2048  # characters, the default role trust policy quota (adjustable to 4096)


def issuer_host_path(issuer: str) -> str:
    return re.sub(r"^https://", "", issuer or "").rstrip("/")


def provider_arn(partition: str, account_id: str, issuer: str) -> str:
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{issuer_host_path(issuer)}"


def subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def trust_policy(provider: str, issuer: str, namespace: str, service_account: str, audience: str = STS_AUDIENCE) -> dict:
    """Only this ServiceAccount's tokens, for STS, from this cluster's provider: no wildcards."""
    host = issuer_host_path(issuer)
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{host}:sub": subject(namespace, service_account), f"{host}:aud": audience}},
        }],
    }
