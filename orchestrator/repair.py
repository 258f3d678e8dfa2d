"""A lab that stands but lost a part: its control plane, its supervisor or a BIRD died (kill -9, a
crash), or `up` itself died after the build. `gwlab up` of the same topology and options repairs it
rather than building it anew (the API server's store on disk keeps the user's objects, the running
pods are adopted by the control plane started again); `gwlab verify` starts a dead control plane.
A lab whose namespaces are gone, or that `up` left before its build finished, is built anew."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engines.netns import namespaces, procs
from orchestrator.errors import LabError
from orchestrator.rundir import RunDir
from orchestrator.state import LabState, Proc, changing
from orchestrator.topology import Topology

SERVING_WAIT = 30.0  # seconds for a control plane started again to finish its first pass


def digest(topo: Topology, options: list[str], manifests: list[Path]) -> str:
    """What `up` was asked to build: the topology file, kind's config, the options and the manifests."""
    h = hashlib.sha256()
    for path in [topo.path, topo.path.parent / topo.kind_config, *manifests]:
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(str(path).encode())
    h.update("\0".join(options).encode())
    return h.hexdigest()


@dataclass
class Damage:
    dead: list[Proc]  # recorded daemons found dead that nothing meant to stop (a fault, `bird stop`)
    missing: list[str]  # the lab's namespaces that are gone

    def why_not(self, state: LabState, built_from: str) -> str:
        """Why `up` cannot repair the lab (it builds it anew then); empty when it can."""
        if state.built_from != built_from:
            return "it was built from another topology or other options"
        if state.phase not in ("built", "up"):
            return "its build did not finish"
        if self.missing:
            return f"its namespace{'s' if len(self.missing) > 1 else ''} {', '.join(self.missing[:3])} " \
                   f"{'are' if len(self.missing) > 1 else 'is'} gone"
        return ""


def assess(state: LabState) -> Damage:
    faulted = {role for f in state.faults for role in f.roles}
    dead = [p for p in state.processes
            if not p.role.startswith("pod:") and p.role not in faulted and not procs.alive(p)]
    return Damage(dead, [n for n in state.namespaces if not namespaces.exists(n)])


def restart(topo: Topology, state: LabState, dead: list[Proc]) -> list[str]:
    """The dead daemons started again, each recorded; what was done, one line each."""
    from orchestrator.controlplane import heartbeats, process as controlplane
    from orchestrator.engines import get_engine
    from orchestrator.faults import supervisor

    done = []
    for p in dead:
        if p.role == controlplane.ROLE:
            since = time.time()
            new = controlplane.start(topo, state)
            wait_serving(topo, since)
            done.append(f"the control plane had died (pid {p.pid}): started again (pid {new.pid}); the objects in "
                        "its store are kept and the running pods adopted")
        elif p.role == supervisor.ROLE:
            new = supervisor.spawn(state, topo.bastion.name)
            state.add_processes([new])
            done.append(f"the lab's supervisor had died (pid {p.pid}): started again (pid {new.pid})")
        elif p.role.startswith(heartbeats.ROLE):
            node = p.role[len(heartbeats.ROLE):]
            state.add_processes([heartbeats.spawn(topo, node)])
            done.append(f"the heartbeat of {node} had died (pid {p.pid}): started again")
        elif p.role.startswith("bird:"):
            node = p.role[5:]
            get_engine(state.engine, topo, state).restart_bird(node)
            done.append(f"BIRD on {node} had died (pid {p.pid}): started again")
    return done


def wait_serving(topo: Topology, since: float, timeout: float = SERVING_WAIT) -> None:
    """Until the control plane's first pass has left its marker (it serves the API before that)."""
    files = RunDir.of(topo)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if files.reconciled.stat().st_mtime >= since:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise LabError(f"the control plane started again did not reconcile within {timeout:.0f} s; "
                   f"see {files.controlplane_log}")


def revive_control_plane(topo: Topology, state: LabState) -> str:
    """For `verify`: a recorded control plane that died started again; the line saying so, or ""."""
    from orchestrator.controlplane import process as controlplane

    proc = state.process(controlplane.ROLE)
    if proc is None or procs.alive(proc):
        return ""
    with changing(topo.name):
        fresh = LabState.load(topo.name) or state
        proc = fresh.process(controlplane.ROLE)
        if proc is None or procs.alive(proc):
            return ""
        lines = restart(topo, fresh, [proc])
    state.processes = fresh.processes
    return lines[0]
