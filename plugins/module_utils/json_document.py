# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON documents given as module options (queue policies, event patterns): a dict, or its JSON text."""

from __future__ import annotations

import json


def json_object(value, field: str, error: type[Exception]) -> dict:
    """VALUE as a dict: a dict is taken as is, text (str or bytes) is parsed as JSON. Anything else, or
    text that is not a JSON object, raises ERROR with a message that starts with FIELD."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise error(f"{field}: not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{field}: must be a JSON object (a dict), not {type(value).__name__}")
    return value
