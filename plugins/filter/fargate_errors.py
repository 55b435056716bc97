# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``fargate_errors`` (documented in fargate_errors.yml); the logic lives in module_utils/fargate.py."""

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".

from ansible_collections.nodeless.eks.plugins.plugin_utils.plain import plain


def fargate_errors(profiles, exposure, default_subnets, coredns, coredns_namespace, cluster_name):
    from ansible_collections.nodeless.eks.plugins.module_utils.fargate import role_errors
    return role_errors(plain(list(profiles or [])), plain(dict(exposure or {})), plain(list(default_subnets or [])),
                       bool(coredns), str(coredns_namespace), str(cluster_name))


class FilterModule:
    def filters(self):
        return {"fargate_errors": fargate_errors}
