"""Engines realise a topology. The steps and checks around them are shared (orchestrator.runbook).

The protocol is orchestrator.engines.base; this package's own module loads nothing else, so that
`down` and `clean` (which reach the netns engine's host modules) start fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import LabError

if TYPE_CHECKING:
    from orchestrator.engines.base import Engine
    from orchestrator.state import LabState
    from orchestrator.topology import Topology

ENGINES = ("netns", "clab")


def get_engine(name: str, topo: Topology, state: LabState) -> Engine:
    if name == "netns":
        from orchestrator.engines.netns.engine import NetnsEngine

        return NetnsEngine(topo, state)
    if name == "clab":
        from orchestrator.engines.clab.engine import ClabEngine

        return ClabEngine(topo, state)
    raise LabError(f"unknown engine {name!r}: use {' or '.join(ENGINES)}")
