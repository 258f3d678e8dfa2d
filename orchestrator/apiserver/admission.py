"""The hook the lab plugs its strict models into: each write is shown to every admission in turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.apiserver.errors import Cause
from orchestrator.apiserver.registry import Resource


@dataclass
class Verdict:
    causes: list[Cause] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Admission(Protocol):
    def validate(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> Verdict:
        """Problems that refuse the write (every one, with field paths), and warnings to show."""
        ...
