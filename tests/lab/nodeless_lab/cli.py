"""`lab up|down|status|env|build|calls|controller` (see docs/lab.md)."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from . import controllers, lab, tools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description="The nodeless.eks local lab")
    parser.add_argument("--dir", type=Path, help="lab directory (default: .lab/<name> in the repo, or $NODELESS_LAB_DIR)")
    parser.add_argument("--name", default="default", help="lab name; two names give two independent labs")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the lab (reuses a healthy one; builds missing tools)")
    for port in lab.PORT_NAMES:
        up.add_argument(f"--{port.replace('_', '-')}-port", type=int, dest=f"port_{port}", help=f"fixed {port} port")
    sub.add_parser("down", help="stop every lab process and free its ports")
    sub.add_parser("status", help="print the lab's state summary")
    env = sub.add_parser("env", help="print what a playbook needs (shell exports, or --json)")
    env.add_argument("--json", action="store_true")
    sub.add_parser("build", help="build the pinned Go tools into the cache")
    calls = sub.add_parser("calls", help="AWS calls served by moto since the last reset")
    calls.add_argument("--reset", action="store_true")
    ctl = sub.add_parser("controller", help="run an upstream controller on the host with the settings its role deployed")
    ctl.add_argument("controller", choices=["karpenter", "external-dns"])
    ctl.add_argument("action", choices=["start", "stop"])
    ctl.add_argument("--namespace", help="namespace of the Deployment the role installed (karpenter; external-dns: kube-system)")
    ctl.add_argument("--deployment", help="the Deployment whose settings the controller takes (default: the controller's name)")
    ctl.add_argument("--previous", action="store_true",
                     help=f"karpenter only: run the previous minor's controller (v{tools.KARPENTER_PREVIOUS_VERSION}) instead of v{tools.KARPENTER_VERSION}")
    args = parser.parse_args(argv)
    lab_dir = (args.dir or lab.default_dir(args.name)).resolve()
    try:
        return _run(args, lab_dir)
    except RuntimeError as exc:  # LabError, BuildError, a controller that did not become ready
        print(f"lab {args.command}: {exc}", file=sys.stderr)
        return 1


def _run(args, lab_dir: Path) -> int:
    if args.command == "build":
        tools.ensure_all()
        return 0
    if args.command == "up":
        ports = {p: getattr(args, f"port_{p}") for p in lab.PORT_NAMES if getattr(args, f"port_{p}")}
        state = lab.up(lab_dir, ports=ports)
        print(lab.summary(state))
        return 0
    if args.command == "down":
        lab.down(lab_dir)
        return 0
    state = lab.load_state(lab_dir)
    if not state:
        print(f"no lab in {lab_dir}; start one with `lab up`", file=sys.stderr)
        return 1
    if args.command == "status":
        print(lab.summary(state))
        return 0 if lab.healthy(state)[0] else 1
    if args.command == "env":
        values = lab.env(state)
        if args.json:
            print(json.dumps(values, indent=2))
        else:
            print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in values.items()))
        return 0
    if args.command == "controller" and args.controller == "external-dns":
        return _external_dns(args, state, lab_dir)
    if args.command == "controller":
        args.namespace, args.deployment = args.namespace or "karpenter", args.deployment or "karpenter"
        if args.action == "stop":
            stopped = controllers.stop_karpenter(state)
            print(f"[lab] karpenter {'stopped' if stopped else 'was not running'}")
            return 0
        pid = controllers.start_karpenter(state, args.namespace, args.deployment,
                                          binary="karpenter-previous" if args.previous else "karpenter")
        version = tools.KARPENTER_PREVIOUS_VERSION if args.previous else tools.KARPENTER_VERSION
        print(f"[lab] karpenter v{version} running (pid {pid}) with the settings of Deployment {args.namespace}/{args.deployment}; "
              f"log: {lab_dir / 'logs' / 'karpenter.log'}")
        return 0
    if args.command == "calls":
        print(json.dumps(lab.calls(state, reset=args.reset)))
        return 0
    return 2


def _external_dns(args, state: dict, lab_dir: Path) -> int:
    if args.action == "stop":
        print(f"[lab] external-dns {'stopped' if controllers.stop_external_dns(state) else 'was not running'}")
        return 0
    namespace, deployment = args.namespace or "kube-system", args.deployment or controllers.EXTERNAL_DNS
    pid = controllers.start_external_dns(state, namespace, deployment)
    print(f"[lab] external-dns running (pid {pid}) with the args of Deployment {namespace}/{deployment}, first sync done; "
          f"log: {lab_dir / 'logs' / 'external-dns.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
