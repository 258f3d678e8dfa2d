"""The Gateway API controller's reconcile, as pure functions: objects in, status and data plane plan out.

It behaves like Envoy Gateway (the controller behind Calico's `tigera-gateway-class`): the same
condition types, reasons and precedence, checked against the Gateway API spec
(kubernetes-sigs/gateway-api apis/v1/shared_types.go, gateway_types.go, apis/v1alpha2/
tlsroute_types.go) and its TLSRoute conformance tests. The data plane is gwlab's HAProxy, which
only passes TLS through: listeners it cannot serve are still reported as a real cluster would,
and listed in the plan as unserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Literal, Mapping, NamedTuple, Sequence

from orchestrator.k8s.gateway_model import (
    CORE_PROTOCOLS,
    GATEWAY_GROUP,
    Gateway,
    GatewayClass,
    LabelSelector,
    Listener,
    ParentReference,
    ReferenceGrant,
    RouteGroupKind,
    TLSRoute,
)

CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
PENDING_TIME = "1970-01-01T00:00:00Z"  # the CRD's default status, before any controller writes

Status = Literal["True", "False", "Unknown"]


class ObjKey(NamedTuple):
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def key_of(obj: Gateway | TLSRoute | GatewayClass | ReferenceGrant) -> ObjKey:
    return ObjKey(obj.metadata.namespace, obj.metadata.name)


@dataclass(frozen=True)
class ServiceInfo:
    """What the controller needs to know of a Service: its TCP ports."""

    namespace: str
    name: str
    ports: tuple[int, ...]


# ---- status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    type: str
    status: Status
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lastTransitionTime": self.last_transition_time, "message": self.message}
        if self.observed_generation is not None:
            out["observedGeneration"] = self.observed_generation
        out.update(reason=self.reason, status=self.status, type=self.type)
        return out


@dataclass(frozen=True)
class ListenerStatus:
    name: str
    supported_kinds: tuple[RouteGroupKind, ...]
    attached_routes: int
    conditions: tuple[Condition, ...]

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attachedRoutes": self.attached_routes,
            "conditions": [c.to_dict() for c in self.conditions],
            "name": self.name,
            "supportedKinds": [{"group": k.group, "kind": k.kind} for k in self.supported_kinds],
        }


@dataclass(frozen=True)
class GatewayStatus:
    conditions: tuple[Condition, ...]
    addresses: tuple[str, ...] = ()
    listeners: tuple[ListenerStatus, ...] = ()

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def listener(self, name: str) -> ListenerStatus | None:
        return next((lst for lst in self.listeners if lst.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.addresses:
            out["addresses"] = [{"type": "IPAddress", "value": a} for a in self.addresses]
        out["conditions"] = [c.to_dict() for c in self.conditions]
        if self.listeners:
            out["listeners"] = [lst.to_dict() for lst in self.listeners]
        return out


@dataclass(frozen=True)
class RouteParentStatus:
    parent_ref: ParentReference
    controller_name: str
    conditions: tuple[Condition, ...]

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "conditions": [c.to_dict() for c in self.conditions],
            "controllerName": self.controller_name,
            "parentRef": self.parent_ref.to_dict(),
        }


@dataclass(frozen=True)
class TLSRouteStatus:
    parents: tuple[RouteParentStatus, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"parents": [p.to_dict() for p in self.parents]}


@dataclass(frozen=True)
class GatewayClassStatus:
    conditions: tuple[Condition, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"conditions": [c.to_dict() for c in self.conditions]}


# ---- data plane plan ---------------------------------------------------------------------------


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

    def services(self) -> list[tuple[str, str, int]]:
        """(namespace, name, port) of every Service the plan sends traffic to, sorted."""
        found = {(b.namespace, b.name, b.port) for p in self.ports for r in p.routes for b in r.backends}
        return sorted(found)


@dataclass(frozen=True)
class ReconcileResult:
    gateway_classes: dict[ObjKey, GatewayClassStatus]
    gateways: dict[ObjKey, GatewayStatus]
    routes: dict[ObjKey, TLSRouteStatus]
    plans: dict[ObjKey, GatewayPlan]


# ---- hostnames ---------------------------------------------------------------------------------


def wildcard_matches(pattern: str, hostname: str) -> bool:
    """`*.example.com` matches `foo.example.com` and `foo.bar.example.com`, not `example.com`.

    Gateway API v1 gateway_types.go, Listener.Hostname: a `*.` prefix "is interpreted as a suffix
    match", and GatewaySpec.Listeners: the wildcard "will match any number of characters _and
    dots_ to the left". `hostname` may itself be a wildcard: then its suffix must be covered.
    """
    suffix = pattern[1:]  # ".example.com"
    host = hostname[2:] if hostname.startswith("*.") else hostname
    return host.endswith(suffix) and len(host) > len(suffix)


def intersect_hostname(a: str, b: str) -> str | None:
    """The most specific pattern matched by both, or None when no name matches both."""
    if a == b:
        return a
    a_wild, b_wild = a.startswith("*."), b.startswith("*.")
    if a_wild and wildcard_matches(a, b):
        return b
    if b_wild and wildcard_matches(b, a):
        return a
    return None


def route_hostnames_on_listener(listener: str | None, route: Sequence[str]) -> list[str | None]:
    """TLSRoute hostnames kept on a listener (apis/v1alpha2/tlsroute_types.go, Hostnames).

    No route hostnames: the listener's own. No listener hostname: the route's. Both: each
    route hostname that intersects, narrowed to the intersection (a `*.example.com` route on a
    `foo.example.com` listener serves foo.example.com). None stands for any SNI. Empty: no match.
    """
    if not route:
        return [listener]
    if listener is None:
        return list(dict.fromkeys(route))
    found = [intersect_hostname(listener, h) for h in route]
    return list(dict.fromkeys(h for h in found if h is not None))


def hostname_precedence(hostname: str | None) -> tuple[int, int, str]:
    """Sort key: exact names, then wildcards with more labels, then the catch-all (gateway_types.go,
    "Listeners that are distinct only by Hostname")."""
    if hostname is None:
        return (2, 0, "")
    if hostname.startswith("*."):
        return (1, -hostname.count("."), hostname)
    return (0, 0, hostname)


# ---- reconcile ---------------------------------------------------------------------------------

_CONDITION_ORDER = ("Accepted", "Programmed", "ResolvedRefs", "Conflicted")
_CORE_GROUP_ONLY = (
    "Group is invalid, only the core API group (specified by omitting the group field or "
    "setting it to an empty string) is supported"
)
_TLSROUTE = RouteGroupKind("TLSRoute")


@dataclass
class _ListenerState:
    listener: Listener
    supported: tuple[RouteGroupKind, ...] = ()
    accepted: tuple[Status, str, str] | None = None
    resolved: tuple[Status, str, str] | None = None
    programmed: tuple[Status, str, str] | None = None
    conflicted: tuple[Status, str, str] | None = None
    attached: set[ObjKey] = field(default_factory=set)

    @property
    def spec_valid(self) -> bool:
        return self.accepted is None and self.programmed is None

    @property
    def ready(self) -> bool:
        return self.programmed is not None and self.programmed[0] == "True"


class _Clock:
    """Condition timestamps: `now` for a change, the previous time when the status is unchanged."""

    def __init__(self, now: str, previous: Mapping[str, Condition]):
        self.now, self.previous = now, previous

    def condition(
        self, scope: str, type_: str, value: tuple[Status, str, str], generation: int | None
    ) -> Condition:
        status, reason, message = value
        before = self.previous.get(f"{scope}|{type_}")
        when = before.last_transition_time if before is not None and before.status == status else self.now
        return Condition(type_, status, reason, message, when, generation)


def reconcile(
    *,
    gateway_classes: Iterable[GatewayClass],
    gateways: Iterable[Gateway],
    routes: Iterable[TLSRoute],
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
    ctx = _Context(
        grants=list(reference_grants),
        services={ObjKey(s.namespace, s.name): s for s in services},
        secrets=set(secrets),
        namespace_labels=namespace_labels or {},
    )
    clock = _Clock(now, _previous_conditions(previous))

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
        k: [_evaluate_listener(gw, lst, ctx) for lst in gw.listeners] for k, gw in gws.items() if ours(gw)
    }
    for listener_states in states.values():
        _mark_conflicts(listener_states)
        for st in listener_states:
            _finalize_listener(st)

    route_status: dict[ObjKey, TLSRouteStatus] = {}
    sni_routes: dict[ObjKey, list[tuple[SniRoute, tuple[Any, ...]]]] = {k: [] for k in states}
    for route in route_list:
        rkey = key_of(route)
        backends, rejected, resolved = _resolve_backends(route, ctx)
        parents = []
        for pref in route.parent_refs:
            if pref.group != GATEWAY_GROUP or pref.kind != "Gateway":
                continue  # another kind of parent: not this controller's to report on
            gkey = ObjKey(pref.namespace, pref.name)
            gw = gws.get(gkey)
            if gw is not None and not ours(gw):
                continue  # a Gateway of another (or no) class: no controller of ours reports
            accepted, hits = _attach(route, pref, gw, states.get(gkey, []), ctx)
            scope = f"route|{rkey}|{pref.to_dict()}"
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
                if not st.ready or not _passthrough(st.listener):
                    continue
                for host in hosts:
                    order = (hostname_precedence(host), _route_order(route))
                    sni = SniRoute(st.listener.name, host, rkey, backends, rejected)
                    sni_routes[gkey].append((sni, order))
        route_status[rkey] = TLSRouteStatus(tuple(parents))

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
        plans[k] = _plan(k, address, states[k] if serving else [], sni_routes[k])
    return ReconcileResult(class_status, gateway_status, route_status, plans)


@dataclass
class _Context:
    grants: list[ReferenceGrant]
    services: dict[ObjKey, ServiceInfo]
    secrets: set[ObjKey]
    namespace_labels: Mapping[str, Mapping[str, str]]

    def permitted(self, from_kind: str, from_ns: str, to_group: str, to_kind: str, to: ObjKey) -> bool:
        """A ReferenceGrant in the target namespace allows this cross-namespace reference."""
        for grant in self.grants:
            if grant.metadata.namespace != to.namespace:
                continue
            if not any(f.group == GATEWAY_GROUP and f.kind == from_kind and f.namespace == from_ns
                       for f in grant.from_):  # fmt: skip
                continue
            if any(t.group == to_group and t.kind == to_kind and t.name in (None, to.name) for t in grant.to):
                return True
        return False

    def labels(self, namespace: str) -> Mapping[str, str]:
        return {"kubernetes.io/metadata.name": namespace, **self.namespace_labels.get(namespace, {})}


def _route_order(route: TLSRoute) -> tuple[str, str, str]:
    """Oldest first, then namespace/name (gateway_types.go, Listener.AllowedRoutes)."""
    created = route.metadata.creation_timestamp or "9999"
    return (created, route.metadata.namespace, route.metadata.name)


def _passthrough(listener: Listener) -> bool:
    return listener.protocol == "TLS" and listener.tls is not None and listener.tls.mode == "Passthrough"


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
    for k, rs in previous.routes.items():
        for p in rs.parents:
            out.update({f"route|{k}|{p.parent_ref.to_dict()}|{c.type}": c for c in p.conditions})
    return out


# ---- listeners ---------------------------------------------------------------------------------


def _kinds_for(listener: Listener) -> tuple[str, ...]:
    """Route kinds a listener can carry, as Envoy Gateway decides them by protocol and TLS mode."""
    if listener.protocol in ("HTTP", "HTTPS"):
        return ("HTTPRoute", "GRPCRoute")
    if listener.protocol == "TLS":
        if listener.tls is not None and listener.tls.mode == "Passthrough":
            return ("TLSRoute",)
        return ("TCPRoute", "TLSRoute")
    return {"TCP": ("TCPRoute",), "UDP": ("UDPRoute",)}.get(listener.protocol, ())


def _evaluate_listener(gw: Gateway, listener: Listener, ctx: _Context) -> _ListenerState:
    st = _ListenerState(listener)
    allowed = listener.allowed_routes
    if allowed.namespaces_from == "Selector":
        problem = _selector_problem(allowed.selector)
        if problem:
            st.programmed = ("False", "Invalid", problem)
    if listener.protocol not in CORE_PROTOCOLS:
        st.accepted = (
            "False",
            "UnsupportedProtocol",
            f"Protocol {listener.protocol} is unsupported, must be HTTP, HTTPS, TCP, UDP or TLS.",
        )
        return st
    kinds = _kinds_for(listener)
    if not allowed.kinds:
        st.supported = tuple(RouteGroupKind(k) for k in kinds)
    else:
        valid = [k for k in allowed.kinds if k.group == GATEWAY_GROUP and k.kind in kinds]
        st.supported = tuple(valid)
        if any(k.group != GATEWAY_GROUP for k in allowed.kinds):
            message = f"Group is not supported, group must be {GATEWAY_GROUP}"
            st.resolved = ("False", "InvalidRouteKinds", message)
        bad = [k.kind for k in allowed.kinds if k.group == GATEWAY_GROUP and k.kind not in kinds]
        if bad:
            shown = [k.kind for k in valid] or list(kinds)
            st.resolved = (
                "False",
                "InvalidRouteKinds",
                f"{bad[0]} is not supported, kind must be one of [{' '.join(shown)}]",
            )
    tls = listener.tls
    if listener.protocol == "HTTPS" and tls is None:
        st.programmed = ("False", "Invalid", "Listener must have TLS set when protocol is HTTPS.")
    elif listener.protocol == "TLS" and tls is not None and tls.mode == "Passthrough":
        if tls.certificate_refs:
            message = "Listener must not have TLS certificate refs set for TLS mode Passthrough."
            st.programmed = ("False", "Invalid", message)
    elif listener.protocol in ("HTTPS", "TLS") and tls is not None and tls.mode == "Terminate":
        if not tls.certificate_refs:
            message = "Listener must have TLS certificate refs set for TLS mode Terminate."
            st.programmed = ("False", "Invalid", message)
        else:
            refs_problem = _certificate_refs_problem(gw, listener, ctx)
            if refs_problem is not None:
                st.resolved = refs_problem
    return st


def _selector_problem(selector: LabelSelector | None) -> str | None:
    if selector is None:
        return (
            'The allowedRoutes.namespaces.selector field must be specified when '
            'allowedRoutes.namespaces.from is set to "Selector".'
        )
    for req in selector.match_expressions:
        prefix = "The allowedRoutes.namespaces.selector could not be parsed: "
        if req.operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return prefix + f'operator: Unsupported value: "{req.operator}"'
        if req.operator in ("In", "NotIn") and not req.values:
            return prefix + f"values: for the {req.operator} operator, the values set can't be empty"
        if req.operator in ("Exists", "DoesNotExist") and req.values:
            return prefix + f"values: must be empty for the {req.operator} operator"
    return None


def _selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "In" and not (present and labels[req.key] in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def _certificate_refs_problem(
    gw: Gateway, listener: Listener, ctx: _Context
) -> tuple[Status, str, str] | None:
    assert listener.tls is not None
    gw_ns = gw.metadata.namespace
    for ref in listener.tls.certificate_refs:
        ns = ref.namespace or gw_ns
        if ref.group != "" or ref.kind != "Secret":
            kind = f"{ref.group}/{ref.kind}"
            return ("False", "InvalidCertificateRef", f"Unsupported certificate ref kind {kind}, only Secret.")
        target = ObjKey(ns, ref.name)
        if ns != gw_ns and not ctx.permitted("Gateway", gw_ns, "", "Secret", target):
            message = f"Certificate ref to secret {target} not permitted by any ReferenceGrant."
            return ("False", "RefNotPermitted", message)
        if target not in ctx.secrets:
            return ("False", "InvalidCertificateRef", f"Secret {target} does not exist.")
    return None


def _mark_conflicts(states: list[_ListenerState]) -> None:
    """Listeners that are not distinct (gateway_types.go, "Handling indistinct Listeners"):
    all of them are conflicted, none wins."""
    candidates = [st for st in states if st.spec_valid]
    by_port: dict[int, list[_ListenerState]] = {}
    for st in candidates:
        by_port.setdefault(st.listener.port, []).append(st)
    for port, group in sorted(by_port.items()):
        families = {_protocol_family(st.listener.protocol) for st in group} - {"UDP"}
        if len(families) > 1:
            names = ", ".join(sorted(st.listener.name for st in group if st.listener.protocol != "UDP"))
            for st in group:
                if st.listener.protocol != "UDP":
                    st.conflicted = (
                        "True",
                        "ProtocolConflict",
                        "All listeners for a given port must use a compatible protocol, "
                        f"conflicting listeners: {names}",
                    )
            continue
        layer7 = [st for st in group if st.listener.protocol in ("HTTP", "HTTPS", "TLS")]
        by_host: dict[str | None, list[_ListenerState]] = {}
        for st in layer7:
            by_host.setdefault(st.listener.hostname, []).append(st)
        for same in by_host.values():
            if len(same) > 1:
                names = ", ".join(sorted(st.listener.name for st in same))
                for st in same:
                    st.conflicted = (
                        "True",
                        "HostnameConflict",
                        "All listeners for a given port must use a unique hostname, "
                        f"conflicting listeners: {names}",
                    )
        for proto in ("TCP", "UDP"):
            same_proto = [st for st in group if st.listener.protocol == proto]
            for st in same_proto[1:]:
                message = f"Only one {proto} listener is allowed in a given port"
                st.conflicted = ("True", "ProtocolConflict", message)


def _protocol_family(protocol: str) -> str:
    return "HTTPS/TLS" if protocol in ("HTTPS", "TLS") else protocol


def _finalize_listener(st: _ListenerState) -> None:
    """Fill in the conditions nothing objected to; a listener that cannot produce data plane
    config is not Accepted, one with unresolved references is Accepted but not Programmed."""
    if st.conflicted is not None:
        st.accepted = ("False", st.conflicted[1], st.conflicted[2])
    else:
        st.conflicted = ("False", "NoConflicts", "No conflicts detected")
    if st.accepted is None and st.programmed is not None:
        st.accepted = ("False", "UnsupportedValue", st.programmed[2])
    accepted = st.accepted or ("True", "Accepted", "Listener has been successfully translated")
    resolved = st.resolved or ("True", "ResolvedRefs", "Listener references have been resolved")
    st.accepted, st.resolved = accepted, resolved
    if st.programmed is None:
        if accepted[0] == "True" and resolved[0] == "True":
            message = "Sending translated listener configuration to the data plane"
            st.programmed = ("True", "Programmed", message)
        else:
            st.programmed = ("False", "Invalid", "Listener is invalid, see other Conditions for details.")


def _listener_status(st: _ListenerState, clock: _Clock, scope: str, generation: int) -> ListenerStatus:
    values = {"Accepted": st.accepted, "Programmed": st.programmed, "ResolvedRefs": st.resolved,
              "Conflicted": st.conflicted}  # fmt: skip
    conditions = tuple(
        clock.condition(f"{scope}|listener|{st.listener.name}", t, v, generation)
        for t in _CONDITION_ORDER
        if (v := values[t]) is not None
    )
    return ListenerStatus(st.listener.name, st.supported, len(st.attached), conditions)


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
    gw: Gateway, states: list[_ListenerState], address: str | None, unready: bool, clock: _Clock, scope: str
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
        tuple(_listener_status(st, clock, scope, gen) for st in states),
    )


# ---- routes ------------------------------------------------------------------------------------


def _resolve_backends(
    route: TLSRoute, ctx: _Context
) -> tuple[tuple[BackendTarget, ...], int, tuple[Status, str, str]]:
    """Backends of all rules pooled (TLSRoute rules have no matches), the weight that must be
    refused, and the ResolvedRefs condition; reasons in Envoy Gateway's order of checks."""
    targets: list[BackendTarget] = []
    rejected = 0
    errors: list[tuple[str, str]] = []
    ns = route.metadata.namespace
    for rule in route.rules:
        for ref in rule.backend_refs:
            error: tuple[str, str] | None = None
            target = ObjKey(ref.namespace, ref.name)
            svc = ctx.services.get(target)
            if ref.group != "":
                error = ("InvalidKind", _CORE_GROUP_ONLY)
            elif ref.kind != "Service":
                error = ("InvalidKind", f"Kind {ref.kind} is invalid, only Service is supported")
            elif ref.namespace != ns and not ctx.permitted("TLSRoute", ns, "", "Service", target):
                message = f"Backend ref to Service {target} not permitted by any ReferenceGrant."
                error = ("RefNotPermitted", message)
            elif ref.port is None:
                error = ("BackendNotFound", "A port number of the Service must be specified")
            elif svc is None:
                error = ("BackendNotFound", f"Service {target} not found")
            elif ref.port not in svc.ports:
                error = ("BackendNotFound", f"TCP Port {ref.port} not found on Service {target}")
            if error is not None:
                errors.append(error)
                rejected += ref.weight
            elif ref.weight > 0 and ref.port is not None:
                targets.append(BackendTarget(ref.namespace, ref.name, ref.port, ref.weight))
    if errors:
        return tuple(targets), rejected, ("False", errors[0][0], "; ".join(m for _, m in errors))
    return tuple(targets), 0, ("True", "ResolvedRefs", "Resolved all the Object references for the Route")


def _attach(
    route: TLSRoute, pref: ParentReference, gw: Gateway | None, states: list[_ListenerState], ctx: _Context
) -> tuple[tuple[Status, str, str], list[tuple[_ListenerState, list[str | None]]]]:
    """The Accepted condition for one parentRef and, when accepted, the listeners it attaches to
    with the hostnames it serves there. Reasons in the precedence NoMatchingParent,
    NotAllowedByListeners, NoMatchingListenerHostname (the order the spec's checks apply)."""
    if gw is None:
        return ("False", "NoMatchingParent", f"Gateway {pref.namespace}/{pref.name} does not exist"), []
    selected = [
        st for st in states
        if (pref.section_name is None or st.listener.name == pref.section_name)
        and (pref.port is None or st.listener.port == pref.port)
    ]  # fmt: skip
    if not selected:
        return ("False", "NoMatchingParent", "No listeners match this parent ref"), []
    allowed = [st for st in selected if _TLSROUTE in st.supported and _namespace_allowed(st, gw, route, ctx)]
    if not allowed:
        message = "No listeners included by this parent ref allowed this attachment."
        return ("False", "NotAllowedByListeners", message), []
    hits = [
        (st, hosts)
        for st in allowed
        if (hosts := route_hostnames_on_listener(st.listener.hostname, route.hostnames))
    ]
    if not hits:
        message = "There were no hostname intersections between the TLSRoute and this parent ref's Listener(s)."
        return ("False", "NoMatchingListenerHostname", message), []
    return ("True", "Accepted", "Route is accepted"), hits


def _namespace_allowed(st: _ListenerState, gw: Gateway, route: TLSRoute, ctx: _Context) -> bool:
    allowed = st.listener.allowed_routes
    if allowed.namespaces_from == "All":
        return True
    if allowed.namespaces_from == "Same":
        return route.metadata.namespace == gw.metadata.namespace
    if allowed.selector is None or _selector_problem(allowed.selector):
        return False
    return _selector_matches(allowed.selector, ctx.labels(route.metadata.namespace))


# ---- plan --------------------------------------------------------------------------------------


def _plan(
    key: ObjKey,
    address: str | None,
    states: list[_ListenerState],
    sni_routes: list[tuple[SniRoute, tuple[Any, ...]]],
) -> GatewayPlan:
    served_ports = sorted({st.listener.port for st in states if st.ready and _passthrough(st.listener)})
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
            ListenerPlan(st.listener.name, st.listener.hostname, _passthrough(st.listener)) for st in on_port
        )
        ports.append(PortPlan(port, listeners, tuple(kept)))
    unserved = tuple(
        f"{st.listener.name} ({st.listener.protocol}/{st.listener.port})"
        for st in states
        if st.ready and not _passthrough(st.listener)
    )
    return GatewayPlan(key, address, tuple(ports), unserved)
