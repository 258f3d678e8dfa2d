"""The syntax tree of a JSONPath template: text, actions ({...}) and range/end blocks, and the nodes of
an action's path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union




@dataclass(frozen=True)
class FieldNode:
    name: str


@dataclass(frozen=True)
class WildcardNode:
    pass


@dataclass(frozen=True)
class RecursiveNode:
    pass


@dataclass(frozen=True)
class SliceNode:
    start: int | None
    end: int | None
    step: int | None
    single: bool  # written as [i]: the end is derived from the start


@dataclass(frozen=True)
class UnionNode:
    branches: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True)
class FilterNode:
    left: tuple[Node, ...]
    operator: str  # "exists" or a comparison
    right: tuple[Node, ...]


@dataclass(frozen=True)
class LiteralNode:
    value: str | int | float | bool


@dataclass(frozen=True)
class IdentifierNode:
    name: str


Node = Union[FieldNode, WildcardNode, RecursiveNode, SliceNode, UnionNode, FilterNode, LiteralNode, IdentifierNode]


@dataclass
class TextItem:
    text: str


@dataclass
class ActionItem:
    nodes: tuple[Node, ...]


@dataclass
class RangeItem:
    nodes: tuple[Node, ...]
    body: list[Item] = field(default_factory=list)


Item = Union[TextItem, ActionItem, RangeItem]

