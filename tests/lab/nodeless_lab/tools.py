"""Build the lab's Go tools once, cached outside the clone and keyed by their pins.

Each tool is its own Go module under ``tests/lab/go/<tool>`` (go.mod + go.sum are the pins).
The cache key hashes those files, the ldflags and the Go version, so a changed pin rebuilds
only that tool. A cold build of the control plane takes about 20 minutes on 2 cores, so the
build prints a heartbeat saying what it is waiting for.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

GO_DIR = Path(__file__).resolve().parent.parent / "go"
KUBE_VERSION = "v1.35.4"
ISTIO_VERSION = "1.30.3"
HELM_VERSION = "v3.19.5"


def _kube_ldflags() -> list[str]:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={KUBE_VERSION}", f"-X {pkg}.gitMajor={major}",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean"]
    return flags


@dataclass(frozen=True)
class Tool:
    name: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    pin: str
    ldflags: tuple[str, ...] = field(default=())
    expected_minutes: int = 3


TOOLS = (
    Tool("kube", ("k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
                  "k8s.io/kubernetes/cmd/kube-scheduler"),
         ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
         f"k8s.io/kubernetes {KUBE_VERSION}", tuple(_kube_ldflags()), 20),
    Tool("etcd", (".",), ("etcd",), "go.etcd.io/etcd/server/v3 v3.6.16", (), 4),
    Tool("kwok", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",), "sigs.k8s.io/kwok v0.7.0", (), 5),
    Tool("karpentercrds", (".",), ("karpenter-crds",), "github.com/aws/karpenter-provider-aws v1.14.1", (), 5),
    Tool("helm", ("helm.sh/helm/v3/cmd/helm",), ("helm",), f"helm.sh/helm/v3 {HELM_VERSION}",
         (f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",), 6),
    Tool("istioctl", ("istio.io/istio/istioctl/cmd/istioctl",), ("istioctl",),
         f"istio.io/istio {ISTIO_VERSION} (release-1.30 pseudo-version)",
         (f"-X istio.io/istio/pkg/version.buildVersion={ISTIO_VERSION}",
          f"-X istio.io/istio/pkg/version.buildTag={ISTIO_VERSION}",
          "-X istio.io/istio/pkg/version.buildStatus=Clean"), 15),
)


class BuildError(RuntimeError):
    pass


def cache_root() -> Path:
    env = os.environ.get("NODELESS_LAB_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nodeless-eks"
    return base / "tools"


def _go_version() -> str:
    try:
        return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"Go is needed to build the lab tools and was not found ({exc})") from exc


def tool_key(tool: Tool, go_version: str) -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        path = GO_DIR / tool.name / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    digest.update("\n".join((go_version, *tool.packages, *tool.ldflags, "CGO_ENABLED=0")).encode())
    return digest.hexdigest()[:16]


def tool_dir(tool: Tool, go_version: str | None = None) -> Path:
    return cache_root() / f"{tool.name}-{tool_key(tool, go_version or _go_version())}"


def _heartbeat(stop: threading.Event, tool: Tool, started: float, out) -> None:
    while not stop.wait(30):
        mins, secs = divmod(int(time.monotonic() - started), 60)
        print(f"  ... still compiling {tool.name} ({tool.pin}): {mins}m{secs:02d}s elapsed, "
              f"a cold build takes about {tool.expected_minutes} min on 2 cores", file=out, flush=True)


def build(tool: Tool, go_version: str, out=sys.stdout) -> Path:
    """Build one tool into its cache directory unless it is already there; return its bin dir."""
    final = tool_dir(tool, go_version)
    if all((final / "bin" / b).exists() for b in tool.binaries):
        return final / "bin"
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{tool.name}-", dir=final.parent))
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-mod=readonly")
    out_arg = str(work / "bin" / tool.binaries[0]) if tool.packages == (".",) else str(work / "bin") + "/"
    (work / "bin").mkdir()
    cmd = ["go", "build", "-trimpath", "-ldflags", " ".join(("-s", "-w", *tool.ldflags)), "-o", out_arg, *tool.packages]
    print(f"[lab] building {tool.name} ({', '.join(tool.binaries)}) from {tool.pin}; "
          f"cold: about {tool.expected_minutes} min", file=out, flush=True)
    started = time.monotonic()
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(stop, tool, started, out), daemon=True)
    beat.start()
    try:
        proc = subprocess.run(cmd, cwd=GO_DIR / tool.name, env=env, capture_output=True, text=True, check=False)
    finally:
        stop.set()
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise BuildError(f"building {tool.name} failed (pin: {tool.pin}, module: {GO_DIR / tool.name}):\n"
                         f"$ {' '.join(cmd)}\n{proc.stderr.strip()}")
    if final.exists():  # another build won the race; keep its result
        shutil.rmtree(work, ignore_errors=True)
    else:
        work.rename(final)
    print(f"[lab] built {tool.name} in {time.monotonic() - started:.0f}s -> {final / 'bin'}", file=out, flush=True)
    return final / "bin"


def ensure_all(out=sys.stdout, only: tuple[str, ...] = ()) -> dict[str, Path]:
    """Build what is missing; return {binary name: path}."""
    go_version = _go_version()
    paths: dict[str, Path] = {}
    for tool in TOOLS:
        if only and tool.name not in only:
            continue
        bindir = build(tool, go_version, out)
        for binary in tool.binaries:
            paths[binary] = bindir / binary
    return paths


def binaries() -> dict[str, Path]:
    """Paths of the already-built binaries (raises if one is missing: run `lab build`)."""
    go_version = _go_version()
    paths = {}
    for tool in TOOLS:
        bindir = tool_dir(tool, go_version) / "bin"
        for binary in tool.binaries:
            if not (bindir / binary).exists():
                raise BuildError(f"{binary} is not built yet (pin: {tool.pin}); run `make tools` or `lab build`")
            paths[binary] = bindir / binary
    return paths
