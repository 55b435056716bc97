"""The supported ansible-core range: declared once (meta/runtime.yml) and enforced from there."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as ansible_core_version

from ansible_collections.nodeless.eks.plugins.plugin_utils.platform import requires_ansible, unsupported_ansible

REPO = Path(__file__).resolve().parents[4]


def test_the_range_is_the_one_meta_runtime_declares():
    declared = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["requires_ansible"]
    assert requires_ansible() == declared


@pytest.mark.parametrize("version", ["2.19.0", "2.19.14", "2.20.10", "2.21.5", "2.21.0rc1"])
def test_every_tested_release_is_supported(version):
    assert unsupported_ansible(version) == ""


def test_the_running_ansible_core_is_supported():
    assert unsupported_ansible(ansible_core_version) == ""


@pytest.mark.parametrize("version", ["2.18.19", "2.17.0", "2.22.0", "3.0.0"])
def test_a_release_outside_the_range_is_refused_with_the_range(version):
    message = unsupported_ansible(version)
    assert message.startswith(f"nodeless.eks supports ansible-core {requires_ansible()} ")
    assert f"this is ansible-core {version}" in message


def test_an_explicit_requirement_overrides_the_declared_one():
    assert unsupported_ansible("2.18.1", ">=2.18") == ""
