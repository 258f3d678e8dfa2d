"""The Gateway API controller's reconcile, as pure functions: objects in, status and data plane plan out.

It behaves like Envoy Gateway (the controller behind Calico's `tigera-gateway-class`): the same
condition types, reasons and precedence, checked against the Gateway API spec
(kubernetes-sigs/gateway-api apis/v1/shared_types.go, gateway_types.go, apis/v1alpha2/
tlsroute_types.go) and its TLSRoute conformance tests. The plan lists the TLS passthrough
ports with their SNI routes, and every other programmed listener as unserved; the proxy's
translation (orchestrator/envoy/adapter.py) makes HTTP and TCP listeners of those.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping

from orchestrator.k8s.gateway.hostnames import hostname_precedence
from orchestrator.k8s.gateway.listeners import (
    Context,
    ListenerState,
    evaluate_listener,
    finalize_listener,
    listener_status,
    mark_conflicts,
    passthrough,
)
from orchestrator.k8s.gateway.plan import GatewayPlan, SniRoute, TcpRoutePlan, build_plan
from orchestrator.k8s.gateway.routes import attach, resolve_backends
from orchestrator.k8s.gateway.status import (
    CONTROLLER_NAME,
    PENDING_TIME,
    Clock,
    Condition,
    GatewayClassStatus,
    GatewayStatus,
    ObjKey,
    RouteParentStatus,
    ServiceInfo,
    Status,
    TLSRouteStatus,
    key_of,
)
from orchestrator.k8s.gateway.types import GATEWAY_GROUP, Gateway, GatewayClass, ReferenceGrant, Route

@dataclass(frozen=True)
class ReconcileResult:
    gateway_classes: dict[ObjKey, GatewayClassStatus]
    gateways: dict[ObjKey, GatewayStatus]
    routes: dict[ObjKey, TLSRouteStatus]
    plans: dict[ObjKey, GatewayPlan]
    tcp_routes: dict[ObjKey, TLSRouteStatus] = field(default_factory=dict)  # TCPRoutes' statuses



def reconcile(
    *,
    gateway_classes: Iterable[GatewayClass],
    gateways: Iterable[Gateway],
    routes: Iterable[Route],
    reference_grants: Iterable[ReferenceGrant] = (),
    services: Iterable[ServiceInfo] = (),
    addresses: Mapping[ObjKey, str | None] | None = None,
    now: str,
    controller_name: str = CONTROLLER_NAME,
    unready: Collection[ObjKey] = (),
    secrets: Collection[ObjKey] = (),
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    previous: ReconcileResult | None = None,
) -> ReconcileResult:
    """One reconcile pass over everything the controller watches.

    addresses: the address assigned to each Gateway's LoadBalancer Service (missing or None:
    not assigned yet). unready: Gateways whose proxy is not running yet. secrets: the Secrets
    that exist, for TLS Terminate certificateRefs. namespace_labels: labels of namespaces, for
    `allowedRoutes.namespaces.from: Selector` (every namespace carries kubernetes.io/metadata.name).
    previous: the last result, so that unchanged conditions keep their lastTransitionTime.
    """
    classes = {key_of(c): c for c in gateway_classes}
    gws = {key_of(g): g for g in gateways}
    route_list = sorted(routes, key=_route_order)
    ctx = Context(
        grants=list(reference_grants),
        services={ObjKey(s.namespace, s.name): s for s in services},
        secrets=set(secrets),
        namespace_labels=namespace_labels or {},
    )
    clock = Clock(now, _previous_conditions(previous))

    class_status: dict[ObjKey, GatewayClassStatus] = {}
    for k, gc in classes.items():
        if gc.controller_name == controller_name:
            value: tuple[Status, str, str] = ("True", "Accepted", "Valid GatewayClass")
            class_status[k] = GatewayClassStatus(
                (clock.condition(f"class|{k}", "Accepted", value, gc.metadata.generation),)
            )
        else:  # another controller's class: the CRD default until that controller writes
            class_status[k] = GatewayClassStatus(
                (Condition("Accepted", "Unknown", "Pending", "Waiting for controller", PENDING_TIME),)
            )

    def ours(gw: Gateway) -> bool:
        gc = classes.get(ObjKey("", gw.gateway_class_name))
        return gc is not None and gc.controller_name == controller_name

    states = {
        k: [evaluate_listener(gw, lst, ctx) for lst in gw.listeners] for k, gw in gws.items() if ours(gw)
    }
    for listener_states in states.values():
        mark_conflicts(listener_states)
        for st in listener_states:
            finalize_listener(st)

    route_status: dict[ObjKey, TLSRouteStatus] = {}
    tcp_status: dict[ObjKey, TLSRouteStatus] = {}
    sni_routes: dict[ObjKey, list[tuple[SniRoute, tuple[Any, ...]]]] = {k: [] for k in states}
    tcp_routes: dict[ObjKey, list[tuple[TcpRoutePlan, tuple[Any, ...]]]] = {k: [] for k in states}
    for route in route_list:
        rkey = key_of(route)
        backends, rejected, resolved = resolve_backends(route, ctx)
        parents = []
        for pref in route.parent_refs:
            if pref.group != GATEWAY_GROUP or pref.kind != "Gateway":
                continue  # another kind of parent: not this controller's to report on
            gkey = ObjKey(pref.namespace, pref.name)
            gw = gws.get(gkey)
            if gw is not None and not ours(gw):
                continue  # a Gateway of another (or no) class: no controller of ours reports
            accepted, hits = attach(route, pref, gw, states.get(gkey, []), ctx)
            scope = f"{_scope(route)}|{rkey}|{pref.to_dict()}"
            gen = route.metadata.generation
            parents.append(
                RouteParentStatus(
                    pref,
                    controller_name,
                    (
                        clock.condition(scope, "Accepted", accepted, gen),
                        clock.condition(scope, "ResolvedRefs", resolved, gen),
                    ),
                )
            )
            if accepted[0] != "True":
                continue
            for st, hosts in hits:
                st.attached.add(rkey)
                if route.kind == "TCPRoute":
                    if st.ready and st.listener.protocol == "TCP":
                        plan = TcpRoutePlan(st.listener.name, rkey, backends, rejected)
                        tcp_routes[gkey].append((plan, _route_order(route)))
                    continue
                if not st.ready or not passthrough(st.listener):
                    continue
                for host in hosts:
                    order = (hostname_precedence(host), _route_order(route))
                    sni = SniRoute(st.listener.name, host, rkey, backends, rejected)
                    sni_routes[gkey].append((sni, order))
        (tcp_status if route.kind == "TCPRoute" else route_status)[rkey] = TLSRouteStatus(tuple(parents))

    gateway_status: dict[ObjKey, GatewayStatus] = {}
    plans: dict[ObjKey, GatewayPlan] = {}
    addrs = addresses or {}
    for k, gw in gws.items():
        if k not in states:
            gateway_status[k] = _pending_status()
            continue
        address = addrs.get(k)
        status = _gateway_status(gw, states[k], address, k in unready, clock, f"gw|{k}")
        gateway_status[k] = status
        gw_accepted = status.condition("Accepted")
        serving = gw_accepted is not None and gw_accepted.status == "True"
        plans[k] = build_plan(k, address, states[k] if serving else [], sni_routes[k], tcp_routes[k])
    return ReconcileResult(class_status, gateway_status, route_status, plans, tcp_status)



def _scope(route: Route) -> str:
    """Where a route's conditions are remembered (a TLSRoute keeps its historical scope)."""
    return "route" if route.kind == "TLSRoute" else "tcproute"


def _route_order(route: Route) -> tuple[str, str, str]:
    """Oldest first, then namespace/name (gateway_types.go, Listener.AllowedRoutes)."""
    created = route.metadata.creation_timestamp or "9999"
    return (created, route.metadata.namespace, route.metadata.name)



def _previous_conditions(previous: ReconcileResult | None) -> dict[str, Condition]:
    out: dict[str, Condition] = {}
    if previous is None:
        return out
    for k, cs in previous.gateway_classes.items():
        out.update({f"class|{k}|{c.type}": c for c in cs.conditions})
    for k, gs in previous.gateways.items():
        out.update({f"gw|{k}|{c.type}": c for c in gs.conditions})
        for lst in gs.listeners:
            out.update({f"gw|{k}|listener|{lst.name}|{c.type}": c for c in lst.conditions})
    for scope, statuses in (("route", previous.routes), ("tcproute", previous.tcp_routes)):
        for k, rs in statuses.items():
            for p in rs.parents:
                out.update({f"{scope}|{k}|{p.parent_ref.to_dict()}|{c.type}": c for c in p.conditions})
    return out


# ---- gateways ----------------------------------------------------------------------------------


def _pending_status() -> GatewayStatus:
    """What the API server shows when no controller handles the Gateway's class (the CRD default)."""
    return GatewayStatus(
        (
            Condition("Accepted", "Unknown", "Pending", "Waiting for controller", PENDING_TIME),
            Condition("Programmed", "Unknown", "Pending", "Waiting for controller", PENDING_TIME),
        )
    )


def _gateway_status(
    gw: Gateway, states: list[ListenerState], address: str | None, unready: bool, clock: Clock, scope: str
) -> GatewayStatus:
    gen = gw.metadata.generation
    accepted_names = [st.listener.name for st in states if st.accepted and st.accepted[0] == "True"]
    rejected = sorted(st.listener.name for st in states if st.listener.name not in accepted_names)
    unsupported = [a for a in gw.addresses if a.type != "IPAddress"]
    accepted: tuple[Status, str, str]
    if unsupported:
        message = f"Address type {unsupported[0].type} is not supported, use IPAddress"
        accepted = ("False", "UnsupportedAddress", message)
    elif not rejected:
        accepted = ("True", "Accepted", "The Gateway has been scheduled by Envoy Gateway")
    elif accepted_names:
        accepted = ("True", "ListenersNotValid", f"Listeners not valid: {', '.join(rejected)}")
    else:
        accepted = ("False", "ListenersNotValid", f"No listeners are valid: {', '.join(rejected)}")
    requested = [a.value for a in gw.addresses if a.type == "IPAddress" and a.value]
    programmed: tuple[Status, str, str]
    if accepted[0] != "True":
        programmed = ("False", "Invalid", "The Gateway is not accepted, see the Accepted condition.")
    elif address is None:
        programmed = ("False", "AddressNotAssigned", "No addresses have been assigned to the Gateway")
    elif requested and address not in requested:
        message = f"One or more Gateway addresses cannot be used: assigned {address}, requested {requested}"
        programmed = ("False", "AddressNotUsable", message)
    elif unready:
        programmed = ("False", "NoResources", "Proxy replicas unavailable")
    else:
        programmed = ("True", "Programmed", "Address assigned to the Gateway, 1/1 proxy replicas available")
    return GatewayStatus(
        (
            clock.condition(scope, "Accepted", accepted, gen),
            clock.condition(scope, "Programmed", programmed, gen),
        ),
        (address,) if address else (),
        tuple(listener_status(st, clock, scope, gen) for st in states),
    )
