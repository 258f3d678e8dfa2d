"""From the Gateway API reconcile's plan of one Gateway (and the ready endpoints of each backend
Service port) to the proxy's IR, naming everything as Envoy Gateway names it.

The plan lists TLS passthrough ports with their listeners and SNI routes, and every other
programmed listener as "name (PROTOCOL/port)"; HTTP listeners become HTTP listeners without routes,
TCP listeners take the plan's TCPRoutes (and any given here), and any other protocol is returned as
skipped, with the reason.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from orchestrator.envoy.ir import (
    Destination,
    DestinationSetting,
    Endpoint,
    Listener,
    ProxyIR,
    RouteKind,
    TCPRoute,
)
from orchestrator.k8s.gateway.plan import BackendTarget, GatewayPlan, PortPlan

ServiceKey = tuple[str, str, int]  # namespace, name, Service port
EndpointMap = Mapping[ServiceKey, Sequence[tuple[str, int]]]  # ready endpoints: (pod IP, target port)

_UNSERVED = re.compile(r"^(?P<name>\S+) \((?P<protocol>[A-Z]+)/(?P<port>\d+)\)$")


@dataclass(frozen=True)
class TCPRouteAttachment:
    """An accepted TCPRoute on a TCP listener of the Gateway."""

    listener: str
    namespace: str
    name: str
    backends: tuple[BackendTarget, ...]


@dataclass(frozen=True)
class Adapted:
    ir: ProxyIR
    skipped: tuple[str, ...] = ()  # listeners the proxy does not program, with the reason


def route_name(kind: RouteKind, namespace: str, name: str) -> str:
    return f"{kind.lower()}/{namespace}/{name}"


def destination_name(kind: RouteKind, namespace: str, name: str) -> str:
    """Envoy Gateway pools a TLSRoute's or TCPRoute's rules into one destination: rule index -1."""
    return f"{route_name(kind, namespace, name)}/rule/-1"


def listener_name(gateway: str, listener: str) -> str:
    return f"{gateway}/{listener}"


def destination(
    kind: RouteKind, namespace: str, name: str, backends: Sequence[BackendTarget], endpoints: EndpointMap
) -> Destination:
    dest = destination_name(kind, namespace, name)
    settings = tuple(
        DestinationSetting(
            f"{dest}/backend/{i}",
            b.weight,
            tuple(Endpoint(ip, port) for ip, port in sorted(set(endpoints.get((b.namespace, b.name, b.port), ())),
                                                              key=_endpoint_order)),
        )
        for i, b in enumerate(backends)
    )
    return Destination(dest, settings)


def proxy_ir(
    plan: GatewayPlan,
    endpoints: EndpointMap,
    tcp_routes: Sequence[TCPRouteAttachment] = (),
    listener_order: Sequence[str] = (),
) -> Adapted:
    """listener_order: the Gateway's listener names in spec order. Envoy Gateway names the Envoy
    listener of a port after the first Gateway listener on it in that order, so a listener added
    later does not rename it (a rename is a new listener: the old one drains). Without it, the
    plan's order (most specific hostname first) is used."""
    gateway = str(plan.gateway)
    tcp_routes = [*tcp_routes, *(TCPRouteAttachment(t.listener, t.route.namespace, t.route.name, t.backends)
                                 for t in plan.tcp_routes)]
    rank = {name: i for i, name in enumerate(listener_order)}
    http: list[Listener] = []
    tcp: list[Listener] = []
    skipped: list[str] = []
    for port in plan.ports:
        tcp.extend(_tls_listeners(gateway, port, endpoints, rank))
        skipped += [f"{lst.name} (TLS/{port.port}): not TLS passthrough" for lst in port.listeners if not lst.served]
    for text in plan.unserved_listeners:
        m = _UNSERVED.match(text)
        if m is None:
            skipped.append(f"{text}: not understood")
            continue
        name, protocol, port_number = m["name"], m["protocol"], int(m["port"])
        if protocol == "HTTP":
            http.append(Listener(listener_name(gateway, name), "HTTP", port_number))
        elif protocol == "TCP":
            routes = tuple(
                TCPRoute(route_name("TCPRoute", r.namespace, r.name), "TCPRoute",
                         destination("TCPRoute", r.namespace, r.name, r.backends, endpoints))
                for r in tcp_routes
                if r.listener == name
            )
            tcp.append(Listener(listener_name(gateway, name), "TCP", port_number, routes))
        else:
            skipped.append(f"{name} ({protocol}/{port_number}): gwlab's proxy does not serve {protocol} listeners")
    # Envoy Gateway translates HTTP listeners first, then TCP ones (TLS passthrough included).
    return Adapted(ProxyIR(gateway, tuple(http + tcp)), tuple(skipped))


def _tls_listeners(gateway: str, port: PortPlan, endpoints: EndpointMap, rank: Mapping[str, int]) -> list[Listener]:
    """One IR listener per served Gateway listener of the port, its routes with their SNIs.

    Listeners on one port share an Envoy listener, so an SNI belongs to one filter chain only: the
    first (most specific) listener that took it owns it, as the spec says; a route attached to two
    listeners of the port gets one filter chain with the SNIs of both (one name, one chain)."""
    owner: dict[str | None, str] = {}
    by_route: dict[tuple[str, str], tuple[str, list[str | None], tuple[BackendTarget, ...]]] = {}
    for r in port.routes:
        if r.hostname in owner:
            continue
        owner[r.hostname] = r.listener
        key = (r.route.namespace, r.route.name)
        if key not in by_route:
            by_route[key] = (r.listener, [], r.backends)
        by_route[key][1].append(r.hostname)
    out = []
    in_order = sorted(port.listeners, key=lambda lst: rank.get(lst.name, len(rank)))  # stable: plan order otherwise
    for lst in in_order:
        if not lst.served:
            continue
        routes = []
        for (ns, name), (first, hosts, backends) in by_route.items():
            if first != lst.name:
                continue
            # A route with no SNI at all (None) matches every ClientHello: no server_names.
            snis = () if None in hosts else tuple(h for h in hosts if h is not None)
            routes.append(TCPRoute(route_name("TLSRoute", ns, name), "TLSRoute",
                                   destination("TLSRoute", ns, name, backends, endpoints), snis))
        out.append(Listener(listener_name(gateway, lst.name), "TLS", port.port, tuple(routes)))
    return out


def _endpoint_order(ep: tuple[str, int]) -> tuple[int, int, int]:
    ip = ipaddress.ip_address(ep[0])
    return (ip.version, int(ip), ep[1])
