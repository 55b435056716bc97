"""`make test`: every test layer in order, with counts and times per layer.

Layers: sanity (ansible-test, offline), lint (ansible-lint production profile + changelog lint), docs
(antsibull-docs + Sphinx), unit (pytest, no lab), integration (pytest against the lab: modules, bad
inputs, lab smoke tests), reliability (faults, restarts, concurrency, security, in a lab of its own),
molecule (one scenario per role against the lab), and on the oldest supported platform (.venv-oldest:
ansible-core 2.19, Python 3.11) oldest_sanity, oldest_unit and oldest_site (site.yml check -> converge
-> re-run on a fresh lab, default linear strategy). `run_all.py LAYER [SCENARIO]` runs one layer.
`run_all.py check` is the inner loop (`make check`): sanity, lint, docs, unit and one role's molecule
scenario (smoke) against the default lab. The last line is the plain "N passed, N failed, N skipped"
summary CI reads; each layer's line gives its wall and CPU seconds.
"""
from __future__ import annotations

import atexit
import contextlib
import fnmatch
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parents[1]
# The venv of the interpreter running this file: .venv (primary platform) or .venv-oldest.
VENV_BIN = Path(sys.executable).parent
OLDEST_BIN = REPO / ".venv-oldest" / "bin"
PLATFORM = "" if VENV_BIN == REPO / ".venv" / "bin" else f"-{VENV_BIN.parent.name.lstrip('.')}"
BUILD = REPO / ".build"
# The same settings the Makefile exports, so `python tests/run_all.py` also works alone.
os.environ["PATH"] = f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".collections"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "false")
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "tests" / "ansible.cfg"))
os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
LAYERS = ("smoke", "sanity", "lint", "docs", "unit", "integration", "reliability", "molecule", "oldest_sanity", "oldest_unit",
          "oldest_site")


def sh(cmd: list[str], cwd: Path = REPO, env: dict | None = None, capture: bool = False) -> subprocess.CompletedProcess:
    print(f"$ {' '.join(str(c) for c in cmd)}", flush=True)
    return subprocess.run(cmd, cwd=cwd, env=env, text=True, check=False,
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)


def lab_env(playbooks: bool = False) -> dict:
    """Start (or reuse) the default lab and return the environment tests need; PLAYBOOKS: for a process that runs
    playbooks itself (molecule), with the lab's own TMPDIR (support.labenv.scratch)."""
    sys.path[:0] = [str(REPO / "tests" / "lab"), str(REPO / "tests")]
    from support import labenv  # noqa: PLC0415 - needs sys.path above

    print("[test] starting or reusing the lab", flush=True)
    values = {"PATH": f"{VENV_BIN}:{labenv.env()['PATH']}", "PY_COLORS": "0"}
    return labenv.run_env(values) if playbooks else labenv.env(values)


def _collection_copy() -> Path:
    """ansible-test needs the collection at .../ansible_collections/nodeless/eks with its dependencies beside it."""
    root = BUILD / f"sanity{PLATFORM}" / "ansible_collections"
    shutil.rmtree(root.parent, ignore_errors=True)
    dest = root / "nodeless" / "eks"
    dest.mkdir(parents=True)
    files = sh(["git", "ls-files", "-co", "--exclude-standard"], capture=True).stdout.split()
    for rel in files:
        src = REPO / rel
        if src.is_file() and not rel.startswith((".lab/", ".build/")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for namespace in (Path(os.environ["ANSIBLE_COLLECTIONS_PATH"]) / "ansible_collections").iterdir():
        if namespace.name != "nodeless":
            (root / namespace.name).symlink_to(namespace)
    return dest


def _install_pip_bootstrap() -> None:
    """ansible-test downloads a pip bootstrap from a host we cannot reach; give it ours (tests/sanity/pip_bootstrap.py)."""
    import ansible_test  # noqa: PLC0415

    source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
    version = re.search(r"pip='([0-9.]+)'", source).group(1)
    cache = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "tests" / "sanity" / "pip_bootstrap.py", cache)


# On the oldest platform only the sanity tests whose verdict depends on ansible-core or Python run again: the
# others (pep8, pylint, yamllint, line endings, ...) read the same files with the same rules and run once, on the
# primary platform. pylint's rules are the primary ansible-test's; the oldest one's import and compile prove 3.11.
OLDEST_SANITY_TESTS = ("ansible-doc", "compile", "import", "runtime-metadata", "validate-modules")


def sanity(_args) -> tuple[int, int]:
    _install_pip_bootstrap()
    dest = _collection_copy()
    sh(["git", "init", "-q"], cwd=dest)  # ansible-test lists files through git
    sh(["git", "add", "-A"], cwd=dest)
    python = "%d.%d" % sys.version_info[:2]
    only = [arg for test in OLDEST_SANITY_TESTS for arg in ("--test", test)] if PLATFORM else []
    proc = sh([str(VENV_BIN / "ansible-test"), "sanity", "--python", python, "--color", "no", *only],
              cwd=dest, capture=True)
    out = proc.stdout
    noise = ("Collecting", "Downloading", "  ", "Processing", "Successfully", "Looking in", "Using cached")
    print("\n".join(line for line in out.splitlines() if not line.startswith(noise)))
    ran = len(set(re.findall(r'Running sanity test "([^"]+)"', out)))
    failed = re.search(r"The (\d+) sanity test\(s\) listed below \(out of (\d+)\) failed", out)
    return (ran - int(failed.group(1)), int(failed.group(1))) if failed else ((ran, 0) if proc.returncode == 0 else (0, 1))


def lint(_args) -> tuple[int, int]:
    passed = failed = 0
    proc = sh([str(VENV_BIN / "ansible-lint"), "--profile", "production", "--offline", "--nocolor"], env=dict(os.environ))
    passed, failed = (passed + 1, failed) if proc.returncode == 0 else (passed, failed + 1)
    proc = sh([str(VENV_BIN / "antsibull-changelog"), "lint"])
    return (passed + 1, failed) if proc.returncode == 0 else (passed, failed + 1)


def docs(_args) -> tuple[int, int]:
    """antsibull-docs: lint the collection's docs, then build the docs site with warnings as errors."""
    env = dict(os.environ)
    dest = BUILD / "docs"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True, mode=0o700)  # antsibull-docs refuses group/world-writable directories
    checks = [
        [str(VENV_BIN / "antsibull-docs"), "lint-collection-docs", "."],
        [str(VENV_BIN / "antsibull-docs"), "sphinx-init", "--use-current", "--dest-dir", str(dest), "nodeless.eks"],
    ]
    for cmd in checks:
        if sh(cmd, env=env).returncode:
            return 0, 1
    rst = dest / "rst"
    rst.chmod(0o700)
    if sh([str(VENV_BIN / "antsibull-docs"), "--config-file", str(dest / "antsibull-docs.cfg"), "collection",
           "--cleanup", "everything", "--use-current", "--dest-dir", str(rst), "nodeless.eks"], env=env).returncode:
        return 0, 1
    shutil.copy(REPO / "tests" / "docs" / "offline_refs.rst", rst / "offline_refs.rst")
    with open(dest / "conf.py", "a", encoding="utf-8") as conf:  # no network here: no intersphinx inventories
        conf.write("\nintersphinx_mapping = {}\n")
    proc = sh([str(VENV_BIN / "sphinx-build"), "-M", "html", str(rst), str(dest / "build"), "-c", str(dest), "-W", "--keep-going", "-q"],
              env=env)
    print(f"[docs] site: {dest / 'build' / 'html' / 'index.html'}")
    return (1, 0) if proc.returncode == 0 else (0, 1)


def _allowed_skips() -> list[dict]:
    import yaml  # noqa: PLC0415 - PyYAML comes with ansible-core in the venv

    return yaml.safe_load((REPO / "tests" / "skips.yml").read_text()) or []


def _skips(suite) -> tuple[list[str], list[str]]:
    """The report's skipped tests as 'test: reason' lines: (listed in tests/skips.yml, not listed)."""
    allowed = _allowed_skips()
    listed, unlisted = [], []
    for case in suite.iter("testcase"):
        skipped = case.find("skipped")
        if skipped is None:
            continue
        test = f"{case.get('classname')}::{case.get('name')}"
        reason = skipped.get("message", "")
        known = any(fnmatch.fnmatch(test, entry["test"]) and entry["reason"] in reason for entry in allowed)
        (listed if known else unlisted).append(f"{test}: {reason}")
    return listed, unlisted


def _pytest(name: str, paths: list[str], env: dict | None = None) -> tuple[int, int, list[str]]:
    """Run pytest; a skip counts as skipped only when tests/skips.yml lists it, otherwise as a failure."""
    report = BUILD / f"pytest-{name}{PLATFORM}.xml"
    report.parent.mkdir(parents=True, exist_ok=True)
    env = dict(env or os.environ, NODELESS_TEST_LAYER=f"{name}{PLATFORM}")  # names .build/cpu-<layer>.json
    proc = sh([str(VENV_BIN / "pytest"), *paths, f"--junitxml={report}", "-q"], env=env)
    if proc.returncode == 5:  # nothing collected
        return 0, 0, []
    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    listed, unlisted = _skips(suite)
    for line in unlisted:
        print(f"[{name}] FAILED: skipped without a reason listed in tests/skips.yml: {line}", flush=True)
    return total - failures - errors - skipped, failures + errors + len(unlisted), listed


def unit(_args) -> tuple[int, int]:
    # The module fuzzer runs on the primary platform only: the modules' own checks are the same code on both.
    return _pytest("unit", ["tests/unit", *(["--ignore=tests/unit/test_fuzz_modules.py"] if PLATFORM else [])])


def integration(_args) -> tuple[int, int]:
    return _pytest("integration", ["tests/integration"], lab_env())


def molecule(args) -> tuple[int, int]:
    env = lab_env(playbooks=True)
    scenarios = args or sorted(p.name for p in (REPO / "molecule").iterdir() if (p / "molecule.yml").exists())
    passed = failed = 0
    for scenario in scenarios:
        started = time.monotonic()
        proc = sh([str(VENV_BIN / "molecule"), "test", "-s", scenario], env=env)
        ok = proc.returncode == 0
        passed, failed = passed + ok, failed + (not ok)
        print(f"[molecule] {scenario}: {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s", flush=True)
    return passed, failed


# The role `make check` converges as its smoke test: the shared cluster facts every role starts from.
SMOKE_SCENARIO = "common"


def smoke(_args) -> tuple[int, int]:
    """One role's molecule scenario (check, converge, idempotence, verify) against the lab."""
    return molecule([SMOKE_SCENARIO])


def reliability(_args) -> tuple[int, int]:
    """Faults, restarts, concurrency, security: the suite starts a private lab of its own."""
    return _pytest("reliability", ["tests/reliability"]) if (REPO / "tests" / "reliability").is_dir() else (0, 0)


def _on_oldest(cmd: list[str], **extra: str) -> subprocess.CompletedProcess:
    """Run a command with the oldest platform's venv and collections (`make oldest` builds them)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections-oldest"),
               PATH=f"{OLDEST_BIN}:{os.environ['PATH']}", **extra)
    return sh([str(OLDEST_BIN / "python"), *cmd], env=env, capture=True)


def _oldest_layer(layer: str) -> tuple[int, int, list[str]]:
    proc = _on_oldest([__file__, "--layers", layer])
    print(proc.stdout, flush=True)
    found = re.search(rf"^RESULT {layer} (\d+) (\d+) ", proc.stdout, re.M)
    skips = re.findall(rf"^SKIP {layer} (.*)$", proc.stdout, re.M)
    return (int(found.group(1)), int(found.group(2)), skips) if found else (0, 1, [])


def oldest_sanity(_args) -> tuple[int, int, list[str]]:
    return _oldest_layer("sanity")


def oldest_unit(_args) -> tuple[int, int, list[str]]:
    return _oldest_layer("unit")


def oldest_site(_args) -> tuple[int, int]:
    """site.yml check -> converge -> gated re-run (changed=0, 0 writes; plan == real run) on a fresh lab of its own,
    under Ansible's default linear strategy, as a user without Mitogen runs it. `--site-only`: the demo's runs and
    their checks, without its Karpenter provisioning and lab summary (the integration layer proves those). The full
    path's idempotence (every role, the gates off) is reliability's test_run_gate.py's last run, under Mitogen: the
    same tasks, at a third of linear's CPU."""
    name = "oldest-site"
    try:
        proc = _on_oldest([str(REPO / "tests" / "demo.py"), "--name", name, "--site-only"],
                          ANSIBLE_STRATEGY="linear")
    finally:
        subprocess.run([str(VENV_BIN / "lab"), "--dir", str(REPO / ".lab" / name), "down"], check=False,
                       stdout=subprocess.DEVNULL)
    print(proc.stdout, flush=True)
    return (1, 0) if proc.returncode == 0 else (0, 1)


# Streams run side by side, each lab-using stream with a lab of its own, so that write-counting
# assertions never see another stream's writes. The machine's 2 cores are mostly waiting on
# playbook and API round trips, so this roughly halves `make test`.
STREAMS = {
    "static": ("sanity", "lint", "docs", "unit", "oldest_sanity", "oldest_unit", "oldest_site"),
    "integration": ("integration",),
    "reliability": ("reliability",),
    "molecule": ("molecule",),
}


_CGROUP_ENV = "NODELESS_TEST_CGROUP"


def _alive(pid: str) -> bool:
    """Whether PID (the suffix of a nodeless-eks-test-<pid> group) is a running process."""
    return pid.isdigit() and Path(f"/proc/{pid}").exists()


def _own_cgroup() -> Path | None:
    """Put this process, and so everything it starts (the lab's detached servers too), into a CPU-accounting
    cgroup of its own: cgroup v1's cpuacct or cgroup v2. A process started by one that has one (an oldest-platform
    layer inside the static stream) stays in it. None where the machine does not let us (not root, no such
    hierarchy); the CPU figures then leave the lab's servers out and say so."""
    if os.environ.get(_CGROUP_ENV):
        return Path(os.environ[_CGROUP_ENV])
    for root, usage in ((Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage"), (Path("/sys/fs/cgroup"), "cpu.stat")):
        if not (root / usage).is_file():
            continue
        for stale in root.glob("nodeless-eks-test-*"):  # left by earlier runs; only empty ones can go
            if _alive(stale.name.rsplit("-", 1)[-1]):
                continue  # a stream starting now: between its mkdir and its pid's write the group is empty too
            with contextlib.suppress(OSError):
                stale.rmdir()
        group = root / f"nodeless-eks-test-{os.getpid()}"
        try:
            group.mkdir(exist_ok=True)
            (group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            continue
        os.environ[_CGROUP_ENV] = str(group)
        atexit.register(_leave_cgroup, root, group)
        return group
    return None


def _leave_cgroup(root: Path, group: Path) -> None:
    with contextlib.suppress(OSError):
        (root / "cgroup.procs").write_text(str(os.getpid()))
        group.rmdir()  # refused while a process started here (a lab left up) still runs: cleared by a later run


CGROUP = None  # set by main(): the run's own cgroup, when it has one
SCOPES: set = set()  # what the streams' CPU figures cover, as each stream said


def _cpu_seconds() -> float:
    """User + system seconds of everything this process started. In its cgroup: every process, the lab's
    servers (moto, etcd, kube-apiserver, ...) included, as the kernel counts them. Without one: this process
    and every descendant waited for (pytest, ansible-playbook and its workers, molecule, ansible-test), not
    the lab's detached servers."""
    if CGROUP is not None:
        if (CGROUP / "cpuacct.usage").is_file():
            return int((CGROUP / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (CGROUP / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _cpu_scope() -> str:
    return ("every process it started, the lab's servers included (cgroup)" if CGROUP is not None
            else "this run and the processes it waited for; the lab's servers not counted (no cgroup here)")


def run_layers(layers: list[str], extra: list[str]) -> dict:
    """{layer: (passed, failed, wall seconds, ['test: skip reason', ...], CPU seconds)}"""
    results = {}
    for layer in layers:
        started, cpu = time.monotonic(), _cpu_seconds()
        print(f"\n===== {layer} =====", flush=True)
        passed, failed, *rest = globals()[layer](extra)
        skips = rest[0] if rest else []
        results[layer] = (passed, failed, time.monotonic() - started, skips, _cpu_seconds() - cpu)
        print(f"[{layer}] {passed} passed, {failed} failed, {len(skips)} skipped in {results[layer][2]:.0f}s "
              f"(CPU {results[layer][4]:.0f}s)", flush=True)
    return results


def run_streams() -> dict:
    logs = BUILD / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = {}
    for stream, layers in STREAMS.items():
        env = dict(os.environ, NODELESS_LAB_DIR=str(REPO / ".lab" / f"test-{stream}"))
        log = open(logs / f"{stream}.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        procs[stream] = (subprocess.Popen([sys.executable, __file__, "--layers", ",".join(layers)], cwd=REPO, env=env,
                                          stdout=log, stderr=subprocess.STDOUT, text=True), log)
        print(f"[test] started stream {stream} ({', '.join(layers)}), log: {logs / f'{stream}.log'}", flush=True)
    pending = dict(procs)
    while pending:  # a stream's lab goes down as soon as the stream ends, not when the slowest one does
        for stream, (proc, log) in list(pending.items()):
            if proc.poll() is None:
                continue
            log.close()
            del pending[stream]
            if stream != "static":
                subprocess.run([str(VENV_BIN / "lab"), "--dir", str(REPO / ".lab" / f"test-{stream}"), "down"], check=False)
        time.sleep(1)
    results = {}
    for stream in procs:
        text = (logs / f"{stream}.log").read_text(errors="replace")
        print(f"\n##### stream {stream} #####\n{text}", flush=True)
        for layer, passed, failed, took, cpu in re.findall(r"^RESULT (\w+) (\d+) (\d+) ([\d.]+) ([\d.]+)$", text, re.M):
            skips = re.findall(rf"^SKIP {layer} (.*)$", text, re.M)
            results[layer] = (int(passed), int(failed), float(took), skips, float(cpu))
        SCOPES.update(re.findall(r"^CPUSCOPE (.*)$", text, re.M))
        for layer in STREAMS[stream]:
            results.setdefault(layer, (0, 1, 0.0, [], 0.0))  # a stream that died counts as a failure
    return results


def main(argv: list[str]) -> int:
    global CGROUP  # noqa: PLW0603 - set once, before any layer runs
    started = time.monotonic()
    CGROUP = _own_cgroup() if argv else None  # a stream, or layers run alone; `make test` itself: its streams
    if argv[:1] == ["--layers"]:  # one stream, run by run_streams
        results = run_layers(argv[1].split(","), [])
        for layer, (passed, failed, took, skips, cpu) in results.items():
            print(f"RESULT {layer} {passed} {failed} {took:.1f} {cpu:.1f}")
            print("".join(f"SKIP {layer} {line}\n" for line in skips), end="")
        print(f"CPUSCOPE {_cpu_scope()}")
        return 0
    if argv[:1] == ["check"]:
        results = run_layers(["sanity", "lint", "docs", "unit", "smoke"], [])
    else:
        results = run_layers([argv[0]], argv[1:]) if argv else run_streams()
    print("\n===== summary =====")
    skips = [(layer, line) for layer, result in results.items() for line in result[3]]
    if skips:
        print("skipped (each listed with its reason in tests/skips.yml):")
        print("".join(f"  [{layer}] {line}\n" for layer, line in skips), end="")
    for layer, (passed, failed, took, layer_skips, cpu) in results.items():
        print(f"{layer:<14} {passed:>4} passed {failed:>3} failed {len(layer_skips):>3} skipped  {took:7.1f}s wall {cpu:7.1f}s CPU")
    if argv:
        cpu, scope = _cpu_seconds(), _cpu_scope()
    else:  # each stream counted its own, in its own cgroup when it had one
        cpu, scope = sum(r[4] for r in results.values()), SCOPES.pop() if len(SCOPES) == 1 else "; ".join(sorted(SCOPES))
    print(f"wall time {time.monotonic() - started:.0f}s, CPU {cpu:.0f}s (user + system of {scope})")
    total_passed = sum(r[0] for r in results.values())
    total_failed = sum(r[1] for r in results.values())
    print(f"{total_passed} passed, {total_failed} failed, {len(skips)} skipped")
    return 1 if total_failed or not total_passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
