# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests ``dns1123_label`` and ``dns1123_subdomain``: the Kubernetes name rules of module_utils/names.py,
for role preflights, so a role checks a name the way the modules do."""

from __future__ import annotations

# The collection's module_utils are imported inside the tests, when called: docs/developing.md, "Where code goes".


def dns1123_label(value):
    from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_label
    return is_dns1123_label(value)


def dns1123_subdomain(value, max_length=253):
    from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_subdomain
    return is_dns1123_subdomain(value, max_length)


class TestModule:
    def tests(self):
        return {"dns1123_label": dns1123_label, "dns1123_subdomain": dns1123_subdomain}
