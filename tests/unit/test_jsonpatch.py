import copy

import pytest
import yaml

from orchestrator.errors import LabError
from orchestrator.k8s.gateway.parse import parse_gateway_object
from orchestrator.k8s.gateway.types import Gateway
from orchestrator.k8s.jsonpatch import (
    PatchError,
    PatchOperation,
    apply_patch,
    apply_patch_text,
    load_yaml_json,
    parse_patch,
    split_pointer,
)
from tests.workshop_texts import STEP3_GATEWAY, STEP5_PATCH


def test_workshop_step5_patch_adds_the_tls_listener_to_the_step3_gateway() -> None:
    gateway = yaml.safe_load(STEP3_GATEWAY)
    before = copy.deepcopy(gateway)
    patched = apply_patch_text(gateway, STEP5_PATCH)
    assert gateway == before
    assert patched["spec"]["listeners"] == [
        {"name": "http", "protocol": "HTTP", "port": 80},
        {
            "name": "tls",
            "protocol": "TLS",
            "hostname": "passthrough.example.com",
            "port": 6443,
            "tls": {"mode": "Passthrough"},
        },
    ]
    parsed = parse_gateway_object(patched, "step5")
    assert isinstance(parsed, Gateway)
    assert [(lst.name, lst.port) for lst in parsed.listeners] == [("http", 80), ("tls", 6443)]


def test_the_step5_patch_parses_to_one_add_operation() -> None:
    [op] = parse_patch(STEP5_PATCH)
    assert op.op == "add" and op.path == "/spec/listeners/-"
    assert op.value["tls"] == {"mode": "Passthrough"}


def test_the_same_patch_written_as_json() -> None:
    text = (
        '[{"op": "add", "path": "/spec/listeners/-", "value": {"name": "tls", "protocol": "TLS",'
        ' "hostname": "passthrough.example.com", "port": 6443, "tls": {"mode": "Passthrough"}}}]'
    )
    gateway = yaml.safe_load(STEP3_GATEWAY)
    assert apply_patch_text(gateway, text) == apply_patch_text(gateway, STEP5_PATCH)


def ops(*raw: dict[str, object]) -> list[PatchOperation]:
    return parse_patch(yaml.safe_dump(list(raw)))


DOC = {"a": {"b": [1, 2, 3], "c": "x"}, "m~n": 1, "p/q": 2}


@pytest.mark.parametrize(
    "op, expected",
    [
        ({"op": "add", "path": "/a/d", "value": 4}, {"b": [1, 2, 3], "c": "x", "d": 4}),
        ({"op": "add", "path": "/a/c", "value": "y"}, {"b": [1, 2, 3], "c": "y"}),
        ({"op": "add", "path": "/a/b/0", "value": 0}, {"b": [0, 1, 2, 3], "c": "x"}),
        ({"op": "add", "path": "/a/b/3", "value": 4}, {"b": [1, 2, 3, 4], "c": "x"}),
        ({"op": "add", "path": "/a/b/-", "value": 4}, {"b": [1, 2, 3, 4], "c": "x"}),
        ({"op": "remove", "path": "/a/b/1"}, {"b": [1, 3], "c": "x"}),
        ({"op": "remove", "path": "/a/c"}, {"b": [1, 2, 3]}),
        ({"op": "replace", "path": "/a/b/2", "value": 9}, {"b": [1, 2, 9], "c": "x"}),
        ({"op": "move", "from": "/a/c", "path": "/a/e"}, {"b": [1, 2, 3], "e": "x"}),
        ({"op": "move", "from": "/a/b/0", "path": "/a/b/-"}, {"b": [2, 3, 1], "c": "x"}),
        ({"op": "copy", "from": "/a/b", "path": "/a/f"}, {"b": [1, 2, 3], "c": "x", "f": [1, 2, 3]}),
        ({"op": "test", "path": "/a/b", "value": [1, 2, 3]}, {"b": [1, 2, 3], "c": "x"}),
    ],
)
def test_each_operation(op: dict[str, object], expected: dict[str, object]) -> None:
    assert apply_patch(DOC, ops(op))["a"] == expected
    assert DOC["a"] == {"b": [1, 2, 3], "c": "x"}


def test_copied_values_are_independent() -> None:
    result = apply_patch(DOC, ops({"op": "copy", "from": "/a/b", "path": "/a/f"}))
    result["a"]["f"].append(4)
    assert result["a"]["b"] == [1, 2, 3]


def test_pointer_escapes() -> None:
    assert split_pointer("/m~0n") == ["m~n"]
    assert split_pointer("/p~1q") == ["p/q"]
    assert split_pointer("/~01") == ["~1"]
    assert split_pointer("") == []
    result = apply_patch(DOC, ops({"op": "replace", "path": "/m~0n", "value": 5},
                                  {"op": "remove", "path": "/p~1q"}))  # fmt: skip
    assert result["m~n"] == 5 and "p/q" not in result


def test_whole_document() -> None:
    assert apply_patch(DOC, ops({"op": "replace", "path": "", "value": [1]})) == [1]
    assert apply_patch(DOC, ops({"op": "add", "path": "", "value": {"z": 1}})) == {"z": 1}


def test_test_operation_distinguishes_booleans_from_numbers() -> None:
    doc = {"n": 1, "f": 1.0, "t": True}
    assert apply_patch(doc, ops({"op": "test", "path": "/n", "value": 1.0})) == doc
    with pytest.raises(PatchError, match="test failed"):
        apply_patch(doc, ops({"op": "test", "path": "/t", "value": 1}))
    with pytest.raises(PatchError, match="test failed"):
        apply_patch(doc, ops({"op": "test", "path": "/n", "value": True}))


def test_a_failed_patch_changes_nothing() -> None:
    doc = {"spec": {"listeners": [{"name": "http"}]}}
    before = copy.deepcopy(doc)
    patch = ops(
        {"op": "add", "path": "/spec/listeners/-", "value": {"name": "tls"}},
        {"op": "remove", "path": "/spec/nothing"},
    )
    with pytest.raises(PatchError) as err:
        apply_patch(doc, patch)
    assert doc == before
    assert err.value.index == 1 and err.value.op == "remove" and err.value.path == "/spec/nothing"
    assert "operation 1 (remove '/spec/nothing')" in str(err.value)
    assert isinstance(err.value, LabError)


@pytest.mark.parametrize(
    "op, message",
    [
        ({"op": "add", "path": "/a/b/4", "value": 0}, "index 4 is out of range, the array has 3"),
        ({"op": "add", "path": "/a/b/01", "value": 0}, "not an array index"),
        ({"op": "add", "path": "/a/b/-1", "value": 0}, "not an array index"),
        ({"op": "add", "path": "/x/y", "value": 0}, "'/x' does not exist"),
        ({"op": "add", "path": "/a/c/d", "value": 0}, "is a string"),
        ({"op": "remove", "path": "/a/b/-"}, "only valid for 'add'"),
        ({"op": "remove", "path": "/a/zz"}, "'/a/zz' does not exist"),
        ({"op": "remove", "path": ""}, "cannot remove the whole document"),
        ({"op": "replace", "path": "/a/zz", "value": 1}, "'/a/zz' does not exist"),
        ({"op": "replace", "path": "/a/b/3", "value": 1}, "out of range"),
        ({"op": "move", "from": "/a", "path": "/a/b/x"}, "into one of its own children"),
        ({"op": "copy", "from": "/nope", "path": "/x"}, "'/nope' does not exist"),
        ({"op": "test", "path": "/a/c", "value": "y"}, "test failed"),
    ],
)
def test_errors_name_the_operation(op: dict[str, object], message: str) -> None:
    with pytest.raises(PatchError, match=message) as err:
        apply_patch(DOC, ops(op))
    assert err.value.index == 0 and err.value.op == op["op"]


def test_move_to_itself_is_a_no_op() -> None:
    assert apply_patch(DOC, ops({"op": "move", "from": "/a", "path": "/a"})) == DOC


def test_parse_reports_every_malformed_operation() -> None:
    text = """
    - op: add
      path: /spec/listeners/-
    - op: ad
      path: /x
    - path: /y
    - op: move
      path: /z
    - op: copy
      from: a/b
      path: c
    - op: remove
    - op: replace
      path: /x~2
      value: 1
    """
    with pytest.raises(PatchError) as err:
        parse_patch(text)
    message = str(err.value)
    for expected in (
        "operation 0: op 'add' needs a 'value'",
        "operation 1: unknown op 'ad'",
        "operation 2: missing 'op'",
        "operation 3: op 'move' needs a 'from' pointer",
        "operation 4: 'path': 'c' is not a JSON pointer",
        "operation 4: 'from': 'a/b' is not a JSON pointer",
        "operation 5: missing 'path'",
        "operation 6: 'path': '/x~2'",
    ):
        assert expected in message


@pytest.mark.parametrize(
    "text, message",
    [
        ("op: add\npath: /x\nvalue: 1\n", "must be a list of operations"),
        ("[1, 2]", "operation 0: must be a mapping"),
        ("- op: [\n", "neither valid JSON nor valid YAML"),
        ("- {op: add, path: 5, value: 1}", "'path' must be a string"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        parse_patch(text)


def test_null_is_a_value() -> None:
    [op] = parse_patch('[{"op": "add", "path": "/x", "value": null}]')
    assert apply_patch({}, [op]) == {"x": None}


def test_unknown_members_are_ignored_as_rfc6902_requires() -> None:
    [op] = parse_patch('[{"op": "remove", "path": "/x", "comment": "why"}]')
    assert apply_patch({"x": 1}, [op]) == {}


def test_yaml_timestamps_stay_strings() -> None:
    assert load_yaml_json("t: 2025-08-04T15:13:57Z\nd: 2025-08-04\n") == {
        "t": "2025-08-04T15:13:57Z",
        "d": "2025-08-04",
    }
