"""The control plane's marker: the store's resourceVersion its last pass saw, and that pass's report
or error, which gwlab's own writes wait on. Its own module so that a CLI waiting on it does not
import the control plane's loop (the writeback, the world, the API server's storage)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.engines.base import SyncReport
from orchestrator.fsutil import atomic_write


HISTORY = 64  # passes the marker remembers: a waiter merges every pass since its change


@dataclass
class Pass:
    """What one pass did, keyed by the store's resourceVersion it covered."""

    rv: int
    report: dict[str, Any] = field(default_factory=dict)
    ran: bool = True  # False: nothing modelled had changed, the controllers did not run


@dataclass
class Marker:
    rv: int = 0
    report: dict[str, Any] = field(default_factory=dict)  # this pass's (empty when it did not run)
    error: str = ""
    retrying: bool = False  # the error's pass will be tried again
    # Seconds of each named phase (timing.phase) of every pass since the control plane started: a
    # writer's share is the difference between its reads before its write and after its wait.
    phases: dict[str, float] = field(default_factory=dict)
    passes: list[Pass] = field(default_factory=list)  # the last HISTORY passes, oldest first, this one last

    @classmethod
    def read(cls, path: Path) -> Marker:
        try:
            raw = json.loads(path.read_text())
            passes = [Pass(int(p["rv"]), dict(p.get("report") or {}), bool(p.get("ran", True)))
                      for p in raw.get("passes") or []]
            return cls(int(raw["rv"]), dict(raw.get("report") or {}), str(raw.get("error") or ""),
                       bool(raw.get("retrying")),
                       {str(k): float(v) for k, v in (raw.get("phases") or {}).items()}, passes)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def phases_since(self, earlier: Marker) -> dict[str, float]:
        return {k: v - earlier.phases.get(k, 0.0) for k, v in self.phases.items() if v > earlier.phases.get(k, 0.0)}

    def sync_report(self, since: int | None = None) -> SyncReport:
        """What the controllers did for a change written after the store's version `since` (default:
        the passes at this marker's version): every pass past it merged, since the pass that acted on
        the change may be followed by passes its own status writes started, which had nothing to do.
        What is not ready, and why pods wait, is the last pass's word that ran."""
        if not self.passes:  # a marker written before passes were kept
            return SyncReport(**self.report) if self.report else SyncReport()
        since = self.rv - 1 if since is None else since
        merged = SyncReport()
        ran = [p for p in self.passes if p.ran]
        for p in self.passes:
            if p.rv <= since or not p.ran:
                continue
            one = SyncReport(**p.report)
            for name in ("created", "removed", "kube_proxy", "reloaded", "speakers"):
                into: list[str] = getattr(merged, name)
                into += [x for x in getattr(one, name) if x not in into]
        if ran:
            last = SyncReport(**ran[-1].report)
            merged.not_ready, merged.waiting = last.not_ready, last.waiting
        return merged

    def record(self, path: Path, ran: bool) -> None:
        """Written as the marker at `path`, this pass appended to the history the last one carried
        (bounded). `ran`: the controllers ran (the modelled objects had changed)."""
        previous = Marker.read(path)
        self.passes = [*previous.passes, Pass(self.rv, self.report, ran and not self.error)][-HISTORY:]
        atomic_write(path, json.dumps(asdict(self)))
