"""module_utils.yaml_text: the one YAML reader of modules and filters, and the error its callers word."""
from __future__ import annotations

import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import yaml_text


def test_text_is_read_as_data():
    assert yaml_text.load("a: 1\nb: [x, y]\n") == {"a": 1, "b": ["x", "y"]}
    assert yaml_text.load('{"a": 1}') == {"a": 1}
    assert yaml_text.load("") is None
    assert yaml_text.load_all("a: 1\n---\n---\nb: 2\n") == [{"a": 1}, None, {"b": 2}]


@pytest.mark.parametrize("reader", [yaml_text.load, yaml_text.load_all])
def test_a_yaml_error_is_one_value_error_with_pyyaml_s_reason(reader):
    with pytest.raises(yaml_text.YamlTextError) as caught:
        reader("a: [1, 2\nb: 3\n")
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.kind == "ParserError"
    assert error.first_line == str(error).strip().splitlines()[0] and "while parsing" in error.first_line
