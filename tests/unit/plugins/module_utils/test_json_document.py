"""json_object: the one parser of JSON documents given as options (sqs policy, eventbridge pattern)."""
import pytest

from ansible_collections.nodeless.eks.plugins.module_utils.json_document import json_object


class Bad(Exception):
    pass


@pytest.mark.parametrize("value", [{"a": [1]}, '{"a": [1]}', b'{"a": [1]}', bytearray(b' {"a": [1]} ')])
def test_dicts_and_json_text_give_the_same_dict(value):
    assert json_object(value, "doc", Bad) == {"a": [1]}


def test_a_dict_is_returned_as_given():
    doc = {"k": "v"}
    assert json_object(doc, "doc", Bad) is doc


@pytest.mark.parametrize("value, message", [
    ("{not json", "policy: not valid JSON"),
    ("[1, 2]", "policy: must be a JSON object (a dict), not list"),
    (7, "policy: must be a JSON object (a dict), not int"),
    (None, "policy: must be a JSON object (a dict), not NoneType"),
])
def test_anything_else_raises_the_callers_error_naming_the_field(value, message):
    with pytest.raises(Bad) as err:
        json_object(value, "policy", Bad)
    assert str(err.value).startswith(message)
