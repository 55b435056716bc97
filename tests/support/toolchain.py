"""The Ansible install the tests drive: the venv of the interpreter running them (`.venv`, the primary
platform, or `.venv-oldest`, the oldest supported one; docs/compatibility.md) and its collections path,
so one test serves both platforms."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# A venv's python is not resolved through its symlink, so this is the venv's own bin directory.
BIN = Path(sys.executable).parent
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".collections")


def ansible_env(extra: dict | None = None) -> dict:
    """os.environ with the collections of this platform and nothing from the machine's own paths."""
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", **(extra or {}))
