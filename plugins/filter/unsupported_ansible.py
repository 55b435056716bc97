# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The collection's module_utils are imported inside the filters, when called: docs/developing.md, "Where code goes".


def unsupported_ansible(version, requirement=None):
    from ansible_collections.nodeless.eks.plugins.plugin_utils.platform import unsupported_ansible as unsupported
    return unsupported(version, requirement)


class FilterModule:
    def filters(self):
        return {"unsupported_ansible": unsupported_ansible}
