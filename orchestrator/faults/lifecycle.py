"""A failover run's view of the node lifecycle: the Endpoints the lab's API serves, polled during the run
(an address leaving or coming back is a timeline line, with the node it sits on), and the node
lifecycle's Events (NodeNotReady, NodeReady) read after it; from them, when the faulty node's pods
left the endpoints and came back, and when the node went NotReady and Ready again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.errors import LabError
from orchestrator.faults.report import Line

if TYPE_CHECKING:
    from orchestrator.controlplane.client import Client
    from orchestrator.lab import Lab

REASONS = ("NodeNotReady", "NodeReady")


@dataclass(frozen=True)
class Address:
    service: str  # namespace/name
    ip: str
    node: str


@dataclass
class EndpointWatch:
    """The Endpoints' addresses, polled with a client of this watch's own (the run's thread)."""

    lab: Lab
    client: Client | None = None
    seen: frozenset[Address] | None = None
    history: list[tuple[float, frozenset[Address]]] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    def poll(self, now: float) -> None:
        from orchestrator.controlplane import process

        if not self.lab.has_api_server:
            return
        try:
            if self.client is None:
                self.client = process.client(self.lab.topo)
            reply = self.client.request("GET", "/api/v1/endpoints")
        except (LabError, OSError):
            return  # an API that does not answer shows in the requests
        if reply.status != 200:
            return
        found = frozenset(_addresses(reply.body))
        if self.seen is not None and found != self.seen:
            for a in sorted(self.seen - found, key=lambda a: (a.service, a.ip)):
                self.lines.append(Line(now, "endpoints", f"{a.service}: {a.ip} ({a.node}) removed"))
            for a in sorted(found - self.seen, key=lambda a: (a.service, a.ip)):
                self.lines.append(Line(now, "endpoints", f"{a.service}: {a.ip} ({a.node}) added"))
        if found != self.seen:
            self.history.append((now, found))
        self.seen = found

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _addresses(body: dict[str, Any]) -> list[Address]:
    out = []
    for e in body.get("items") or []:
        meta = e.get("metadata") or {}
        service = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        for subset in e.get("subsets") or []:
            for a in subset.get("addresses") or []:
                out.append(Address(service, str(a.get("ip", "")), str(a.get("nodeName", ""))))
    return out


def on_node(history: list[tuple[float, frozenset[Address]]], node: str, fault: float, start: float, end: float,
            present: bool) -> float | None:
    """The first time in [start, end) when the node had endpoints (present) or had none (not present);
    None if it never came to that, or if the node held no endpoint before the fault."""
    before = [s for t, s in history if t < fault]
    if not before or not any(a.node == node for a in before[-1]):
        return None  # the node held no endpoint when it started: nothing to remove or bring back
    for t, s in history:
        if start <= t < end and any(a.node == node for a in s) == present:
            return t
    return None


def _epoch(stamp: str) -> float | None:
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(stamp, fmt).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def node_events(lab: Lab, since: float) -> list[Line]:
    """The node lifecycle's Events recorded since `since` (their eventTime), as timeline lines."""
    if not lab.has_api_server:
        return []
    try:
        reply = lab.api.request("GET", "/api/v1/events")
    except (LabError, OSError):
        return []
    out = []
    for e in reply.body.get("items") or [] if reply.status == 200 else []:
        if e.get("reason") not in REASONS:
            continue
        t = _epoch(str(e.get("eventTime") or e.get("lastTimestamp") or ""))
        if t is None or t < since:
            continue
        obj = e.get("involvedObject") or {}
        out.append(Line(t, "node", f"{obj.get('kind', '').lower()}/{obj.get('name', '')} {e['reason']}: "
                                   f"{e.get('message', '')}"))
    return out


def event_time(lines: list[Line], node: str, reason: str, start: float) -> float | None:
    """When the node's Event with this reason was recorded at or after start."""
    return next((x.time for x in sorted(lines, key=lambda x: x.time)
                 if x.time >= start and x.text.startswith(f"node/{node} {reason}:")), None)
