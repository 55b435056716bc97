# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``common_errors`` (documented in common_errors.yml): the common role's preflight in one task."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def common_errors(ansible_version, name, region, type_errors=None):
    """Why the common role must stop, in the order a user fixes them: the ansible-core release, settings of the
    wrong type, then the cluster name and region."""
    from ansible_collections.nodeless.eks.plugins.module_utils.names import cluster_identity_error
    from ansible_collections.nodeless.eks.plugins.plugin_utils.platform import unsupported_ansible

    errors = [unsupported_ansible(str(ansible_version))] + [str(e) for e in type_errors or []]
    return [e for e in errors + [cluster_identity_error(name, region)] if e]


class FilterModule:
    def filters(self):
        return {"common_errors": common_errors}
