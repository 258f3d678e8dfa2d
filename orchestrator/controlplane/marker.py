"""The control plane's marker: the store's resourceVersion its last pass saw, and that pass's report
or error, which gwlab's own writes wait on. Its own module so that a CLI waiting on it does not
import the control plane's loop (the writeback, the world, the API server's storage)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.engines.base import SyncReport


@dataclass
class Marker:
    rv: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    retrying: bool = False  # the error's pass will be tried again

    @classmethod
    def read(cls, path: Path) -> Marker:
        try:
            raw = json.loads(path.read_text())
            return cls(int(raw["rv"]), dict(raw.get("report") or {}), str(raw.get("error") or ""),
                       bool(raw.get("retrying")))
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def sync_report(self) -> SyncReport:
        return SyncReport(**self.report) if self.report else SyncReport()
