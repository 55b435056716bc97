"""Property-based bad input for every module: arguments generated from the module's own argument spec.

For each module in plugins/modules, Hypothesis draws module arguments from the spec the module hands to
AnsibleAWSModule / AnsibleK8SModule (wrong types, empty and oversized strings, unicode, case variants
of choices, missing required options, unknown keys in suboptions, sometimes good values). ``main()`` runs
in-process with every way out of the process cut: an AWS call (botocore), a Kubernetes call (the client
kubernetes.core would hand over), a socket or a command ends the example as "the input got past the
module's own checks", unless that first call writes (create / put / tag / delete ... or an apply), which
fails the test: nothing may be written before every input is checked. Otherwise the module must end by
``exit_json`` or by ``fail_json`` with a message naming one of its options; a Python exception is a failure.

ansible-core's own argument checks refuse most generated inputs before the module's code runs; their
messages are ansible-core's (counted, not judged), and an exception raised inside them is ansible-core's bug:
printed with an example, not failed here. The primary platform only (requirements-test.txt has Hypothesis).

Seeded and derandomized: a failure prints the seed and the minimal example, and the same command
(``pytest tests/unit/test_fuzz_modules.py -k <module>``) reproduces it. ``NODELESS_FUZZ_EXAMPLES`` sets
the number of examples per module (default 200).
"""
from __future__ import annotations

import functools
import importlib
import os
import socket
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

SEED = 20261205
EXAMPLES = int(os.environ.get("NODELESS_FUZZ_EXAMPLES", "200"))
MODULES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "plugins" / "modules").glob("*.py")
                 if p.stem != "__init__")
# An AWS operation, or a Kubernetes client method, whose name starts so writes.
AWS_WRITES = ("Create", "Put", "Update", "Delete", "Tag", "Untag", "Associate", "Disassociate", "Attach", "Detach",
              "Set", "Add", "Remove", "Register", "Deregister", "Modify", "Enable", "Disable", "Start", "Stop")
K8S_WRITES = ("create", "patch", "replace", "delete", "apply", "server_side_apply")
UNKNOWN_KEY = "nodeless_fuzz_unknown_key"
CORE_CRASHES: dict = {}  # module -> ansible-core exceptions met (printed with the figures)


class _Exit(BaseException):  # BaseException: a module's `except Exception` must not swallow the way out
    def __init__(self, failed: bool, result: dict):
        super().__init__(result.get("msg", ""))
        self.failed, self.result = failed, result


class _Reached(BaseException):
    """The input got past the module's own checks: it made its first outside call (read)."""


class _Wrote(BaseException):
    """The first outside call writes."""


class _CoreRefused(BaseException):
    """ansible-core's own argument validation refused the input, before the module's code ran."""


class _CoreCrashed(BaseException):
    """ansible-core's own argument validation raised (an ansible-core bug, listed, not ours to fix)."""


class _Captured(BaseException):
    def __init__(self, kwargs: dict):
        super().__init__("spec")
        self.kwargs = kwargs


class _Kube:
    """Whatever kubernetes.core's get_api_client returns: any attribute chain, and the first call ends the run."""

    def __init__(self, path: str = "client"):
        self._path = path

    def __getattr__(self, name):
        return _Kube(f"{self._path}.{name}")

    def __call__(self, *args, **kwargs):
        last = self._path.rsplit(".", 1)[-1]
        if last.startswith(K8S_WRITES) or kwargs.get("method", "GET").upper() in ("POST", "PUT", "PATCH", "DELETE"):
            raise _Wrote(f"Kubernetes {self._path}")
        raise _Reached(f"Kubernetes {self._path}")

    def _read(self, *_args):
        raise _Reached(f"Kubernetes {self._path} (read)")

    __iter__ = __getitem__ = __contains__ = __len__ = _read


def _aws_call(_client, operation, _params):
    if operation.startswith(AWS_WRITES):
        raise _Wrote(f"AWS {operation}")
    raise _Reached(f"AWS {operation}")


def _exit_json(_module, **result):
    raise _Exit(False, result)


def _fail_json(_module, msg="", **result):
    raise _Exit(True, dict(result, msg=msg))


def _no_network(*_args, **_kwargs):
    raise _Reached("a network connection")


def _no_command(*_args, **_kwargs):
    raise _Reached("a command")


def _import(name: str):
    return importlib.import_module(f"ansible_collections.nodeless.eks.plugins.modules.{name}")


def _common_keys() -> set:
    """Connection options the anchor collections add (credentials, endpoints, kubeconfig): not ours to fuzz."""
    from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

    return set(aws_argument_spec()) | set(AUTH_ARG_SPEC)


def _spec(name: str) -> dict:
    """The keyword arguments the module gives its AnsibleAWSModule / AnsibleK8SModule (argument_spec, ...)."""
    module = _import(name)

    def capture(*_args, **kwargs):
        raise _Captured(kwargs)

    targets = [attr for attr in ("AnsibleAWSModule", "AnsibleK8SModule", "AnsibleModule") if hasattr(module, attr)]
    with mock.patch.multiple(module, **{attr: capture for attr in targets}), patch_module_args({}):
        try:
            module.main()
        except _Captured as captured:
            return captured.kwargs
    raise AssertionError(f"{name}: main() made no module object")


def _names(spec: dict) -> set:
    names = set()
    for key, option in spec.items():
        names |= {key, *(option.get("aliases") or ())}
        names |= _names(option.get("options") or {})
    return names


def _scalar_noise():
    return st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, width=32),
                     st.just(""), st.text(max_size=12), st.text(min_size=300, max_size=300, alphabet="aZ9-_./:"),
                     st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFF), min_size=1, max_size=8))


_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


def _good(option: dict):
    """A value of the option's type (and choice), which may still be wrong for the module's own checks."""
    kind = option.get("type", "str")
    choices = [c for c in option.get("choices") or () if isinstance(c, (str, int))]
    if choices:
        return st.sampled_from(choices)
    if option.get("options"):
        sub = _dict_of(option["options"])
        return st.lists(sub, max_size=3) if kind == "list" else sub
    if kind == "list":
        return st.lists(_good({"type": option.get("elements", "str")}), max_size=4)
    if kind == "dict":
        return st.dictionaries(_NAME, st.one_of(_NAME, st.integers(-5, 5)), max_size=3)
    if kind == "int":
        return st.one_of(st.integers(-5, 5), st.integers(-10**9, 10**9))
    if kind == "bool":
        return st.booleans()
    if kind == "float":
        return st.floats(-1e6, 1e6, allow_nan=False)
    return st.one_of(_NAME, st.text(max_size=40), st.just(""), st.text(min_size=300, max_size=300, alphabet="aZ9-_./:"))


def _bad(option: dict):
    """What a typo or a wrong variable gives: another type, a case variant of a choice, an unknown key."""
    choices = [c for c in option.get("choices") or () if isinstance(c, str)]
    wrong = [_scalar_noise(), st.lists(st.text(max_size=5), max_size=2),
             st.dictionaries(st.just(UNKNOWN_KEY), st.text(max_size=3), max_size=1)]
    if choices:
        wrong.append(st.sampled_from(choices).map(str.upper))
    return st.one_of(*wrong)


def _value(option: dict):
    good = _good(option)
    bad = _bad(option)
    # One value in eight of another type: most examples get past ansible-core's checks into the module's own.
    return st.integers(0, 7).flatmap(lambda pick: bad if pick == 0 else good)


def _dict_of(spec: dict):
    required = {k: _value(o) for k, o in spec.items() if o.get("required")}
    optional = {k: _value(o) for k, o in spec.items() if not o.get("required")}
    complete = st.fixed_dictionaries(required, optional=optional)
    anything = st.fixed_dictionaries({}, optional={**required, **optional})  # required options missing too
    extra = st.dictionaries(st.just(UNKNOWN_KEY), st.integers(), max_size=1)
    return st.builds(lambda chosen, more: {**chosen, **more},
                     st.integers(0, 7).flatmap(lambda pick: anything if pick == 0 else complete),
                     st.integers(0, 7).flatmap(lambda pick: extra if pick == 0 else st.just({})))


@functools.lru_cache(maxsize=None)
def _shared_loader(data_path):
    """One botocore data loader for every example: each module run makes a new session, which would read the
    service models from disk again (most of an example's time); the models are the same for all."""
    from botocore.loaders import create_loader

    return create_loader(data_path)


_CONNECTIONS: dict = {}


def _shared_connection(real):
    """amazon.aws's _boto3_conn (REAL), made once per distinct arguments: each module run builds a new boto3 session
    and client, about half of an example's time, the same for the same arguments. A real client, so its calls still
    reach the patched _make_api_call; arguments botocore refuses raise each time (an exception is not kept)."""

    def connect(conn_type, resource=None, region=None, endpoint=None, **params):
        key = repr((conn_type, resource, region, endpoint, sorted(params.items(), key=lambda item: item[0])))
        if key not in _CONNECTIONS:
            _CONNECTIONS[key] = real(conn_type, resource=resource, region=region, endpoint=endpoint, **params)
        return _CONNECTIONS[key]

    return connect


def _run(name: str, args: dict, check_mode: bool):
    """How main() ended: ('exit' | 'fail', result) or ('reached' | 'wrote', what)."""
    from ansible_collections.amazon.aws.plugins.module_utils import botocore as aws_botocore
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client as k8s_client

    module = _import(name)
    real_init = basic.AnsibleModule.__init__

    def init(self, *args, **kwargs):  # tells ansible-core's argument checks apart from the module's own
        try:
            real_init(self, *args, **kwargs)
        except _Exit as refused:
            raise _CoreRefused(refused.result.get("msg", "")) from None
        except Exception as exc:  # noqa: BLE001 - reported as ansible-core's, with its text
            raise _CoreCrashed(f"{type(exc).__name__}: {exc}") from None

    patches = [
        mock.patch.object(basic.AnsibleModule, "__init__", init),
        mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json),
        mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json),
        mock.patch.object(basic.AnsibleModule, "run_command", _no_command),
        mock.patch("botocore.client.BaseClient._make_api_call", _aws_call),
        mock.patch.object(socket.socket, "connect", _no_network),
        mock.patch("botocore.session.create_loader", _shared_loader),
        mock.patch.object(aws_botocore, "_boto3_conn", _shared_connection(aws_botocore._boto3_conn)),
        mock.patch.object(k8s_client, "get_api_client", lambda *a, **k: _Kube()),
    ]
    if hasattr(module, "get_api_client"):
        patches.append(mock.patch.object(module, "get_api_client", lambda *a, **k: _Kube()))
    args = dict(args, _ansible_check_mode=check_mode)
    env = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "fuzz", "AWS_SECRET_ACCESS_KEY": "fuzz", "AWS_EC2_METADATA_DISABLED": "true"}
    with mock.patch.dict(os.environ, env), patch_module_args(args):
        for patch in patches:
            patch.start()
        try:
            module.main()
        except _Exit as done:
            return ("fail" if done.failed else "exit"), done.result
        except _Reached as reached:
            return "reached", str(reached)
        except _Wrote as wrote:
            return "wrote", str(wrote)
        except _CoreRefused as refused:
            return "core refused", str(refused)
        except _CoreCrashed as crashed:
            return "core crashed", str(crashed)
        finally:
            for patch in reversed(patches):
                patch.stop()
    return "exit", {}


@pytest.mark.parametrize("name", MODULES)
def test_generated_bad_input_is_refused_by_name_before_any_write(name):
    kwargs = _spec(name)
    spec = {k: v for k, v in kwargs["argument_spec"].items() if k not in _common_keys()}
    names = _names(spec) | {UNKNOWN_KEY}
    outcomes: dict = {}

    @seed(SEED)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(args=_dict_of(spec), check_mode=st.booleans())
    def prop(args, check_mode):
        how, what = _run(name, args, check_mode)
        outcomes[how] = outcomes.get(how, 0) + 1
        if how == "core crashed":
            CORE_CRASHES.setdefault(name, {}).setdefault(what[:100], repr(args)[:160])
        assert how != "wrote", f"{name}: the first outside call wrote ({what}) with arguments {args!r}"
        if how == "fail":
            message = str(what.get("msg", ""))
            assert "Traceback" not in message, f"{name}: a traceback reached the user: {message}"
            assert any(n in message for n in names), (
                f"{name}: failed without naming an option: {message!r}\n  arguments: {args!r}\n"
                f"  reproduce (seed {SEED}): pytest tests/unit/test_fuzz_modules.py -k {name}")

    prop()
    # Some inputs must get past ansible-core's type checks into the module's own code, or this says nothing of it.
    ours = sum(outcomes.get(k, 0) for k in ("fail", "exit", "reached"))
    assert ours >= EXAMPLES // 20, f"{name}: only {ours} generated inputs reached the module's own code: {outcomes}"
    print(f"{name}: {sum(outcomes.values())} examples, seed {SEED}: {outcomes}"
          + "".join(f"\n  ansible-core raised (its bug, not the module's): {error} on {example}"
                    for error, example in sorted(CORE_CRASHES.get(name, {}).items())))
