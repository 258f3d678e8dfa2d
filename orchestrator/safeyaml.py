"""YAML as gwlab reads it: PyYAML's safe loader refusing anchors and aliases at the first one, so a
"billion laughs" file (aliases of aliases, a few hundred bytes expanding to gigabytes) is refused at
once instead of eating memory. Kubernetes manifests and topologies have no need of either."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import Node

MESSAGE = "anchors and aliases (& and *) are not allowed here: write the values out"


class NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ComposerError(None, None, MESSAGE, event.start_mark)
        return super().compose_node(parent, index)


def load(text: str) -> Any:
    return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def load_all(text: str) -> Iterator[Any]:
    return yaml.load_all(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
