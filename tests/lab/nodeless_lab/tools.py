"""Build the lab's Go tools once, cached outside the clone and keyed by their pins.

Each tool is its own Go module under ``tests/lab/go/<tool>`` (go.mod + go.sum are the pins).
The cache key hashes those files, the ldflags and the Go version, so a changed pin rebuilds
only that tool. A cold build of the control plane takes about 20 minutes on 2 cores, so the
build prints a heartbeat saying what it is waiting for.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
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
KARPENTER_VERSION = "1.14.1"
# The version the external_dns role deploys (external_dns_image); a unit test keeps the two equal.
EXTERNAL_DNS_VERSION = "0.19.0"
# The previous minor's latest patch: the lab runs it before an upgrade to KARPENTER_VERSION (docs/karpenter.md).
KARPENTER_PREVIOUS_VERSION = "1.13.1"
# Upstream's charts/karpenter/crds/ holds links to pkg/apis/crds/ (the published chart carries the files);
# module zips drop links, so the build copies the CRDs from pkg/apis/crds into the chart's crds/.
KARPENTER_CRDS = "pkg/apis/crds"


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
    # (module@version, chart directory in its zip, its crds/ directory in the zip or ""): charts copied from the
    # module into the tool's cache dir
    charts: tuple[tuple[str, str, str], ...] = field(default=())


TOOLS = (
    Tool("kube", ("k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
                  "k8s.io/kubernetes/cmd/kube-scheduler"),
         ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
         f"k8s.io/kubernetes {KUBE_VERSION}", tuple(_kube_ldflags()), 20),
    Tool("etcd", (".",), ("etcd",), "go.etcd.io/etcd/server/v3 v3.6.16", (), 4),
    Tool("kwok", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",), "sigs.k8s.io/kwok v0.7.0", (), 5),
    Tool("karpentercrds", (".",), ("karpenter-crds",), "github.com/aws/karpenter-provider-aws v1.14.1", (), 5),
    Tool("karpenter", ("github.com/aws/karpenter-provider-aws/cmd/controller",), ("karpenter",),
         f"github.com/aws/karpenter-provider-aws v{KARPENTER_VERSION} (sigs.k8s.io/karpenter replaced by its v{KARPENTER_VERSION} tag)",
         (f"-X sigs.k8s.io/karpenter/pkg/operator.Version={KARPENTER_VERSION}",), 4,
         ((f"github.com/aws/karpenter-provider-aws@v{KARPENTER_VERSION}", "charts/karpenter", KARPENTER_CRDS),)),
    Tool("karpenterprev", ("github.com/aws/karpenter-provider-aws/cmd/controller",), ("karpenter-previous",),
         f"github.com/aws/karpenter-provider-aws v{KARPENTER_PREVIOUS_VERSION}",
         (f"-X sigs.k8s.io/karpenter/pkg/operator.Version={KARPENTER_PREVIOUS_VERSION}",), 4,
         ((f"github.com/aws/karpenter-provider-aws@v{KARPENTER_PREVIOUS_VERSION}", "charts/karpenter", KARPENTER_CRDS),)),
    Tool("helm", ("helm.sh/helm/v3/cmd/helm",), ("helm",), f"helm.sh/helm/v3 {HELM_VERSION}",
         (f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",), 6),
    Tool("istioctl", ("istio.io/istio/istioctl/cmd/istioctl",), ("istioctl",),
         f"istio.io/istio {ISTIO_VERSION} (release-1.30 pseudo-version)",
         (f"-X istio.io/istio/pkg/version.buildVersion={ISTIO_VERSION}",
          f"-X istio.io/istio/pkg/version.buildTag={ISTIO_VERSION}",
          "-X istio.io/istio/pkg/version.buildStatus=Clean"), 15),
    Tool("externaldns", ("sigs.k8s.io/external-dns",), ("external-dns",),
         f"sigs.k8s.io/external-dns v{EXTERNAL_DNS_VERSION} (vbom.ml/util replaced by github.com/fvbommel/util)",
         (f"-X sigs.k8s.io/external-dns/pkg/apis/externaldns.Version=v{EXTERNAL_DNS_VERSION}",), 8),
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


def stamp_chart(chart_yaml: str, values_yaml: str, version: str) -> tuple[str, str]:
    """Chart.yaml and values.yaml as upstream's release job publishes them: version, appVersion and the
    controller image's tag set to the module's version (the digest is unknown here and dropped: the lab
    pulls no image). Text edits, so every other line and comment stays upstream's."""
    chart_yaml = re.sub(r"^(version|appVersion): .*$", rf"\1: {version}", chart_yaml, flags=re.M)
    values_yaml = re.sub(r"^(  image:\n(?:    .*\n)*?    tag: ).*$", rf"\g<1>{version}", values_yaml, count=1, flags=re.M)
    values_yaml = re.sub(r"^(    digest: ).*$", r'\1""', values_yaml, count=1, flags=re.M)
    return chart_yaml, values_yaml


def _copy_charts(tool: Tool, final: Path, env: dict) -> None:
    """Copy each chart out of its module zip (the Go module cache), stamped with the module's version.

    Upstream's release job sets the chart's version, appVersion and image tag when it publishes the
    chart; in the module zip they still name the previous release (karpenter v1.14.1's says 1.13.0)."""
    for module, path, crds in tool.charts:
        proc = subprocess.run(["go", "mod", "download", "-json", module], cwd=GO_DIR / tool.name, env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"downloading {module} for its chart failed (module: {GO_DIR / tool.name}):\n"
                             f"{proc.stdout.strip()}{proc.stderr.strip()}")
        version = module.rsplit("@v", 1)[1]
        dest = final / "charts" / Path(path).name
        work = dest.with_name(f".{dest.name}.tmp")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(Path(json.loads(proc.stdout)["Dir"]) / path, work)
        if crds:
            (work / "crds").mkdir(exist_ok=True)
            for crd in sorted((Path(json.loads(proc.stdout)["Dir"]) / crds).glob("*.yaml")):
                shutil.copy(crd, work / "crds" / crd.name)
        for item in (work, *work.rglob("*")):  # the module cache is read-only
            item.chmod(0o755 if item.is_dir() else 0o644)
        chart, values = work / "Chart.yaml", work / "values.yaml"
        chart_text, values_text = stamp_chart(chart.read_text(), values.read_text(), version)
        chart.write_text(chart_text)
        values.write_text(values_text)
        shutil.rmtree(dest, ignore_errors=True)
        work.rename(dest)


def chart_dir(tool_name: str, chart: str) -> Path:
    """A chart a tool's build copied from its module (raises if it is not built yet: run `lab build`)."""
    tool = next(t for t in TOOLS if t.name == tool_name)
    path = tool_dir(tool) / "charts" / chart
    if not (path / "Chart.yaml").exists():
        raise BuildError(f"chart {chart} is not in the cache yet (pin: {tool.pin}); run `make tools` or `lab build`")
    return path


def build(tool: Tool, go_version: str, out=sys.stdout) -> Path:
    """Build one tool into its cache directory unless it is already there; return its bin dir."""
    final = tool_dir(tool, go_version)
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-mod=readonly")
    if all((final / "bin" / b).exists() for b in tool.binaries):
        if not all((final / "charts" / Path(p).name / ("crds" if c else "Chart.yaml")).exists() for _m, p, c in tool.charts):
            _copy_charts(tool, final, env)
        return final / "bin"
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{tool.name}-", dir=final.parent))
    # One package builds one binary named as the tool calls it (cmd/controller -> karpenter).
    out_arg = str(work / "bin" / tool.binaries[0]) if len(tool.packages) == 1 else str(work / "bin") + "/"
    (work / "bin").mkdir()
    # Niced: a cold build shares the machine with running labs and tests.
    cmd = ["nice", "-n", "10", "go", "build", "-trimpath", "-ldflags", " ".join(("-s", "-w", *tool.ldflags)), "-o", out_arg, *tool.packages]
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
    _copy_charts(tool, final, env)
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
