"""kubectl's JSONPath templates (`-o jsonpath=...`) over plain JSON data.

Mirrors k8s.io/client-go/util/jsonpath as kubectl uses it: missing keys print nothing (kubectl's
--allow-missing-template-keys=true), an index past the end of an array is an error, several
results of one expression are joined by spaces, maps and lists print as compact JSON.
Map wildcards and `..` walk keys in document order (Go's order is random).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

from orchestrator.errors import LabError


class JSONPathError(LabError):
    pass


# ---- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Recursive:
    pass


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None
    step: int | None
    single: bool  # written as [i]: the end is derived from the start


@dataclass(frozen=True)
class _Union:
    branches: tuple[tuple[_Node, ...], ...]


@dataclass(frozen=True)
class _Filter:
    left: tuple[_Node, ...]
    operator: str  # "exists" or a comparison
    right: tuple[_Node, ...]


@dataclass(frozen=True)
class _Literal:
    value: str | int | float | bool


@dataclass(frozen=True)
class _Identifier:
    name: str


_Node = Union[_Field, _Wildcard, _Recursive, _Slice, _Union, _Filter, _Literal, _Identifier]


@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    nodes: tuple[_Node, ...]


@dataclass
class _Range:
    nodes: tuple[_Node, ...]
    body: list[_Item] = field(default_factory=list)


_Item = Union[_Text, _Action, _Range]


# ---- parser (a port of client-go's, quirks included) -------------------------------------------

_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=~]+)(.+?)$")
_TERMINATORS = set(" \t\r\n.,[]$@{}")


class _ActionParser:
    def __init__(self, text: str):
        self.s, self.pos = text, 0

    def parse(self) -> tuple[_Node, ...]:
        nodes: list[_Node] = []
        s = self.s
        while self.pos < len(s):
            if s.startswith("[?(", self.pos):
                nodes.append(self._filter())
            elif s.startswith("..", self.pos):
                if nodes and isinstance(nodes[-1], _Recursive):
                    raise ValueError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(_Recursive())
                if self.pos < len(s) and _is_alnum(s[self.pos]):
                    nodes.append(self._field())
            else:
                c = s[self.pos]
                if c in "\r\n":
                    raise ValueError("unclosed action")
                if c in " \t@$":
                    self.pos += 1
                elif c == "[":
                    nodes.append(self._array())
                elif c in "\"'":
                    nodes.append(_Literal(self._quoted(c)))
                elif c == ".":
                    self.pos += 1
                    nodes.append(self._field())
                elif c in "+-" or c.isdigit():
                    nodes.append(self._number())
                elif _is_alnum(c):
                    nodes.append(self._identifier())
                else:
                    raise ValueError(f"unrecognized character in action: {c!r}")
        return tuple(nodes)

    def _field(self) -> _Node:
        start = self.pos
        while self.pos < len(self.s):
            c = self.s[self.pos]
            if c == "\\":
                self.pos += 2
                continue
            if c in _TERMINATORS:
                break
            self.pos += 1
        text = self.s[start : self.pos]
        return _Wildcard() if text == "*" else _Field(text.replace("\\", ""))

    def _identifier(self) -> _Node:
        start = self.pos
        while self.pos < len(self.s) and self.s[self.pos] not in _TERMINATORS:
            self.pos += 1
        text = self.s[start : self.pos]
        if text in ("true", "false"):
            return _Literal(text == "true")
        return _Identifier(text)

    def _number(self) -> _Node:
        start = self.pos
        if self.s[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(self.s) and (self.s[self.pos].isdigit() or self.s[self.pos] == "."):
            self.pos += 1
        text = self.s[start : self.pos]
        try:
            return _Literal(int(text))
        except ValueError:
            pass
        try:
            return _Literal(float(text))
        except ValueError:
            raise ValueError(f"cannot parse number {text}") from None

    def _quoted(self, quote: str) -> str:
        start = self.pos
        self.pos += 1
        while True:
            if self.pos >= len(self.s) or self.s[self.pos] == "\n":
                raise ValueError("unterminated quoted string")
            c = self.s[self.pos]
            self.pos += 1
            if c == quote and self.s[self.pos - 2] != "\\":
                break
        return _unquote(self.s[start : self.pos])

    def _array(self) -> _Node:
        end = self.s.find("]", self.pos)
        newline = self.s.find("\n", self.pos)
        if end < 0 or 0 <= newline < end:
            raise ValueError("unterminated array")
        text = self.s[self.pos + 1 : end]
        self.pos = end + 1
        if text == "*":
            text = ":"
        parts = text.split(",")
        if len(parts) > 1:
            return _Union(tuple(_ActionParser(f"[{p.strip()}]").parse() for p in parts))
        key = _DICT_KEY.match(text)
        if key:
            return _Field(key.group(1))
        m = _SLICE.match(text)
        if not m:
            raise ValueError(f"invalid array index {text}")
        start_s, end_s, step_s = m.group(1), m.group(2), m.group(3)
        start = _array_int(start_s)
        if end_s is None:
            return _Slice(start, None, None, single=True)
        return _Slice(start, _array_int(end_s[1:]), _array_int((step_s or ":")[1:]), single=False)

    def _filter(self) -> _Node:
        self.pos += 3
        start = self.pos
        in_quote, closed, pair = False, False, ""
        while True:
            if self.pos >= len(self.s) or self.s[self.pos] == "\n":
                raise ValueError("unterminated filter")
            c = self.s[self.pos]
            self.pos += 1
            if c in "\"'":
                if not in_quote:
                    in_quote, pair = True, c
                elif self.s[self.pos - 2] != "\\" and c == pair:
                    closed = True
            elif c == ")" and in_quote == closed:
                break
        if self.pos >= len(self.s) or self.s[self.pos] != "]":
            raise ValueError("unclosed array expect ]")
        text = self.s[start : self.pos - 1]
        self.pos += 1
        m = _FILTER.match(text)
        if not m:
            return _Filter(_ActionParser(text).parse(), "exists", ())
        operator = m.group(2)
        if operator not in ("==", "!=", "<", ">", "<=", ">="):
            raise ValueError(f"unrecognized filter operator {operator}")
        return _Filter(_ActionParser(m.group(1)).parse(), operator, _ActionParser(m.group(3)).parse())


def _array_int(text: str) -> int | None:
    if text == "":
        return None
    if text == "-":
        raise ValueError("array index - is not a number")
    return int(text)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_NUMERIC_ESCAPE = re.compile(r"x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}")


def _unquote(quoted: str) -> str:
    """Go's strconv.UnquoteChar escapes, for single- or double-quoted strings."""
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        if body[i] != "\\":
            out.append(body[i])
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        numeric = _NUMERIC_ESCAPE.match(body, i + 1)
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
        elif esc in ("\\", "'", '"'):
            out.append(esc)
        elif numeric:
            text = numeric.group(0)
            out.append(chr(int(text, 8) if text[0].isdigit() else int(text[1:], 16)))
            i = numeric.end()
            continue
        else:
            raise ValueError(f"unquote string {quoted} error invalid syntax")
        i += 2
    return "".join(out)


def _parse_template(template: str) -> list[_Item]:
    root: list[_Item] = []
    stack: list[list[_Item]] = [root]
    pos = 0
    while pos < len(template):
        open_at = template.find("{", pos)
        if open_at < 0:
            stack[-1].append(_Text(template[pos:]))
            break
        if open_at > pos:
            stack[-1].append(_Text(template[pos:open_at]))
        close_at = _find_close(template, open_at + 1)
        nodes = _ActionParser(template[open_at + 1 : close_at]).parse()
        pos = close_at + 1
        if nodes and isinstance(nodes[0], _Identifier) and nodes[0].name == "range":
            rng = _Range(nodes[1:])
            stack[-1].append(rng)
            stack.append(rng.body)
        elif nodes and isinstance(nodes[0], _Identifier) and nodes[0].name == "end":
            if len(stack) == 1:
                raise ValueError("not in range, nothing to end")
            stack.pop()
        else:
            for node in nodes:
                if isinstance(node, _Identifier):
                    raise ValueError(f"unrecognized identifier {node.name}")
            stack[-1].append(_Action(nodes))
    return root


def _find_close(template: str, pos: int) -> int:
    """Index of the '}' closing an action, skipping quoted strings and filters."""
    quote = ""
    while pos < len(template):
        c = template[pos]
        if c in "\r\n" and not quote:
            break
        if quote:
            if c == quote and template[pos - 1] != "\\":
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "}":
            return pos
        pos += 1
    raise ValueError("unclosed action")


# ---- evaluation --------------------------------------------------------------------------------


class JSONPath:
    """A parsed template; `execute(data)` returns what kubectl would print."""

    def __init__(self, template: str, allow_missing_keys: bool = True):
        self.template = template
        self.allow_missing_keys = allow_missing_keys
        try:
            self._items = _parse_template(template)
        except ValueError as exc:
            raise JSONPathError(f"error parsing jsonpath {template}: {exc}") from None

    def execute(self, data: Any) -> str:
        try:
            return "".join(self._run(self._items, data))
        except ValueError as exc:
            raise JSONPathError(f"error executing jsonpath {self.template!r}: {exc}") from None

    def find(self, data: Any) -> list[list[Any]]:
        """The raw results, one list per expression, as `kubectl` groups them before printing."""
        try:
            return self._collect(self._items, data)
        except ValueError as exc:
            raise JSONPathError(f"error executing jsonpath {self.template!r}: {exc}") from None

    def _collect(self, items: list[_Item], data: Any) -> list[list[Any]]:
        out: list[list[Any]] = []
        for item in items:
            if isinstance(item, _Text):
                out.append([item.text])
            elif isinstance(item, _Action):
                out.append(self._walk([data], item.nodes))
            else:
                for value in self._walk([data], item.nodes):
                    out += self._collect(item.body, value)
        return out

    def _run(self, items: list[_Item], data: Any) -> list[str]:
        return [" ".join(format_value(v) for v in results) for results in self._collect(items, data)]

    def _walk(self, values: list[Any], nodes: tuple[_Node, ...]) -> list[Any]:
        for node in nodes:
            values = self._step(values, node)
        return values

    def _step(self, values: list[Any], node: _Node) -> list[Any]:
        if isinstance(node, _Field):
            if not values:
                return []
            found = [v[node.name] for v in values if isinstance(v, dict) and node.name in v]
            if not found and not self.allow_missing_keys:
                raise ValueError(f"{node.name} is not found")
            return found
        if isinstance(node, _Literal):
            if isinstance(node.value, str):  # quoted text ignores its input, as in client-go
                return [node.value]
            return [node.value for _ in values]
        if isinstance(node, _Wildcard):
            return [child for v in values for child in _children(v)]
        if isinstance(node, _Recursive):
            return self._recursive(values)
        if isinstance(node, _Slice):
            return [item for v in values if v is not None for item in _slice(v, node)]
        if isinstance(node, _Union):
            return [r for branch in node.branches for r in self._walk(values, branch)]
        if isinstance(node, _Filter):
            return [item for v in values for item in self._filter(v, node)]
        raise ValueError(f"unrecognized identifier {node.name}")

    def _recursive(self, values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for v in values:
            children = _children(v)
            if children:
                out.append(v)
                out += self._recursive(children)
        return out

    def _filter(self, value: Any, node: _Filter) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"{format_value(value)} is not array or slice and cannot be filtered")
        passed = []
        for element in value:
            lefts = self._walk([element], node.left)
            if node.operator == "exists":
                if lefts:
                    passed.append(element)
                continue
            if not lefts:
                continue
            rights = self._walk([element], node.right)
            if not rights:
                continue
            if len(lefts) > 1 or len(rights) > 1:
                raise ValueError("can only compare one element at a time")
            if _compare(lefts[0], node.operator, rights[0]):
                passed.append(element)
        return passed


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _slice(value: Any, node: _Slice) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{_go_type(value)} is not array or slice")
    n = len(value)
    start = node.start if node.start is not None else 0
    if start < 0:
        start += n
    if node.single:
        end = (node.start if node.start is not None else 0) + 1
        if end <= 0:  # client-go: a derived end of 0 (index -1) means the length
            end += n
    else:
        end = node.end if node.end is not None else n
        if end < 0:
            end += n
    if end == start:
        return []
    if start >= n or start < 0:
        raise ValueError(f"array index out of bounds: index {start}, length {n}")
    if end > n or end < 0:
        raise ValueError(f"array index out of bounds: index {end - 1}, length {n}")
    if start > end:
        raise ValueError(f"starting index {start} is greater than ending index {end}")
    step = 1
    if node.step is not None:
        if node.step <= 0:
            raise ValueError("step must be > 0")
        step = node.step
    return value[start:end:step]


def _compare(left: Any, operator: str, right: Any) -> bool:
    def kind(v: Any) -> str:
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, (int, float)):
            return "number"
        if isinstance(v, str):
            return "string"
        return "other"

    lk, rk = kind(left), kind(right)
    if lk != rk or lk == "other":
        raise ValueError(f"incompatible types for comparison: {_go_type(left)} and {_go_type(right)}")
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if lk == "bool":
        raise ValueError(f"invalid type for comparison: {operator} on booleans")
    return bool(
        {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
    )


# ---- printing ----------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """One result as kubectl prints it: JSON for maps and lists, plain text otherwise."""
    if isinstance(value, (dict, list)):
        return go_json(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_json(value: Any) -> str:
    """encoding/json.Marshal: compact, sorted keys, HTML-safe escapes."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def go_float(value: float) -> str:
    """fmt's %v for float64: shortest digits, exponent form below 1e-4 and from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    exp = len(text) + exponent - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:  # strconv 'g' with the shortest precision decides at 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return prefix + format(Decimal(repr(abs(value))).normalize(), "f")


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<nil>" if value is None else type(value).__name__


def jsonpath(template: str, data: Any, allow_missing_keys: bool = True) -> str:
    """What `kubectl get ... -o jsonpath=TEMPLATE` prints for data."""
    return JSONPath(template, allow_missing_keys).execute(data)
