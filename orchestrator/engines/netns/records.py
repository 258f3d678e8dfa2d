"""The control plane's own record of the pods it runs (their processes and namespaces, pods.json),
apart from the lab's state file, which `up` and the other verbs write: two writers of one file
would lose each other's updates."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.rundir import RunDir
from orchestrator.state import LabState, Proc


class PodRecords(LabState):
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
            return cls(state.lab, state.engine, state.topology, namespaces=list(raw.get("namespaces", [])),
                       processes=procs, bastion_bird=state.bastion_bird, bgp_timers=state.bgp_timers)
        except (OSError, ValueError, TypeError):
            # The lab's settings the engine renders with come along (the speakers' timers too: without
            # them the control plane's first pass rewrote `up --timers calico`'s nodes to the fast ones).
            return cls(state.lab, state.engine, state.topology, bastion_bird=state.bastion_bird,
                       bgp_timers=state.bgp_timers)
