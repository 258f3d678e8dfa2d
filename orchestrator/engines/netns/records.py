"""The control plane's own record of the pods it runs (their processes and namespaces, pods.json),
apart from the lab's state file, which `up` and the other verbs write: two writers of one file
would lose each other's updates. It keeps the kubelet's account of each pod's container too (its
restarts, its last termination, its back-off), so a control plane started again keeps restartCount."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.rundir import RunDir
from orchestrator.state import LabState, Proc


@dataclass
class Terminated:
    """A container's end, as a Pod's `lastState.terminated` says it."""

    exit_code: int
    reason: str  # Completed (exit 0), Error, or ContainerStatusUnknown (no status was left)
    signal: int = 0  # the signal that killed it, 0 when it exited
    started_at: str = ""
    finished_at: str = ""

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"exitCode": self.exit_code, "reason": self.reason}
        if self.signal:
            out["signal"] = self.signal
        if self.reason == "ContainerStatusUnknown":
            out["message"] = "The container could not be located when the pod was terminated"
        if self.started_at:
            out["startedAt"] = self.started_at
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        return out


@dataclass
class Container:
    """The kubelet's record of one pod's container across its restarts."""

    restart_count: int = 0
    started_at: str = ""  # this run's start (RFC 3339)
    started: float = 0.0  # the same, seconds since the epoch: the back-off resets after a long run
    backoff: float = 0.0  # the delay before the next restart once it dies again
    next_start: float = 0.0  # while backing off: when it starts again (epoch); 0 when not backing off
    delay: float = 0.0  # the back-off now in force (the CrashLoopBackOff message's "back-off 10s")
    last: Terminated | None = None
    # The readiness prober's verdict on a running container: failureThreshold probes in a row failed
    # (a hung process); cleared by its next success or a new start
    probe_failed: bool = False
    events: list[list[str]] = field(default_factory=list)  # [reason, message, type] not yet written

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Container:
        last = raw.get("last")
        return cls(**{**raw, "last": Terminated(**last) if isinstance(last, dict) else None})


@dataclass
class PodRecords(LabState):
    containers: dict[str, Container] = field(default_factory=dict)  # pod key -> its container

    @property
    def path(self) -> Path:
        return RunDir(self.lab).pod_records

    @classmethod
    def open(cls, state: LabState) -> PodRecords:
        if isinstance(state, PodRecords):
            return state
        try:
            raw = json.loads(RunDir(state.lab).pod_records.read_text())
            procs = [Proc(**p) for p in raw.get("processes", [])]
            containers = {k: Container.from_json(c) for k, c in (raw.get("containers") or {}).items()}
            return cls(state.lab, state.engine, state.topology, namespaces=list(raw.get("namespaces", [])),
                       processes=procs, bastion_bird=state.bastion_bird, bgp_timers=state.bgp_timers,
                       containers=containers)
        except (OSError, ValueError, TypeError):
            # The lab's settings the engine renders with come along (the speakers' timers too: without
            # them the control plane's first pass rewrote `up --timers calico`'s nodes to the fast ones).
            return cls(state.lab, state.engine, state.topology, bastion_bird=state.bastion_bird,
                       bgp_timers=state.bgp_timers)
