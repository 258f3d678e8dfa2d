"""RFC 6902 JSON Patch on plain JSON-like data, as `kubectl patch --type=json` applies it.

kubectl turns the patch text into JSON with a YAML parser first, so a patch may be written in
JSON or YAML (the workshop's step 5 is YAML). Array indices follow RFC 6901 strictly: digits
without leading zeros, or `-` (append, `add` only).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import yaml

from orchestrator.errors import LabError

Op = Literal["add", "remove", "replace", "move", "copy", "test"]
OPS: tuple[Op, ...] = ("add", "remove", "replace", "move", "copy", "test")
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")


class PatchError(LabError):
    """A patch that cannot be parsed or applied; names the operation index, op and path."""

    def __init__(self, message: str, index: int | None = None, op: str = "", path: str = ""):
        self.index, self.op, self.path = index, op, path
        where = f"operation {index} ({op} {path!r}): " if index is not None else ""
        super().__init__(f"JSON patch: {where}{message}")


@dataclass(frozen=True)
class PatchOperation:
    op: Op
    path: str
    value: Any = None  # meaningful for add, replace, test (None is JSON null)
    from_: str = ""  # meaningful for move, copy


class _JSONLoader(yaml.SafeLoader):
    """YAML to JSON data like sigs.k8s.io/yaml: timestamps stay strings."""


_JSONLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_json(text: str) -> Any:
    """Parse one YAML (or JSON) document into JSON data, keeping timestamps as strings."""
    return yaml.load(text, Loader=_JSONLoader)  # noqa: S506 - a SafeLoader subclass


def parse_patch(text: str) -> list[PatchOperation]:
    """Parse a JSON Patch written in JSON or YAML; every malformed operation is reported at once."""
    try:
        data = load_yaml_json(text)
    except yaml.YAMLError as exc:
        raise PatchError(f"the patch is neither valid JSON nor valid YAML: {exc}") from None
    if not isinstance(data, list):
        raise PatchError(
            "a JSON patch must be a list of operations, e.g. "
            '[{"op": "add", "path": "/spec/listeners/-", "value": {...}}]'
        )
    ops: list[PatchOperation] = []
    errors: list[str] = []
    for i, raw in enumerate(data):
        op, problems = _parse_operation(raw)
        if problems:
            errors += [f"operation {i}: {p}" for p in problems]
        elif op is not None:
            ops.append(op)
    if errors:
        raise PatchError("invalid patch:\n  - " + "\n  - ".join(errors))
    return ops


def _parse_operation(raw: object) -> tuple[PatchOperation | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"must be a mapping with 'op' and 'path', got {_type_name(raw)}"]
    problems: list[str] = []
    op = raw.get("op")
    if op is None:
        problems.append("missing 'op' (one of: " + ", ".join(OPS) + ")")
    elif op not in OPS:
        problems.append(f"unknown op {op!r}; use one of: " + ", ".join(OPS))
    path = raw.get("path")
    if path is None:
        problems.append("missing 'path' (a JSON pointer such as /spec/listeners/-)")
    elif not isinstance(path, str):
        problems.append(f"'path' must be a string, got {_type_name(path)}")
    else:
        problems += [f"'path': {p}" for p in _pointer_problems(path)]
    if op in ("add", "replace", "test") and "value" not in raw:
        problems.append(f"op {op!r} needs a 'value'")
    from_ = raw.get("from", "")
    if op in ("move", "copy"):
        if "from" not in raw:
            problems.append(f"op {op!r} needs a 'from' pointer")
        elif not isinstance(from_, str):
            problems.append(f"'from' must be a string, got {_type_name(from_)}")
        else:
            problems += [f"'from': {p}" for p in _pointer_problems(from_)]
    if problems:
        return None, problems
    assert isinstance(path, str) and op in OPS
    return PatchOperation(op=op, path=path, value=raw.get("value"), from_=str(from_)), []


def _pointer_problems(pointer: str) -> list[str]:
    if pointer and not pointer.startswith("/"):
        return [f"{pointer!r} is not a JSON pointer: it must be empty or start with '/'"]
    if re.search(r"~(?![01])", pointer):
        return [f"{pointer!r}: '~' must be followed by 0 (for ~) or 1 (for /)"]
    return []


def split_pointer(pointer: str) -> list[str]:
    """RFC 6901 tokens of a pointer; ~1 is decoded before ~0, so '~01' means '~1'."""
    problems = _pointer_problems(pointer)
    if problems:
        raise PatchError(problems[0])
    if pointer == "":
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def apply_patch(doc: Any, ops: Sequence[PatchOperation]) -> Any:
    """Apply the operations in order to a copy of doc; on any error nothing is returned or changed."""
    result = copy.deepcopy(doc)
    for i, op in enumerate(ops):
        try:
            result = _apply_one(result, op)
        except _OpFailed as exc:
            raise PatchError(str(exc), i, op.op, op.path) from None
    return result


def apply_patch_text(doc: Any, text: str) -> Any:
    return apply_patch(doc, parse_patch(text))


class _OpFailed(Exception):
    pass


def _apply_one(doc: Any, op: PatchOperation) -> Any:
    tokens = _tokens(op.path)
    if op.op == "add":
        return _add(doc, tokens, copy.deepcopy(op.value))
    if op.op == "remove":
        if not tokens:
            raise _OpFailed("cannot remove the whole document")
        _remove(doc, tokens)
        return doc
    if op.op == "replace":
        if not tokens:
            return copy.deepcopy(op.value)
        parent, key = _locate(doc, tokens)
        _get_child(parent, key, tokens)
        _set_child(parent, key, copy.deepcopy(op.value))
        return doc
    if op.op == "test":
        actual = _get(doc, tokens)
        if not json_equal(actual, op.value):
            raise _OpFailed(f"test failed: the value at the path is {actual!r}, expected {op.value!r}")
        return doc
    from_tokens = _tokens(op.from_)
    value = _get(doc, from_tokens)
    if op.op == "move":
        if tokens[: len(from_tokens)] == from_tokens and len(tokens) > len(from_tokens):
            raise _OpFailed(f"cannot move {op.from_!r} into one of its own children")
        if tokens == from_tokens:
            return doc
        _remove(doc, from_tokens)
        return _add(doc, tokens, value)
    return _add(doc, tokens, copy.deepcopy(value))  # copy


def _tokens(pointer: str) -> list[str]:
    try:
        return split_pointer(pointer)
    except PatchError as exc:
        raise _OpFailed(str(exc)) from None


def _locate(doc: Any, tokens: list[str]) -> tuple[Any, str]:
    """The container holding the last token, which must exist."""
    parent = doc
    for depth, token in enumerate(tokens[:-1]):
        parent = _get_child(parent, token, tokens[: depth + 1])
    return parent, tokens[-1]


def _get(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for depth, token in enumerate(tokens):
        node = _get_child(node, token, tokens[: depth + 1])
    return node


def _get_child(node: Any, token: str, where: list[str]) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise _OpFailed(f"{_pointer(where)!r} does not exist")
        return node[token]
    if isinstance(node, list):
        index = _index(token, len(node), where, allow_end=False)
        return node[index]
    raise _OpFailed(f"{_pointer(where[:-1])!r} is a {_type_name(node)}, it has no member {token!r}")


def _set_child(node: Any, token: str, value: Any) -> None:
    if isinstance(node, dict):
        node[token] = value
    else:
        node[int(token)] = value


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, key = _locate(doc, tokens)
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        else:
            parent.insert(_index(key, len(parent), tokens, allow_end=True), value)
    else:
        raise _OpFailed(f"{_pointer(tokens[:-1])!r} is a {_type_name(parent)}, cannot add {key!r} to it")
    return doc


def _remove(doc: Any, tokens: list[str]) -> None:
    parent, key = _locate(doc, tokens)
    _get_child(parent, key, tokens)
    if isinstance(parent, dict):
        del parent[key]
    else:
        del parent[int(key)]


def _index(token: str, length: int, where: list[str], allow_end: bool) -> int:
    if token == "-":
        raise _OpFailed(f"{_pointer(where)!r}: '-' (past the end) is only valid for 'add'")
    if not _INDEX.match(token):
        raise _OpFailed(
            f"{_pointer(where)!r}: {token!r} is not an array index (digits without leading zeros, or '-')"
        )
    index = int(token)
    limit = length if allow_end else length - 1
    if index > limit:
        raise _OpFailed(f"{_pointer(where)!r}: index {index} is out of range, the array has {length} item(s)")
    return index


def _pointer(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, but booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and bool(a == b)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
