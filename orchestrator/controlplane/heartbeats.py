"""The nodes' heartbeat senders (orchestrator.controlplane.heartbeat), one per Kubernetes node, started
by `up` inside each node's namespace as the user nobody with no capabilities, recorded in the lab's
state as `heartbeat:<node>` (so `down` and `clean` stop them by PID)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from orchestrator.controlplane.nodelife import HEARTBEAT_INTERVAL, PORT
from orchestrator.controlplane.process import control_plane
from orchestrator.engines.netns import procs
from orchestrator.rundir import RunDir
from orchestrator.state import LabState, Proc, ns_name
from orchestrator.topology import Topology

ROLE: Final = "heartbeat:"
UID: Final = 65534  # nobody
SENDER: Final = Path(__file__).with_name("heartbeat.py")


def spawn(topo: Topology, name: str) -> Proc:
    """One node's sender. The control-plane node's own heartbeat goes to its own segment address: it
    stays in that namespace's stack (the local route), so it stops only if that node's sender does."""
    node = topo.node(name)
    log = RunDir.of(topo).node(node.name).heartbeat_log
    log.parent.mkdir(parents=True, exist_ok=True)
    # The sender is a plain script (isolated, no site): it starts in half the time of `-m` with the venv.
    argv = [sys.executable, "-I", "-S", str(SENDER), "--node", node.name, "--source", str(node.address.ip),
            "--to", str(control_plane(topo).address.ip), "--port", str(PORT), "--interval", f"{HEARTBEAT_INTERVAL:g}"]
    return procs.spawn(ROLE + node.name, ns_name(topo.name, node.name), argv, log, cwd=Path("/"), uid=UID)


def start(topo: Topology, state: LabState) -> list[Proc]:
    """A sender per Kubernetes node, recorded in the lab's state."""
    started = [spawn(topo, node.name) for node in topo.k8s_nodes]
    state.add_processes(started)
    return started
