"""Nodes with a lifecycle, as the kubelet and Kubernetes' node lifecycle controller keep them: each node's
heartbeat (orchestrator.controlplane.heartbeat, over the lab's segment) renews its Lease in
kube-node-lease; the monitor keeps each node's last renewal with its own clock (as the controller
keeps its Lease informer's), and a node not renewed within the grace period goes NotReady as the
controller marks it (every condition Unknown, reason NodeStatusUnknown, the unreachable taints); a
renewal brings it back. Every store write rewrites the store's file, so the Lease objects are written
at most LEASE_WRITES times a second in all: each beat with up to 5 nodes (the workshop's 3), every
nodes/5 seconds on a bigger lab (200 nodes: 40 s); the monitor's decision never waits for them.

This module holds the rules (times, the monitor's decisions, the objects' bodies) without sockets or
a store; `nodemonitor` runs them in the control plane. Times are scaled down from Kubernetes' own:
the lab's grace period is GRACE seconds, not 40, so a failover is measured in seconds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from orchestrator.fsutil import atomic_write
from orchestrator.rundir import RunDir

GRACE: Final = 4.0  # node-monitor-grace-period (Kubernetes' default: 40 s)
HEARTBEAT_INTERVAL: Final = 1.0  # a node's heartbeat, which renews its Lease (the kubelet: every 10 s of 40)
LEASE_DURATION: Final = 4  # the Lease's leaseDurationSeconds (the kubelet's 40 s, scaled as the grace period)
MONITOR_PERIOD: Final = 0.2  # node-monitor-period (Kubernetes' default: 5 s)
STARTUP_GRACE: Final = 15.0  # node-startup-grace-period (60 s): from the control plane's start to a first beat
STATUS_REPORT: Final = 60.0  # the kubelet posts an unchanged node status this often (5 min)
PORT: Final = 6444  # UDP, beside the API server's 6443 at the control-plane node's segment address
LEASE_NAMESPACE: Final = "kube-node-lease"
LEASE_WRITES: Final = 5.0  # Lease renewals written to the store a second, at most, across all nodes
MAGIC: Final = "gwlab-heartbeat"
UNREACHABLE: Final = "node.kubernetes.io/unreachable"
UNKNOWN_MESSAGE: Final = "Kubelet stopped posting node status."

# The kubelet's conditions of a healthy node: (type, status, reason, message).
KUBELET_CONDITIONS: Final = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def lease_interval(nodes: int) -> float:
    """How often one node's Lease object is written."""
    return max(HEARTBEAT_INTERVAL, nodes / LEASE_WRITES)


def summary() -> str:
    """What `up` and the README say of the timers."""
    return (f"node lifecycle: a heartbeat from each node every {HEARTBEAT_INTERVAL:g} s over the segment renews its "
            f"Lease; NotReady after {GRACE:g} s without one (the lab's node-monitor-grace-period; Kubernetes': 40 s)")


def micro_time(at: dt.datetime | None = None) -> str:
    """A MicroTime, as a Lease's renewTime and an Event's eventTime are written."""
    return (at or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_time(at: dt.datetime | None = None) -> str:
    return (at or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_beat(data: bytes, source: str, addresses: dict[str, str]) -> str | None:
    """The node a heartbeat (heartbeat.datagram) comes from, or None: it must name a node of the lab
    and come from that node's own segment address (so it crossed the segment, or the control-plane
    node's own stack)."""
    try:
        magic, version, node, seq = data.decode("ascii").split(" ")
        int(seq)
    except (UnicodeDecodeError, ValueError):
        return None
    if magic != MAGIC or version != "1" or addresses.get(node) != source:
        return None
    return node


@dataclass
class Health:
    renew: str = ""  # the Lease's renewTime last seen
    probed: float = 0.0  # when the monitor saw it change, by its own clock
    ready: bool = True


@dataclass(frozen=True)
class Transition:
    node: str
    ready: bool


@dataclass
class Monitor:
    """The node lifecycle controller's decision: a node is Ready while it renewed within the grace
    period, by this monitor's clock (as the controller keeps probeTimestamp when it sees a Lease's
    renewTime change: the node's clock and its own are never compared)."""

    nodes: Iterable[str]
    clock: Callable[[], float]
    grace: float = GRACE
    startup: float = STARTUP_GRACE
    health: dict[str, Health] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start = self.clock()
        # Until its first renewal a node has the startup grace period, counted from now.
        self.health = {n: Health(probed=start + self.startup - self.grace) for n in self.nodes}

    def observe(self, node: str, renew: str) -> None:
        h = self.health.get(node)
        if h is not None and renew and renew != h.renew:
            h.renew, h.probed = renew, self.clock()

    def tick(self) -> list[Transition]:
        now, out = self.clock(), []
        for node, h in sorted(self.health.items()):
            fresh = now - h.probed <= self.grace
            if fresh != h.ready:
                h.ready = fresh
                out.append(Transition(node, fresh))
        return out

    def unready(self) -> set[str]:
        return {n for n, h in self.health.items() if not h.ready}


def lease(node: str, renew: str, node_uid: str = "") -> dict[str, Any]:
    """A node's Lease as the kubelet writes it, owned by its Node (when the Node's uid is known)."""
    owner = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}] if node_uid else []
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node, "namespace": LEASE_NAMESPACE, **({"ownerReferences": owner} if owner else {})},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_DURATION, "renewTime": renew}}


def _by_type(conditions: Any) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in conditions or [] if isinstance(c, dict) and "type" in c}


def ready_conditions(old: Any, heartbeat: str) -> list[dict[str, Any]]:
    """The kubelet's conditions of a healthy node; a condition keeps lastTransitionTime while it holds."""
    before = _by_type(old)
    out = []
    for kind, status, reason, message in KUBELET_CONDITIONS:
        prev = before.get(kind, {})
        since = prev.get("lastTransitionTime") if prev.get("status") == status else None
        out.append({"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": heartbeat, "lastTransitionTime": since or heartbeat})
    return out


def unknown_conditions(old: Any, stamp: str) -> list[dict[str, Any]]:
    """As the node lifecycle controller marks a node whose kubelet went silent: every condition Unknown,
    the last heartbeat kept, the transition now."""
    before = _by_type(old)
    out = []
    for kind, *_ in KUBELET_CONDITIONS:
        prev = before.get(kind, {})
        out.append({"type": kind, "status": "Unknown", "reason": "NodeStatusUnknown", "message": UNKNOWN_MESSAGE,
                    "lastHeartbeatTime": prev.get("lastHeartbeatTime", stamp),
                    "lastTransitionTime": prev.get("lastTransitionTime", stamp)
                    if prev.get("status") == "Unknown" else stamp})
    return out


def taints(old: Any, ready: bool, stamp: str) -> list[dict[str, Any]]:
    """The node's taints: the unreachable ones (NoSchedule, and NoExecute with its time) while it is
    NotReady, gone when it is Ready; others kept."""
    kept = [t for t in old or [] if isinstance(t, dict) and t.get("key") != UNREACHABLE]
    if ready:
        return kept
    return kept + [{"key": UNREACHABLE, "effect": "NoSchedule"},
                   {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": stamp}]


def node_event(node: str, ready: bool) -> tuple[str, str, str, str]:
    """(reason, message, type, component) of the Node's Event for a transition."""
    if ready:
        return "NodeReady", f"Node {node} status is now: NodeReady", "Normal", "kubelet"
    return "NodeNotReady", f"Node {node} status is now: NodeNotReady", "Normal", "node-controller"


POD_EVENT: Final = ("NodeNotReady", "Node is not ready", "Warning", "node-controller")


def mark_pod_not_ready(status: dict[str, Any], stamp: str) -> dict[str, Any]:
    """A pod's status as MarkPodsNotReady leaves it for a node that stopped reporting: the kubelet's last
    report kept (ContainersReady, the containers' ready flags, the Ready condition's reason and message,
    none for a pod that was ready), only the Ready condition's status set False, its
    lastTransitionTime moved when that changed it."""
    out = dict(status)
    conditions = []
    for c in status.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") != "False":
            c = {**c, "status": "False", "lastTransitionTime": stamp}
        conditions.append(c)
    out["conditions"] = conditions
    return out


def write_unready(files: RunDir, nodes: set[str]) -> None:
    """The nodes the monitor holds NotReady, for the controllers (whose pass excludes their pods)."""
    atomic_write(files.node_health, json.dumps({"notReady": sorted(nodes)}))


def unready(files: RunDir) -> set[str]:
    try:
        raw = json.loads(files.node_health.read_text())
        return {str(n) for n in raw.get("notReady") or []}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()
