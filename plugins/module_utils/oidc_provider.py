# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``oidc_provider`` module's logic: where the provider's thumbprint comes from, the issuer's thumbprint (read over
one TLS handshake, where this Python can read a certificate chain) and what to change on an existing IAM OIDC provider
(client ids, thumbprints, tags).
"""

from __future__ import annotations

import hashlib
import platform

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.nodeless.eks.plugins.module_utils.irsa_trust import issuer_host_path


def top_certificate_sha1(chain_der: list[bytes]) -> str:
    """eksctl's thumbprint: SHA-1 of the last (top-most) certificate the issuer's server sends, lower-case hex."""
    if not chain_der:
        raise ValueError("the issuer's server sent no certificate")
    return hashlib.sha1(chain_der[-1]).hexdigest()  # nosec: IAM defines the thumbprint as SHA-1


# IAM's CreateOpenIDConnectProvider takes no ThumbprintList as well (botocore's model requires only Url): IAM then reads
# the top intermediate CA's thumbprint itself, and for issuers whose certificate a well-known CA signs (EKS's) it
# relies on its own trusted CAs, not on the thumbprint.
LEFT_TO_IAM = ("this Python ({version}) has no public way to read the issuer's certificate chain (ssl.SSLSocket."
               "get_unverified_chain is public from Python 3.13), so the thumbprint is left to IAM: a new provider is created "
               "without one (IAM reads the top intermediate CA's thumbprint itself), an existing provider's are kept; "
               "give thumbprints to pin them")


def left_to_iam() -> str:
    """Why the thumbprint is left to IAM on this Python, and what to do instead."""
    return LEFT_TO_IAM.format(version=platform.python_version())


def chain_readable() -> bool:
    """Whether this Python reads a server's certificate chain through ssl's public API (3.13 and newer)."""
    import ssl

    return hasattr(ssl.SSLSocket, "get_unverified_chain")


def thumbprint_source(thumbprints, compute: bool, readable: bool) -> str:
    """Where the provider's thumbprints come from: ``given`` (the thumbprints option), ``computed`` (read from the
    issuer's chain), or ``iam`` (neither, or asked to compute where the chain cannot be read: none is sent, IAM reads
    one when it creates the provider, an existing provider's are left as they are)."""
    if thumbprints:
        return "given"
    return "computed" if compute and readable else "iam"


def tls_chain(host: str, port: int = 443, validate: bool = True, timeout: float = 10.0) -> list[bytes]:
    """The certificate chain (DER, leaf first) the server presents, read with ssl's public
    SSLSocket.get_unverified_chain (Python 3.13 and newer; ``chain_readable`` says whether this Python has it)."""
    import socket
    import ssl

    if not chain_readable():
        raise ValueError(left_to_iam())
    context = ssl.create_default_context()
    if not validate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            chain = tls.get_unverified_chain() or []
            return [c if isinstance(c, bytes) else ssl.PEM_cert_to_DER_cert(c.public_bytes()) for c in chain]


def split_host_port(url: str) -> tuple[str, int]:
    host = issuer_host_path(url).split("/", 1)[0]
    if ":" in host:
        name, port = host.rsplit(":", 1)
        return name, int(port)
    return host, 443


def provider_update(current: dict | None, desired: dict, purge_tags: bool = True) -> dict:
    """What to change on an existing provider: client ids to add/remove, new thumbprints, tags to set/remove.

    ``desired['thumbprints']`` None means "not managed": no drift is invented for EKS issuers.
    ``desired['tags']`` None means tags are left alone.
    """
    current = current or {}
    have_ids, want_ids = set(current.get("client_ids") or []), set(desired.get("client_ids") or [])
    plan = {"add_client_ids": sorted(want_ids - have_ids), "remove_client_ids": sorted(have_ids - want_ids),
            "thumbprints": None, "set_tags": {}, "remove_tags": []}
    want_thumbs = desired.get("thumbprints")
    if want_thumbs is not None and sorted(t.lower() for t in want_thumbs) != sorted(t.lower() for t in current.get("thumbprints") or []):
        plan["thumbprints"] = [t.lower() for t in want_thumbs]
    if desired.get("tags") is not None:
        set_tags, remove_tags = compare_aws_tags(current.get("tags") or {}, desired["tags"], purge_tags=purge_tags)
        plan["set_tags"], plan["remove_tags"] = set_tags, sorted(remove_tags)
    return plan


def update_is_empty(plan: dict) -> bool:
    return not (plan["add_client_ids"] or plan["remove_client_ids"] or plan["thumbprints"] is not None
                or plan["set_tags"] or plan["remove_tags"])
