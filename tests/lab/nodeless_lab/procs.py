"""Processes of a lab: started detached with their own log file, found again by pid file."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_ports(count: int) -> list[int]:
    """count distinct free ports: every socket stays bound until all are chosen, so the kernel cannot hand
    out one port twice (a lab once gave moto and kube-scheduler the same one)."""
    socks = []
    try:
        while len(socks) < count:
            sock = socket.socket()
            socks.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def port_taken(error: object) -> bool:
    """Whether a start failed (an exception, or a line of its log) because another process bound its port first."""
    return "address already in use" in str(error).lower()


def retry_taken_ports(start, cleanup, attempts: int = 3, note=None):
    """Return start(); when it fails because a port it chose was taken, cleanup() and call it again (it chooses
    anew). A free port is only free until someone binds it: a parallel lab or an outgoing connection may take it
    between the choice and the bind."""
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except Exception as exc:
            cleanup()
            if attempt == attempts or not port_taken(exc):
                raise
            if note:
                note(exc)
    raise ValueError("attempts must be at least 1")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start(name: str, argv: list[str], lab_dir: Path, env: dict | None = None) -> int:
    """Start argv detached (own session, so `down` can kill the whole group); log to logs/<name>.log."""
    logs = lab_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=lab_dir, env=env, start_new_session=True)
    (lab_dir / "pids").mkdir(exist_ok=True)
    (lab_dir / "pids" / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def alive(pid: int) -> bool:
    """True while PID runs. A child of ours that ended is collected here, at once: left a zombie, it was collected
    whenever the next subprocess started, and its CPU time (a Karpenter controller's, a lab's servers') then showed in
    whatever that process is measured for (tests/conftest.py, support/playbook.py). Only PID is waited for: a
    wildcard wait would take the exit status of a playbook run another thread is waiting on."""
    if pid <= 0:  # no pid file: os.kill(-1, 0) would ask about every process we may signal
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    except ChildProcessError:
        pass  # not our child (a lab another process started), or already collected
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # another process's child that ended but is not collected yet
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def pids(lab_dir: Path) -> dict[str, int]:
    found = {}
    for pidfile in sorted((lab_dir / "pids").glob("*.pid")) if (lab_dir / "pids").is_dir() else ():
        try:
            found[pidfile.stem] = int(pidfile.read_text().strip())
        except ValueError:
            continue
    return found


def stop_all(lab_dir: Path, timeout: float = 15.0) -> list[str]:
    """SIGTERM every process group of the lab, SIGKILL what is left after timeout; return names stopped."""
    running = {name: pid for name, pid in pids(lab_dir).items() if alive(pid)}
    for pid in running.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in running.values()):
        time.sleep(0.2)
    for pid in running.values():
        if alive(pid):
            _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in running.values()):
        time.sleep(0.1)
    for pidfile in (lab_dir / "pids").glob("*.pid") if (lab_dir / "pids").is_dir() else ():
        pidfile.unlink()
    return sorted(running)


def stop(lab_dir: Path, name: str, timeout: float = 15.0) -> bool:
    """Stop one process of the lab (SIGTERM, SIGKILL after timeout); True if it was running."""
    pidfile = lab_dir / "pids" / f"{name}.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    was_running = alive(pid)
    if was_running:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    return was_running


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_for(what: str, check, timeout: float, log: Path | None = None, pid: int | None = None) -> None:
    """Poll check() until true; fail with the log's tail if the process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not alive(pid):
            raise RuntimeError(f"{what}: the process exited.{_tail(log)}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s.{_tail(log)}")


def _tail(log: Path | None, lines: int = 25) -> str:
    if not log or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\nLast lines of {log}:\n" + "\n".join(text)
