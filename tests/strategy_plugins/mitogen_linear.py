"""Mitogen's linear strategy from whichever venv runs ansible-playbook (tests/ansible.cfg names this folder).

Mitogen's documented setup points `strategy_plugins` at `ansible_mitogen/plugins/strategy` inside
site-packages, a path that names the Python version; this re-export keeps tests/ansible.cfg the same for
the primary (.venv) and the oldest (.venv-oldest) platform.
"""
from __future__ import annotations

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
