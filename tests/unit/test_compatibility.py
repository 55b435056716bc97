"""The collection as a user installs it: the built tarball beside the ansible bundle of the venv running
this test (ansible 14 on the primary platform, ansible 12 on the oldest), offline, nothing fetched."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import ansible_collections
import yaml

from support.toolchain import BIN

REPO = Path(__file__).resolve().parents[2]


def _bundle_version(namespace: str, name: str) -> str:
    for root in ansible_collections.__path__:
        manifest = Path(root) / namespace / name / "MANIFEST.json"
        if manifest.exists():
            return json.loads(manifest.read_text())["collection_info"]["version"]
    raise AssertionError(f"{namespace}.{name} is not in this venv's ansible bundle")


def test_built_collection_installs_offline_beside_the_ansible_bundle(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(dist), str(REPO)],
                   check=True, capture_output=True)
    tarball = next(dist.glob("nodeless-eks-*.tar.gz"))
    dest = tmp_path / "collections"
    # A user's control host: the bundle in site-packages is the only other collection source, and --offline
    # makes any attempt to fetch a dependency from Galaxy fail the install.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(dest), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="true", HOME=str(tmp_path))
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(dest), str(tarball)],
                          env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (dest / "ansible_collections" / "nodeless" / "eks" / "MANIFEST.json").exists()
    installed = {f"{p.parent.name}.{p.name}" for p in (dest / "ansible_collections").glob("*/*")}
    assert installed == {"nodeless.eks"}, f"only nodeless.eks is installed; the dependencies come from the bundle: {installed}"


def test_declared_ranges_hold_this_bundles_dependency_versions():
    from packaging.specifiers import SpecifierSet  # noqa: PLC0415

    dependencies = yaml.safe_load((REPO / "galaxy.yml").read_text())["dependencies"]
    for fqcn, spec in dependencies.items():
        version = _bundle_version(*fqcn.split("."))
        assert SpecifierSet(spec).contains(version), f"{fqcn} {version} of this ansible bundle is outside {spec}"
