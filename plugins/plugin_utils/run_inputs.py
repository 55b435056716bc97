# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's raw inputs, digested on the controller for the run's gate (action plugin convergence_gate).

A role's own gate digests its effective inputs (rendered objects, resolved settings); before any role is included
they do not exist yet. What decides them does: the collection's code and data, the variables the play gives the
roles, the cluster's facts, and the local files and tools those name. A change to any of them changes the digest,
so the run's gate lets every role run and gate itself. Conservative on purpose: a variable of a role prefix that
no role reads still counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("roles", "plugins", "playbooks", "meta")
# Not inputs: the switches that turn the gates off, the facts the roles' record tasks leave for the run record, and
# which capabilities run (the run record answers that: each capability the run's steps record needs an entry, so
# cluster_health added to a run keeps it in sync and karpenter added does not).
IGNORED = ("nodeless_eks_full_check", "nodeless_eks_run_gate", "nodeless_eks_record_", "nodeless_eks_cluster",
           "nodeless_eks_capabilities", "nodeless_eks_default_capabilities", "nodeless_eks_all_capabilities",
           "nodeless_eks_capability_records", "nodeless_eks_independent_records")
# Executables the roles run by name from PATH (kubernetes.core.helm; istio_istioctl's default).
TOOLS = ("helm", "istioctl")
CONTENT_LIMIT = 1 << 20  # files up to 1 MiB count by their bytes, bigger ones by size and modification time
MAX_FILES = 5000  # per directory a variable names (a chart, say); a bigger tree counts by its first files
# Cluster facts that move by themselves (the autoscaler sets a node group's desired size; status while EKS updates).
VOLATILE_CLUSTER = ("status",)
VOLATILE_NODEGROUP_SCALING = ("desiredSize",)

# Roles site.yml runs every time (they keep no record): their variables decide nothing the gate skips.
ALWAYS_RUN = ("access", "cluster_health")
# Variables that name files the roles write, not read: their names count, their bytes do not (the kubeconfig's record
# covers the file; its token renewed would otherwise change the run's inputs).
OUTPUTS = ("kubeconfig_path",)


def role_prefixes(root: Path = COLLECTION_ROOT) -> tuple:
    roles = root / "roles"
    names = sorted(p.name for p in roles.iterdir() if p.is_dir() and p.name not in ALWAYS_RUN) if roles.is_dir() else []
    return tuple(f"{name}_" for name in names) + ("nodeless_eks_",)


def code_digest(root: Path = COLLECTION_ROOT) -> str:
    """sha256 of every file of the collection's roles, plugins, playbooks and meta (about 13 ms; once per host and run:
    only the check computes it)."""
    sha = hashlib.sha256()
    for part in CODE_DIRS:
        base = root / part
        for path in sorted(base.rglob("*")) if base.is_dir() else ():
            if path.is_file() and "__pycache__" not in path.parts:
                sha.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _file_stamp(path: str) -> list:
    stat = os.stat(path)
    if stat.st_size <= CONTENT_LIMIT:
        with open(path, "rb") as handle:
            return [stat.st_size, hashlib.sha256(handle.read()).hexdigest()]
    return [stat.st_size, stat.st_mtime_ns]


def path_stamp(path: str):
    """What says a local file or tree changed: a small file's content (a chart written again with the same bytes
    is the same chart), a big one's size and modification time (a tool's binary: a rebuilt or reinstalled one
    gets a new time)."""
    target = Path(path)
    try:
        if target.is_file():
            return _file_stamp(path)
        if target.is_dir():
            stamps = []
            for top, dirs, files in os.walk(target):
                dirs.sort()
                for name in sorted(files):
                    if len(stamps) >= MAX_FILES:
                        return stamps
                    full = os.path.join(top, name)
                    stamps.append([os.path.relpath(full, target), *_file_stamp(full)])
            return stamps
    except OSError as exc:
        return f"unreadable: {exc.__class__.__name__}"
    return None


def cluster_facts(cluster) -> dict:
    if not isinstance(cluster, dict):
        return {}
    facts = {k: v for k, v in cluster.items() if k not in VOLATILE_CLUSTER}
    if isinstance(facts.get("nodegroups"), list):
        facts["nodegroups"] = [dict(g, scaling={k: v for k, v in (g.get("scaling") or {}).items() if k not in VOLATILE_NODEGROUP_SCALING})
                               if isinstance(g, dict) else g for g in facts["nodegroups"]]
    return facts


def variables(task_vars: dict, template, prefixes: tuple) -> dict:
    """{name: value as the play resolves it} for every variable of a role prefix (not IGNORED). A value that does
    not resolve here (it names a role's own default) counts as written."""
    found = {}
    for name in sorted(task_vars):
        if not name.startswith(prefixes) or name.startswith(IGNORED):
            continue
        try:
            found[name] = _jsonable(template(task_vars[name]))
        except Exception:  # pylint: disable=broad-except
            found[name] = ["unresolved", _jsonable(task_vars[name])]
    return found


def inputs_digest(task_vars: dict, templar, root: Path = COLLECTION_ROOT) -> str:
    def template(value):
        return templar.template(value)

    found = variables(task_vars, template, role_prefixes(root))
    try:
        cluster = template(task_vars.get("nodeless_eks_cluster") or {})
    except Exception:  # pylint: disable=broad-except
        cluster = task_vars.get("nodeless_eks_cluster") or {}
    environment = found.get("nodeless_eks_environment") if isinstance(found.get("nodeless_eks_environment"), dict) else {}
    search = str(environment.get("PATH") or os.environ.get("PATH", ""))
    tools = {tool: shutil.which(tool, path=search) for tool in TOOLS}
    istioctl = found.get("istio_istioctl")
    if isinstance(istioctl, str) and "/" not in istioctl:
        tools["istio_istioctl"] = shutil.which(istioctl, path=search)
    read = {name: value for name, value in found.items() if name not in OUTPUTS}
    paths = sorted({s for s in _strings(read) if s.startswith("/") and len(s) < 4096} | {t for t in tools.values() if t})
    payload = {"code": code_digest(root), "variables": found, "cluster": _jsonable(cluster_facts(cluster)), "tools": tools,
               "paths": {p: path_stamp(p) for p in paths}}
    return "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
