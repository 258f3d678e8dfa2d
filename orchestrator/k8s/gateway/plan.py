"""The data plane plan the controller hands to the proxy: per Gateway, per port, the listeners and the
SNI routes to backends, built from the evaluated listeners and the accepted routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from orchestrator.k8s.gateway.hostnames import hostname_precedence
from orchestrator.k8s.gateway.listeners import ListenerState, passthrough
from orchestrator.k8s.gateway.status import ObjKey



@dataclass(frozen=True)
class BackendTarget:
    namespace: str
    name: str
    port: int
    weight: int


@dataclass(frozen=True)
class SniRoute:
    """Connections whose SNI matches `hostname` (None: any ClientHello, even without SNI) on
    `listener` go to `backends` by weight; `rejected_weight` is the share of backendRefs that did
    not resolve, which the spec says must be refused rather than redistributed."""

    listener: str
    hostname: str | None
    route: ObjKey
    backends: tuple[BackendTarget, ...]
    rejected_weight: int = 0

    @property
    def total_weight(self) -> int:
        return sum(b.weight for b in self.backends) + self.rejected_weight


@dataclass(frozen=True)
class TcpRoutePlan:
    """Every connection to the TCP `listener` goes to the accepted TCPRoute's backends by weight
    (the oldest route, when several attach: a TCP listener has nothing to tell them apart by)."""

    listener: str
    route: ObjKey
    backends: tuple[BackendTarget, ...]
    rejected_weight: int = 0


@dataclass(frozen=True)
class ListenerPlan:
    name: str
    hostname: str | None
    served: bool  # False: a listener gwlab's proxy does not implement (its SNIs are refused)


@dataclass(frozen=True)
class PortPlan:
    port: int
    listeners: tuple[ListenerPlan, ...]  # most specific hostname first: the first match owns a connection
    routes: tuple[SniRoute, ...]  # within a listener, the first matching route wins


@dataclass(frozen=True)
class GatewayPlan:
    gateway: ObjKey
    address: str | None
    ports: tuple[PortPlan, ...]
    unserved_listeners: tuple[str, ...] = ()  # programmed, but not TLS passthrough
    tcp_routes: tuple[TcpRoutePlan, ...] = ()  # TCP listeners' routes (the listeners are unserved_listeners)

    def services(self) -> list[tuple[str, str, int]]:
        """(namespace, name, port) of every Service the plan sends traffic to, sorted."""
        found = {(b.namespace, b.name, b.port) for p in self.ports for r in p.routes for b in r.backends}
        found |= {(b.namespace, b.name, b.port) for t in self.tcp_routes for b in t.backends}
        return sorted(found)



def build_plan(
    key: ObjKey,
    address: str | None,
    states: list[ListenerState],
    sni_routes: list[tuple[SniRoute, tuple[Any, ...]]],
    tcp_routes: Sequence[tuple[TcpRoutePlan, tuple[Any, ...]]] = (),
) -> GatewayPlan:
    served_ports = sorted({st.listener.port for st in states if st.ready and passthrough(st.listener)})
    ports = []
    for port in served_ports:
        on_port = sorted(
            (st for st in states if st.ready and st.listener.port == port),
            key=lambda st: (hostname_precedence(st.listener.hostname), st.listener.name),
        )
        rank = {st.listener.name: i for i, st in enumerate(on_port)}
        routes = [(r, order) for r, order in sni_routes if r.listener in rank]
        routes.sort(key=lambda item: (rank[item[0].listener], item[1]))
        seen: set[tuple[str, str | None]] = set()
        kept = []
        for r, _ in routes:
            if (r.listener, r.hostname) not in seen:  # an older route already owns this name
                seen.add((r.listener, r.hostname))
                kept.append(r)
        listeners = tuple(
            ListenerPlan(st.listener.name, st.listener.hostname, passthrough(st.listener)) for st in on_port
        )
        ports.append(PortPlan(port, listeners, tuple(kept)))
    unserved = tuple(
        f"{st.listener.name} ({st.listener.protocol}/{st.listener.port})"
        for st in states
        if st.ready and not passthrough(st.listener)
    )
    tcp_ready = {st.listener.name for st in states if st.ready and st.listener.protocol == "TCP"}
    tcp: dict[str, TcpRoutePlan] = {}
    for t, _ in sorted(tcp_routes, key=lambda item: item[1]):
        if t.listener in tcp_ready:
            tcp.setdefault(t.listener, t)
    return GatewayPlan(key, address, tuple(ports), unserved, tuple(tcp[name] for name in sorted(tcp)))
