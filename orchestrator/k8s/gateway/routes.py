"""A TLSRoute or TCPRoute as the controller judges it: its backends resolved (ResolvedRefs) and its
attachment to each parent Gateway's listeners (Accepted), with the hostnames it serves on each."""

from __future__ import annotations

from orchestrator.k8s.gateway.hostnames import route_hostnames_on_listener
from orchestrator.k8s.gateway.listeners import Context, ListenerState, selector_matches, selector_problem
from orchestrator.k8s.gateway.plan import BackendTarget
from orchestrator.k8s.gateway.status import ObjKey, Status
from orchestrator.k8s.gateway.types import Gateway, ParentReference, Route, RouteGroupKind

_CORE_GROUP_ONLY = (
    "Group is invalid, only the core API group (specified by omitting the group field or "
    "setting it to an empty string) is supported"
)

def resolve_backends(
    route: Route, ctx: Context
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
            elif ref.namespace != ns and not ctx.permitted(route.kind, ns, "", "Service", target):
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


def attach(
    route: Route, pref: ParentReference, gw: Gateway | None, states: list[ListenerState], ctx: Context
) -> tuple[tuple[Status, str, str], list[tuple[ListenerState, list[str | None]]]]:
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
    allowed = [st for st in selected
               if RouteGroupKind(route.kind) in st.supported and namespace_allowed(st, gw, route, ctx)]
    if not allowed:
        message = "No listeners included by this parent ref allowed this attachment."
        return ("False", "NotAllowedByListeners", message), []
    if route.kind == "TCPRoute":  # no hostnames: it takes the whole listener
        return ("True", "Accepted", "Route is accepted"), [(st, [None]) for st in allowed]
    hits = [
        (st, hosts)
        for st in allowed
        if (hosts := route_hostnames_on_listener(st.listener.hostname, route.hostnames))
    ]
    if not hits:
        message = "There were no hostname intersections between the TLSRoute and this parent ref's Listener(s)."
        return ("False", "NoMatchingListenerHostname", message), []
    return ("True", "Accepted", "Route is accepted"), hits


def namespace_allowed(st: ListenerState, gw: Gateway, route: Route, ctx: Context) -> bool:
    allowed = st.listener.allowed_routes
    if allowed.namespaces_from == "All":
        return True
    if allowed.namespaces_from == "Same":
        return route.metadata.namespace == gw.metadata.namespace
    if allowed.selector is None or selector_problem(allowed.selector):
        return False
    return selector_matches(allowed.selector, ctx.labels(route.metadata.namespace))
