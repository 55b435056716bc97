# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``subnet_tags_covered``: the discovery_tags role leaves out a call an earlier one of the run covers."""

from __future__ import annotations

import json

from ansible_collections.nodeless.eks.plugins.module_utils.tags import subnet_pass_covered


def subnet_tags_covered(request, done):
    # Plain types: Ansible's tagged values compare and hash like their plain counterparts, lists of them too.
    return subnet_pass_covered(json.loads(json.dumps(list(done or []))), json.loads(json.dumps(dict(request))))


class FilterModule:
    def filters(self):
        return {"subnet_tags_covered": subnet_tags_covered}
