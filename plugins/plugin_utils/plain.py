# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: values from Ansible's templating as plain JSON types, for filters handing them to module_utils."""

from __future__ import annotations

import json


def plain(value):
    """Tagged str / dict / list subclasses (Ansible's templating) as plain JSON types; yaml.safe_dump and equality
    against plain values then behave as module_utils expects."""
    return json.loads(json.dumps(value))
