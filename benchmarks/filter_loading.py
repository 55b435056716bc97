#!/usr/bin/env python
"""What a task using one of the collection's filters costs: filter files that import their module_utils when a
filter is called (the collection as it is) vs the same files importing them when loaded (the obvious way).

ansible-core resolves a collection filter in the forked worker that templates the task by loading every filter
file of the collection, each compiled from source (its collection loader keeps no bytecode), and the worker exits
after the task: whatever a filter file imports at load time is compiled again for every such task. The "eager"
side is a copy of the collection whose filter and test files have their function-level imports of the
collection's module_utils moved to the top, nothing else changed. Both sides run the same playbook on localhost
(no lab): TASKS tasks templating nodeless.eks filters, less the same tasks templating a Jinja built-in; CPU seconds of ansible-playbook and its children, as the
kernel counts them, alternated ROUNDS times.

    .venv/bin/python benchmarks/filter_loading.py [--tasks 40] [--rounds 3] [--strategy linear|mitogen_linear|both]
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LAZY_IMPORT = re.compile(r"^\s+(from ansible_collections\.nodeless\.eks\.plugins\.\S+ import .+)$", re.M)
# Filters the roles use in preflight and planning, each with a small valid input.
EXPRESSIONS = ("'1.35' | nodeless.eks.next_minor", "'web' is nodeless.eks.dns1123_label",
               "[] | nodeless.eks.unknown_tags([])", "[] | nodeless.eks.plan_entries")
PLAIN = ("'1.35' | upper",)  # the same tasks with a Jinja built-in: what a task costs without the collection's filters


def _hoist_imports(dest: Path) -> None:
    for path in [*(dest / "plugins" / "filter").glob("*.py"), *(dest / "plugins" / "test").glob("*.py")]:
        text = path.read_text()
        hoisted = sorted(set(LAZY_IMPORT.findall(text)))
        if hoisted:
            text = text.replace("from __future__ import annotations\n",
                                "from __future__ import annotations\n" + "\n".join(hoisted) + "\n", 1)
            path.write_text(text)


def eager_copy(root: Path) -> Path:
    """A collections path holding nodeless.eks with every filter / test file's lazy imports moved to its top."""
    return C.collection_copy(root, _hoist_imports)


def playbook(path: Path, tasks: int, expressions=EXPRESSIONS) -> Path:
    lines = ["- hosts: localhost", "  gather_facts: false", "  tasks:"]
    for index in range(tasks):
        expression = expressions[index % len(expressions)]
        lines += [f"    - name: filter {index}", "      ansible.builtin.debug:", f"        msg: \"{{{{ {expression} }}}}\""]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    C.add_strategy_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="filter-loading-") as tmp:
        root = Path(tmp)
        eager = eager_copy(root / "eager")
        book, plain = playbook(root / "filters.yml", args.tasks), playbook(root / "plain.yml", args.tasks, PLAIN)
        sides = {"lazy (the collection)": REPO / ".collections", "eager (imports at load)": eager}
        for strategy in C.strategies(args.strategy):
            print(f"\n== strategy: {strategy} ==", flush=True)
            seconds = {label: [] for label in sides}
            base = {label: [] for label in sides}
            for _round in range(args.rounds):
                for label, path in sides.items():  # alternated, so drift on the machine hits both alike
                    seconds[label].append(C.playbook_cpu(path, book, strategy))
                    base[label].append(C.playbook_cpu(path, plain, strategy))
            per_task = {}
            for label in sides:
                cpu, floor = min(seconds[label]), min(base[label])
                per_task[label] = (cpu - floor) / args.tasks
                print(f"{label:26} {args.tasks} filter tasks: {cpu:6.2f} s CPU (best of {args.rounds}); "
                      f"the same tasks without them {floor:5.2f} s; per filter task {per_task[label] * 1000:5.1f} ms", flush=True)
            lazy, eager_cost = (per_task[label] for label in sides)
            print(f"eager / lazy, CPU per filter task: {eager_cost / lazy:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
