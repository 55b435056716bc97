"""Every playbook is callable by its collection name (`ansible-playbook nodeless.eks.<name>`), as users
and AWX projects outside this repository call it, and the example inventory parses."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.toolchain import BIN, ansible_env

REPO = Path(__file__).resolve().parents[2]
ENV = ansible_env()


def test_every_playbook_resolves_by_collection_name(tmp_path):
    names = sorted(p.stem for p in (REPO / "playbooks").glob("*.yml"))
    assert "site" in names and len(names) >= 13
    # Run from elsewhere, so only the collection name can resolve them.
    proc = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,",
                           *[f"nodeless.eks.{n}" for n in names]], cwd=tmp_path, env=ENV, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_inventory_has_one_host_per_cluster_with_name_and_region():
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(REPO / "examples" / "inventory" / "hosts.yml"), "--list"],
                          env=ENV, capture_output=True, text=True, check=True)
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
    assert len(hostvars) >= 2
    clusters = [(v["nodeless_eks_cluster_name"], v["nodeless_eks_region"]) for v in hostvars.values()]
    assert len(set(clusters)) == len(clusters), "two hosts manage one cluster"
    assert all(v.get("ansible_connection") == "local" for v in hostvars.values())
