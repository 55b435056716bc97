from __future__ import annotations

from ansible_collections.nodeless.eks.plugins.module_utils.argument_types import type_errors

OPTIONS = {
    "namespace": {"type": "str", "default": "karpenter"},
    "replicas": {"type": "int"},
    "extra": {"type": "raw"},
    "names": {"type": "list", "elements": "str"},
    "accounts": {"type": "list", "elements": "dict",
                 "options": {"namespace": {"type": "str"}, "policies": {"type": "list", "elements": "raw"}}},
    "values": {"type": "dict", "options": {"image": {"type": "str"}}},
    "untyped": {"description": "no type: Ansible's default is str"},
}


def test_a_mapping_or_list_for_a_string_is_named():
    errors = type_errors(OPTIONS, {"namespace": {"a": 1}, "untyped": ["x"]})
    assert errors == [
        "namespace: a mapping ({'a': 1}) where a string is expected; check the YAML indentation or quote the value",
        "untyped: a list (['x']) where a string is expected; check the YAML indentation or quote the value",
    ]


def test_nested_entries_are_named_by_their_path():
    errors = type_errors(OPTIONS, {"names": ["ok", {"b": 2}], "accounts": [{"namespace": "ok"}, {"namespace": ["x"]}],
                                   "values": {"image": {"repo": "r"}}})
    assert [e.split(":")[0] for e in errors] == ["accounts[1].namespace", "names[1]", "values.image"]


def test_what_fits_or_is_not_a_string_option_passes():
    values = {"namespace": "karpenter", "replicas": "12x", "extra": {"any": "thing"}, "names": ["a"],
              "accounts": [{"namespace": "a", "policies": [{"arn": "x"}]}], "values": {"image": "i"}, "untyped": 3,
              "unknown": {"not": "in the spec"}}
    assert type_errors(OPTIONS, values) == []
    assert type_errors(OPTIONS, {"namespace": None}) == []


def test_long_values_are_shortened():
    (error,) = type_errors(OPTIONS, {"namespace": {"k": "v" * 100}})
    assert "..." in error and len(error) < 160
