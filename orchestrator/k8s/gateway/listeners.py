"""A Gateway's listeners as the controller judges them (Envoy Gateway's rules): the route kinds each
carries, its references, conflicts between listeners, and the conditions that follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from orchestrator.k8s.gateway.status import Clock, ListenerStatus, ObjKey, ServiceInfo, Status
from orchestrator.k8s.gateway.types import (
    CORE_PROTOCOLS,
    GATEWAY_GROUP,
    Gateway,
    LabelSelector,
    Listener,
    ReferenceGrant,
    RouteGroupKind,
)

_CONDITION_ORDER = ("Accepted", "Programmed", "ResolvedRefs", "Conflicted")

@dataclass
class ListenerState:
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



@dataclass
class Context:
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


def passthrough(listener: Listener) -> bool:
    return listener.protocol == "TLS" and listener.tls is not None and listener.tls.mode == "Passthrough"



def kinds_for(listener: Listener) -> tuple[str, ...]:
    """Route kinds a listener can carry, as Envoy Gateway decides them by protocol and TLS mode."""
    if listener.protocol in ("HTTP", "HTTPS"):
        return ("HTTPRoute", "GRPCRoute")
    if listener.protocol == "TLS":
        if listener.tls is not None and listener.tls.mode == "Passthrough":
            return ("TLSRoute",)
        return ("TCPRoute", "TLSRoute")
    return {"TCP": ("TCPRoute",), "UDP": ("UDPRoute",)}.get(listener.protocol, ())


def evaluate_listener(gw: Gateway, listener: Listener, ctx: Context) -> ListenerState:
    st = ListenerState(listener)
    allowed = listener.allowed_routes
    if allowed.namespaces_from == "Selector":
        problem = selector_problem(allowed.selector)
        if problem:
            st.programmed = ("False", "Invalid", problem)
    if listener.protocol not in CORE_PROTOCOLS:
        st.accepted = (
            "False",
            "UnsupportedProtocol",
            f"Protocol {listener.protocol} is unsupported, must be HTTP, HTTPS, TCP, UDP or TLS.",
        )
        return st
    kinds = kinds_for(listener)
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
            refs_problem = certificate_refs_problem(gw, listener, ctx)
            if refs_problem is not None:
                st.resolved = refs_problem
    return st


def selector_problem(selector: LabelSelector | None) -> str | None:
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


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
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


def certificate_refs_problem(
    gw: Gateway, listener: Listener, ctx: Context
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


def mark_conflicts(states: list[ListenerState]) -> None:
    """Listeners that are not distinct (gateway_types.go, "Handling indistinct Listeners"):
    all of them are conflicted, none wins."""
    candidates = [st for st in states if st.spec_valid]
    by_port: dict[int, list[ListenerState]] = {}
    for st in candidates:
        by_port.setdefault(st.listener.port, []).append(st)
    for port, group in sorted(by_port.items()):
        families = {protocol_family(st.listener.protocol) for st in group} - {"UDP"}
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
        by_host: dict[str | None, list[ListenerState]] = {}
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


def protocol_family(protocol: str) -> str:
    return "HTTPS/TLS" if protocol in ("HTTPS", "TLS") else protocol


def finalize_listener(st: ListenerState) -> None:
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


def listener_status(st: ListenerState, clock: Clock, scope: str, generation: int) -> ListenerStatus:
    values = {"Accepted": st.accepted, "Programmed": st.programmed, "ResolvedRefs": st.resolved,
              "Conflicted": st.conflicted}  # fmt: skip
    conditions = tuple(
        clock.condition(f"{scope}|listener|{st.listener.name}", t, v, generation)
        for t in _CONDITION_ORDER
        if (v := values[t]) is not None
    )
    return ListenerStatus(st.listener.name, st.supported, len(st.attached), conditions)
