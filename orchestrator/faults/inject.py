"""Faults, each recorded in the lab's state before it is made and undone from that record:
link-down/link-up NODE[:IFACE], isolate/rejoin NODE (every link of the node), kill TARGET (a node's
BIRD, a pod, the gateway's proxy, or all of a node's processes) and clear (everything undone).

A killed process keeps its record, so the supervisor sees it dead but leaves it down (the fault
record says why) and `clear` starts it again: a node's BIRD with -R (graceful restart, as
calico-node's runit does). A killed pod is the control plane's to start again, as the kubelet restarts
a container whose process died: the fault record stays until `clear`."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.engines.netns import procs
from orchestrator.errors import LabError
from orchestrator.faults.links import routes_via, up
from orchestrator.impair.link import set_link
from orchestrator.state import FaultRecord, Proc, changing

if TYPE_CHECKING:
    from orchestrator.lab import Lab

KINDS = ("link-down", "link-up", "isolate", "rejoin", "kill", "clear")
SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}


@dataclass(frozen=True)
class Fault:
    """A fault as a command line names it: `kill:bird:calico-worker` is Fault("kill", "bird:calico-worker")."""

    kind: str
    target: str = ""
    signal: str = "TERM"

    @classmethod
    def parse(cls, text: str, sig: str = "TERM") -> Fault:
        kind, _, target = text.partition(":")
        if kind not in KINDS or kind in ("clear", "link-up", "rejoin"):
            raise LabError(f"unknown fault {text!r}: write link-down:NODE[:IFACE], isolate:NODE, "
                           "kill:bird:NODE, kill:pod/NAME, kill:gateway or kill:NODE")
        if not target:
            raise LabError(f"fault {text!r} names no target: e.g. {kind}:calico-worker")
        if sig not in SIGNALS:
            raise LabError(f"--signal {sig}: use KILL or TERM")
        return cls(kind, target, sig)

    def text(self) -> str:
        return f"{self.kind}:{self.target}"


def _node_interfaces(ns: str) -> list[str]:
    from orchestrator.capture.targets import interfaces

    return [i for i in interfaces(ns) if i != "lo"]


def _links(lab: Lab, kind: str, target: str) -> tuple[str, list[tuple[str, str]]]:
    from orchestrator.faults.netem_ops import _where
    from orchestrator.faults.setup import namespace_of

    if kind == "link-down":
        label, ns, iface = _where(lab, target)
        return f"{label}:{iface}", [(ns, iface)]
    node = lab.topo.node(target)
    ns = namespace_of(lab.topo, node.name)
    # Its links to the outside; the pods' cali veths are inside the node (they stay up with it).
    return node.name, [(ns, i) for i in _node_interfaces(ns) if not i.startswith("cali")]


def _process(lab: Lab, role: str) -> Proc | None:
    """A recorded process: a BIRD in the lab's state, a pod's in the control plane's pod records."""
    if role.startswith("pod:"):
        from orchestrator.engines.netns.records import PodRecords

        return PodRecords.open(lab.state).process(role)
    return lab.state.process(role)


def kill_roles(lab: Lab, target: str) -> list[str]:
    """The recorded processes a kill target names; an unknown one is named with those that exist."""
    from orchestrator.engines.netns.records import PodRecords

    pods = [p.role[4:] for p in PodRecords.open(lab.state).processes if p.role.startswith("pod:")]
    if target.startswith("bird:"):
        node = lab.topo.node(target[5:])
        return [f"bird:{node.name}"]
    if target.startswith("pod/"):
        name = target[4:]
        found = [f"pod:{k}" for k in pods if k.split("/", 1)[-1] == name or k == name]
        if not found:
            raise LabError(f"no pod {name!r} in lab {lab.topo.name!r}; pods are: "
                           + ", ".join(f"pod/{k.split('/', 1)[-1]}" for k in pods))
        return found
    host = lab.engine.host_pods() or []
    if target == "gateway":
        found = [f"pod:{p.spec.key}" for p in host if p.spec.role == "gateway"]
        if not found:
            raise LabError(f"lab {lab.topo.name!r} has no gateway proxy pod (is the demo applied?)")
        return found
    node = lab.topo.node(target)
    # The node's heartbeat goes with it (the kubelet's part): the node lifecycle marks it NotReady.
    beat = [f"heartbeat:{node.name}"] if lab.state.process(f"heartbeat:{node.name}") else []
    return [f"bird:{node.name}"] + beat + [f"pod:{p.spec.key}" for p in host if p.spec.node == node.name]


def _save(lab: Lab, record: FaultRecord | None, drop: list[FaultRecord] | None = None) -> None:
    with changing(lab.topo.name):
        from orchestrator.state import LabState

        fresh = LabState.load(lab.topo.name)  # the supervisor may have recorded a new BIRD meanwhile
        if fresh is not None:
            lab.state.processes = fresh.processes
        faults = [f for f in (fresh.faults if fresh else lab.state.faults) if f not in (drop or [])]
        lab.state.faults = faults + ([record] if record else [])
        lab.state.save()


def inject(lab: Lab, fault: Fault) -> FaultRecord:
    """Make the fault (recorded first); returns its record."""
    if fault.kind in ("link-down", "isolate"):
        label, links = _links(lab, fault.kind, fault.target)
        from orchestrator.impair.link import link_state

        links = [(ns, i) for ns, i in links if link_state(ns, i).admin_up]  # rejoin restores only these
        saved = [dict(r, ns=ns, iface=iface) for ns, iface in links for r in routes_via(ns, iface)]
        record = FaultRecord(fault.kind, label, time.time(), links=links, routes=saved)
        _save(lab, record)
        for ns, iface in links:
            set_link(ns, iface, False)
        return record
    roles = kill_roles(lab, fault.target)
    target = fault.target
    if target.startswith("bird:") or (target not in ("gateway",) and not target.startswith("pod/")):
        node = target.removeprefix("bird:")
        target = target[: len(target) - len(node)] + lab.topo.node(node).name  # worker1 -> calico-worker
    record = FaultRecord("kill", target, time.time(), roles=roles, signal=fault.signal)
    _save(lab, record)  # before the signal: the supervisor must not start it again
    for role in roles:
        proc = _process(lab, role)
        if proc is not None and procs.alive(proc):
            try:
                os.kill(proc.pid, SIGNALS[fault.signal])
            except ProcessLookupError:
                pass
    return record


def undo(lab: Lab, record: FaultRecord) -> list[str]:
    """Undo one recorded fault; returns what was done."""
    done = []
    for ns, iface in record.links:
        try:
            up(ns, iface, [r for r in record.routes if (r["ns"], r["iface"]) == (ns, iface)])
            done.append(f"{iface} up in {ns}")
        except LabError as exc:
            done.append(f"{iface} in {ns}: {exc}")
    for role in record.roles:
        proc = _process(lab, role)
        if proc is not None and procs.alive(proc):
            continue
        if role.startswith("bird:"):
            _restart_bird(lab, role[5:])
            done.append(f"BIRD on {role[5:]} started again (-R)")
        elif role.startswith("heartbeat:"):
            _restart_heartbeat(lab, role.split(":", 1)[1])
            done.append(f"heartbeat of {role.split(':', 1)[1]} started again")
        else:  # the control plane's kubelet starts a pod whose process died again by itself
            done.append(f"pod/{role[4:].split('/', 1)[-1]}: started again by the control plane")
    _save(lab, None, drop=[record])
    return done


def _restart_bird(lab: Lab, node: str) -> None:
    from orchestrator.faults.supervisor import start_bird

    with changing(lab.topo.name):
        start_bird(lab.state, lab.topo.node(node).name, graceful=True)


def _restart_heartbeat(lab: Lab, node: str) -> None:
    from orchestrator.controlplane import heartbeats

    with changing(lab.topo.name):
        from orchestrator.state import LabState

        fresh = LabState.load(lab.topo.name)  # the supervisor may have recorded a new BIRD meanwhile
        state = fresh or lab.state
        state.add_processes([heartbeats.spawn(lab.topo, node)])
        lab.state.processes = state.processes


def find(lab: Lab, kind: str, target: str) -> FaultRecord:
    """The record a link-up / rejoin undoes."""
    wanted = {"link-up": "link-down", "rejoin": "isolate"}[kind]
    recs = [f for f in lab.state.faults if f.kind == wanted]
    if kind == "link-up":
        label, links = _links(lab, "link-down", target)
        match = [f for f in recs if f.links == links or f.target == label]
    else:
        name = lab.topo.node(target).name
        match = [f for f in recs if f.target == name]
    if not match:
        injected = ", ".join(f.describe() for f in lab.state.faults) or "none"
        raise LabError(f"no {wanted} fault recorded for {target} in lab {lab.topo.name!r}; injected: {injected}")
    return match[0]


def clear(lab: Lab) -> list[str]:
    done = []
    for record in list(reversed(lab.state.faults)):
        done += [f"{record.describe()}: {line}" for line in undo(lab, record)] or [f"{record.describe()}: undone"]
    return done
