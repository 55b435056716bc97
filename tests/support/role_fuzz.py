"""Bad role variables generated from each role's own meta/argument_specs.yml (#25 item 3), seeded.

For every option a role declares, the kinds of value its declared type or choices refuse: a word for an int,
"perhaps" for a bool, a mapping for a list, a list for a dict, a choice in the wrong case, a list entry
without its required keys, a mapping for a string (YAML indentation gone wrong; Ansible's argument check turns
it into the text of the mapping, so the role's own checks must refuse it). A seeded sample of those per role
becomes bad-input cases of tests/integration/test_bad_inputs.py, each run in check mode and in a real run in
that file's two batched runs: each must fail naming its variable and write nothing. One seed reproduces the
sample: NODELESS_ROLE_FUZZ_SEED=<seed> pytest tests/integration/test_bad_inputs.py -k generated
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
SEED = int(os.environ.get("NODELESS_ROLE_FUZZ_SEED", "20261205"))
PER_ROLE = 2  # (option, kind) pairs per role and run mode: the batch's cost grows by about 0.5 s CPU per case
MAPPING = {"unexpected": "mapping"}


def _kinds(spec: dict) -> list[tuple[str, object]]:
    """(kind, value) pairs that SPEC's declared type or choices refuse."""
    kind = spec.get("type", "str")
    choices = [c for c in spec.get("choices") or [] if isinstance(c, str)]
    if choices:
        wrong = choices[0].swapcase() if choices[0].swapcase() not in choices else choices[0] + "-x"
        return [("choice-in-another-case", wrong)]
    if kind in ("int", "float"):
        return [("word-for-a-number", "12x")]
    if kind == "bool":
        return [("word-for-a-boolean", "perhaps")]
    if kind == "dict":
        return [("list-for-a-mapping", ["not", "a", "mapping"])]
    if kind == "list":
        pairs: list[tuple[str, object]] = [("mapping-for-a-list", dict(MAPPING))]
        options = spec.get("options") or {}
        if spec.get("elements") == "dict" and any(o.get("required") for o in options.values()):
            pairs.append(("entry-without-its-required-keys", [{}]))
        return pairs
    if kind == "str":
        return [("mapping-for-a-string", dict(MAPPING))]
    return []  # raw and path take anything the role then checks itself: the catalogue's cases cover those


def candidates(role: str) -> list[dict]:
    """Every (option, kind, value) of ROLE's main entry point, in a stable order."""
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    return [{"option": name, "kind": kind, "value": value}
            for name, option in sorted((spec.get("options") or {}).items())
            for kind, value in _kinds(option)]


def cases(seed: int = SEED, per_role: int = PER_ROLE) -> list[dict]:
    """Seeded sample: PER_ROLE picks per role, each as a check-mode case and a real-run case."""
    rng = random.Random(seed)
    out = []
    for role in sorted(p.name for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        pool = candidates(role)
        for pick in rng.sample(pool, min(per_role, len(pool))):
            for check in (True, False):
                out.append({"id": f"generated-{role}-{pick['option']}-{pick['kind']}-{'check' if check else 'run'}",
                            "role": f"nodeless.eks.{role}", "vars": {pick["option"]: pick["value"]},
                            "check": check, "expect": [pick["option"]], "generated": {"seed": seed, **pick}})
    return out
