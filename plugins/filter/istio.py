# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the istio role uses before it writes anything; the logic lives in module_utils/istio.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def istio_mtls_errors(mode, exceptions, workload_exceptions, root_namespace, allow_disable_mesh_wide=False,
                      known_namespaces=None):
    """Every problem with the role's mTLS variables, each naming its variable; [] when all is well. With
    KNOWN_NAMESPACES, an exception whose namespace is not among them is a problem too."""
    from ansible_collections.nodeless.eks.plugins.module_utils.istio import missing_namespaces
    from ansible_collections.nodeless.eks.plugins.module_utils.istio import validate
    errors = validate(mode, exceptions, workload_exceptions, root_namespace, allow_disable_mesh_wide)
    if known_namespaces is not None:
        errors += missing_namespaces(exceptions, workload_exceptions, set(known_namespaces))
    return errors


def istio_errors(settings):
    """Every broken setting of the istio role (module_utils/istio.py role_errors); values as given, so each message
    shows them as the user wrote them."""
    from ansible_collections.nodeless.eks.plugins.module_utils.istio import role_errors
    return role_errors(dict(settings or {}))


def istio_peer_authentications(mode, root_namespace, exceptions=None, workload_exceptions=None):
    """The PeerAuthentication manifests the role will own (mesh-wide default first)."""
    from ansible_collections.nodeless.eks.plugins.module_utils.istio import desired_policies
    return desired_policies(root_namespace, mode, exceptions, workload_exceptions)


def istio_namespace_writes(namespaces, enroll, labels, exceptions=None):
    """Namespaces to apply: enrolled ones lacking ``labels``; exceptions with ``create: true`` that do not exist."""
    from ansible_collections.nodeless.eks.plugins.module_utils.istio import namespace_writes
    create = [e["namespace"] for e in exceptions or [] if isinstance(e, dict) and e.get("create")]
    return namespace_writes(namespaces, enroll, labels, create)


class FilterModule:
    def filters(self):
        return {
            "istio_errors": istio_errors,
            "istio_mtls_errors": istio_mtls_errors,
            "istio_peer_authentications": istio_peer_authentications,
            "istio_namespace_writes": istio_namespace_writes,
        }
