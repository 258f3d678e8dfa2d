"""A parsed template run over data, as client-go's JSONPath walks it."""

from __future__ import annotations

from typing import Any

from orchestrator.errors import LabError
from orchestrator.k8s.jsonpath.nodes import (
    ActionItem,
    FieldNode,
    FilterNode,
    Item,
    LiteralNode,
    Node,
    RecursiveNode,
    SliceNode,
    TextItem,
    UnionNode,
    WildcardNode,
)
from orchestrator.k8s.jsonpath.parser import parse_template
from orchestrator.k8s.jsonpath.printing import format_value, go_type


class JSONPathError(LabError):
    pass


class JSONPath:
    """A parsed template; `execute(data)` returns what kubectl would print."""

    def __init__(self, template: str, allow_missing_keys: bool = True):
        self.template = template
        self.allow_missing_keys = allow_missing_keys
        try:
            self._items = parse_template(template)
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

    def _collect(self, items: list[Item], data: Any) -> list[list[Any]]:
        out: list[list[Any]] = []
        for item in items:
            if isinstance(item, TextItem):
                out.append([item.text])
            elif isinstance(item, ActionItem):
                out.append(self._walk([data], item.nodes))
            else:
                for value in self._walk([data], item.nodes):
                    out += self._collect(item.body, value)
        return out

    def _run(self, items: list[Item], data: Any) -> list[str]:
        return [" ".join(format_value(v) for v in results) for results in self._collect(items, data)]

    def _walk(self, values: list[Any], nodes: tuple[Node, ...]) -> list[Any]:
        for node in nodes:
            values = self._step(values, node)
        return values

    def _step(self, values: list[Any], node: Node) -> list[Any]:
        if isinstance(node, FieldNode):
            if not values:
                return []
            found = [v[node.name] for v in values if isinstance(v, dict) and node.name in v]
            if not found and not self.allow_missing_keys:
                raise ValueError(f"{node.name} is not found")
            return found
        if isinstance(node, LiteralNode):
            if isinstance(node.value, str):  # quoted text ignores its input, as in client-go
                return [node.value]
            return [node.value for _ in values]
        if isinstance(node, WildcardNode):
            return [child for v in values for child in _children(v)]
        if isinstance(node, RecursiveNode):
            return self._recursive(values)
        if isinstance(node, SliceNode):
            return [item for v in values if v is not None for item in _slice(v, node)]
        if isinstance(node, UnionNode):
            return [r for branch in node.branches for r in self._walk(values, branch)]
        if isinstance(node, FilterNode):
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

    def _filter(self, value: Any, node: FilterNode) -> list[Any]:
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


def _slice(value: Any, node: SliceNode) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{go_type(value)} is not array or slice")
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
        raise ValueError(f"incompatible types for comparison: {go_type(left)} and {go_type(right)}")
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if lk == "bool":
        raise ValueError(f"invalid type for comparison: {operator} on booleans")
    return bool(
        {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
    )


def jsonpath(template: str, data: Any, allow_missing_keys: bool = True) -> str:
    """What `kubectl get ... -o jsonpath=TEMPLATE` prints for data."""
    return JSONPath(template, allow_missing_keys).execute(data)
