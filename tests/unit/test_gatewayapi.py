from typing import Any, Iterable

import pytest
import yaml

from orchestrator.k8s.gateway.hostnames import (
    hostname_precedence,
    intersect_hostname,
    route_hostnames_on_listener,
    wildcard_matches,
)
from orchestrator.k8s.gateway.parse import parse_gateway_object
from orchestrator.k8s.gateway.plan import BackendTarget, SniRoute
from orchestrator.k8s.gateway.reconcile import ReconcileResult, reconcile
from orchestrator.k8s.gateway.status import CONTROLLER_NAME, PENDING_TIME, ObjKey, ServiceInfo
from orchestrator.k8s.gateway.types import Gateway, GatewayClass, ReferenceGrant, TLSRoute
from orchestrator.k8s.jsonpatch import apply_patch_text
from tests.workshop_texts import STEP3_GATEWAY, STEP4_ROUTE, STEP5_PATCH


NOW = "2025-08-04T15:20:00Z"
GW = ObjKey("default", "tls-passthrough-gateway")
ROUTE = ObjKey("default", "tls-passthrough")
ECHO = ServiceInfo("default", "passthrough-echoserver", (443,))


GATEWAY_CLASS = f"""\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: tigera-gateway-class
spec:
  controllerName: {CONTROLLER_NAME}
"""


def load(text: str) -> Any:
    return parse_gateway_object(yaml.safe_load(text), "test.yaml")


def step5_gateway(**changes: Any) -> Gateway:
    data = apply_patch_text(yaml.safe_load(STEP3_GATEWAY), STEP5_PATCH)
    data["metadata"]["generation"] = 2  # the API server bumps it on a spec change
    gw = parse_gateway_object(apply_changes(data, changes), "gw.yaml")
    assert isinstance(gw, Gateway)
    return gw


def apply_changes(data: Any, changes: dict[str, Any]) -> Any:
    """Set fields named like spec__listeners__1__hostname (list indices as numbers)."""
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[int(last) if isinstance(node, list) else last] = value
    return data


def route(**changes: Any) -> TLSRoute:
    r = parse_gateway_object(apply_changes(yaml.safe_load(STEP4_ROUTE), changes), "route.yaml")
    assert isinstance(r, TLSRoute)
    return r


def run(
    gateways: Iterable[Gateway],
    routes: Iterable[TLSRoute],
    services: Iterable[ServiceInfo] = (ECHO,),
    classes: Iterable[GatewayClass] | None = None,
    grants: Iterable[ReferenceGrant] = (),
    address: str | None = "10.10.10.23",
    **kwargs: Any,
) -> ReconcileResult:
    gws = list(gateways)
    cls = list(classes) if classes is not None else [load(GATEWAY_CLASS)]
    return reconcile(
        gateway_classes=cls,
        gateways=gws,
        routes=routes,
        reference_grants=grants,
        services=services,
        addresses={ObjKey(g.metadata.namespace, g.metadata.name): address for g in gws},
        now=NOW,
        **kwargs,
    )


def conditions(result: ReconcileResult, key: ObjKey = ROUTE, parent: int = 0) -> dict[str, tuple[str, str]]:
    p = result.routes[key].parents[parent]
    return {c.type: (c.status, c.reason) for c in p.conditions}


# ---- the workshop ------------------------------------------------------------------------------


def test_workshop_step4_route_is_not_allowed_by_the_http_listener() -> None:
    gw = load(STEP3_GATEWAY)
    result = run([gw], [route()])
    assert conditions(result) == {"Accepted": ("False", "NotAllowedByListeners"), "ResolvedRefs": ("True", "ResolvedRefs")}
    status = result.gateways[GW]
    http = status.listener("http")
    assert http is not None and http.attached_routes == 0
    assert [k.kind for k in http.supported_kinds] == ["HTTPRoute", "GRPCRoute"]
    assert result.plans[GW].ports == ()
    assert result.plans[GW].unserved_listeners == ("http (HTTP/80)",)
    assert result.routes[ROUTE].parents[0].controller_name == CONTROLLER_NAME


def test_workshop_step5_route_is_accepted_on_the_tls_listener() -> None:
    result = run([step5_gateway()], [route()])
    assert conditions(result) == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
    status = result.gateways[GW]
    tls = status.listener("tls")
    assert tls is not None and tls.attached_routes == 1
    assert [(k.group, k.kind) for k in tls.supported_kinds] == [("gateway.networking.k8s.io", "TLSRoute")]
    assert {c.type: (c.status, c.reason) for c in tls.conditions} == {
        "Accepted": ("True", "Accepted"),
        "Programmed": ("True", "Programmed"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
        "Conflicted": ("False", "NoConflicts"),
    }
    assert status.listener("http") is not None and status.listener("http").attached_routes == 0  # type: ignore[union-attr]
    assert {c.type: c.status for c in status.conditions} == {"Accepted": "True", "Programmed": "True"}
    assert all(c.observed_generation == 2 for c in status.conditions)
    [port] = result.plans[GW].ports
    assert port.port == 6443
    assert port.routes == (
        SniRoute("tls", "passthrough.example.com", ROUTE, (BackendTarget("default", "passthrough-echoserver", 443, 1),)),
    )
    assert result.plans[GW].services() == [("default", "passthrough-echoserver", 443)]


def test_workshop_step7_address_in_the_status() -> None:
    # what step 7's `-o jsonpath='{.status.addresses[0].value}'` reads (kubectl does the JSONPath)
    status = run([step5_gateway()], [route()]).gateways[GW].to_dict()
    assert status["addresses"][0]["value"] == "10.10.10.23"
    assert [c["status"] for c in status["conditions"] if c["type"] == "Programmed"] == ["True"]


def test_route_status_as_kubectl_shows_it() -> None:
    result = run([step5_gateway()], [route()])
    assert result.routes[ROUTE].to_dict() == {
        "parents": [
            {
                "conditions": [
                    {"lastTransitionTime": NOW, "message": "Route is accepted", "observedGeneration": 1,
                     "reason": "Accepted", "status": "True", "type": "Accepted"},
                    {"lastTransitionTime": NOW, "message": "Resolved all the Object references for the Route",
                     "observedGeneration": 1, "reason": "ResolvedRefs", "status": "True", "type": "ResolvedRefs"},
                ],
                "controllerName": CONTROLLER_NAME,
                "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GW.name},
            }
        ]
    }  # fmt: skip


# ---- the Gateway's class -----------------------------------------------------------------------


@pytest.mark.parametrize("classes", [[], [f"{GATEWAY_CLASS}".replace(CONTROLLER_NAME, "example.com/other")]])
def test_a_gateway_whose_class_is_not_ours_stays_pending(classes: list[str]) -> None:
    result = run([step5_gateway()], [route()], classes=[load(c) for c in classes])
    status = result.gateways[GW]
    assert [(c.type, c.status, c.reason, c.last_transition_time) for c in status.conditions] == [
        ("Accepted", "Unknown", "Pending", PENDING_TIME),
        ("Programmed", "Unknown", "Pending", PENDING_TIME),
    ]
    assert status.listeners == () and status.addresses == ()
    assert status.to_dict() == {"conditions": [c.to_dict() for c in status.conditions]}
    assert result.routes[ROUTE].parents == ()  # no controller writes the route's status either
    assert GW not in result.plans
    assert "addresses" not in status.to_dict()


def test_gateway_class_status() -> None:
    other = load(GATEWAY_CLASS.replace("tigera-gateway-class", "other").replace(CONTROLLER_NAME, "example.com/x"))
    result = run([], [], classes=[load(GATEWAY_CLASS), other])
    ours = result.gateway_classes[ObjKey("", "tigera-gateway-class")].conditions[0]
    assert (ours.status, ours.reason) == ("True", "Accepted")
    theirs = result.gateway_classes[ObjKey("", "other")].conditions[0]
    assert (theirs.status, theirs.reason) == ("Unknown", "Pending")


# ---- route acceptance --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parent",
    [
        {"name": "no-such-gateway"},
        {"name": GW.name, "sectionName": "nonexistent-listener"},
        {"name": GW.name, "port": 8443},
        {"name": GW.name, "sectionName": "tls", "port": 80},
    ],
)
def test_no_matching_parent(parent: dict[str, Any]) -> None:
    result = run([step5_gateway()], [route(spec__parentRefs=[parent])])
    assert conditions(result)["Accepted"] == ("False", "NoMatchingParent")
    assert result.gateways[GW].listener("tls").attached_routes == 0  # type: ignore[union-attr]
    assert result.plans[GW].ports[0].routes == ()


@pytest.mark.parametrize("parent", [{"sectionName": "tls"}, {"port": 6443}, {"sectionName": "tls", "port": 6443}])
def test_section_name_and_port_select_the_listener(parent: dict[str, Any]) -> None:
    result = run([step5_gateway()], [route(spec__parentRefs=[{"name": GW.name, **parent}])])
    assert conditions(result)["Accepted"] == ("True", "Accepted")
    assert result.routes[ROUTE].to_dict()["parents"][0]["parentRef"] == {
        "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GW.name, **parent,
    }  # fmt: skip


def test_section_name_of_the_http_listener_is_not_allowed() -> None:
    result = run([step5_gateway()], [route(spec__parentRefs=[{"name": GW.name, "sectionName": "http"}])])
    assert conditions(result)["Accepted"] == ("False", "NotAllowedByListeners")


def test_no_matching_listener_hostname() -> None:
    result = run([step5_gateway()], [route(spec__hostnames=["other.example.com", "*.example.net"])])
    assert conditions(result)["Accepted"] == ("False", "NoMatchingListenerHostname")
    assert result.gateways[GW].listener("tls").attached_routes == 0  # type: ignore[union-attr]


def test_reason_precedence() -> None:
    http_only = load(STEP3_GATEWAY)
    mismatched = route(spec__hostnames=["other.example.com"])
    # no listener allows TLSRoutes: that is reported before the hostnames are compared
    assert conditions(run([http_only], [mismatched]))["Accepted"] == ("False", "NotAllowedByListeners")
    # a wrong sectionName is reported before anything else
    wrong_section = route(spec__hostnames=["other.example.com"],
                          spec__parentRefs=[{"name": GW.name, "sectionName": "nope"}])  # fmt: skip
    assert conditions(run([step5_gateway()], [wrong_section]))["Accepted"] == ("False", "NoMatchingParent")


def test_resolved_refs_is_reported_even_when_not_accepted() -> None:
    result = run([load(STEP3_GATEWAY)], [route()], services=[])
    assert conditions(result) == {
        "Accepted": ("False", "NotAllowedByListeners"),
        "ResolvedRefs": ("False", "BackendNotFound"),
    }


def test_routes_of_other_parents_kinds_get_no_status_from_us() -> None:
    r = route(spec__parentRefs=[{"name": "svc", "kind": "Service", "group": ""}, {"name": GW.name}])
    result = run([step5_gateway()], [r])
    assert len(result.routes[ROUTE].parents) == 1
    assert result.routes[ROUTE].parents[0].parent_ref.name == GW.name


def test_namespaces() -> None:
    other_ns = route(metadata__namespace="apps", spec__parentRefs=[{"name": GW.name, "namespace": "default"}])
    key = ObjKey("apps", "tls-passthrough")
    result = run([step5_gateway()], [other_ns])
    assert conditions(result, key)["Accepted"] == ("False", "NotAllowedByListeners")  # from: Same
    gw_all = step5_gateway(spec__listeners__1__allowedRoutes={"namespaces": {"from": "All"}})
    assert conditions(run([gw_all], [other_ns]), key)["Accepted"] == ("True", "Accepted")
    selector = {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "apps"}}}}
    gw_sel = step5_gateway(spec__listeners__1__allowedRoutes=selector)
    labelled = run([gw_sel], [other_ns], namespace_labels={"apps": {"team": "apps"}})
    assert conditions(labelled, key)["Accepted"] == ("True", "Accepted")
    assert conditions(run([gw_sel], [other_ns]), key)["Accepted"] == ("False", "NotAllowedByListeners")
    by_name = {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["apps"]}]}}}  # fmt: skip
    gw_name = step5_gateway(spec__listeners__1__allowedRoutes=by_name)
    assert conditions(run([gw_name], [other_ns]), key)["Accepted"] == ("True", "Accepted")


def test_selector_without_selector_makes_the_listener_invalid() -> None:
    gw = step5_gateway(spec__listeners__1__allowedRoutes={"namespaces": {"from": "Selector"}})
    tls = run([gw], [route()]).gateways[GW].listener("tls")
    assert tls is not None
    programmed = tls.condition("Programmed")
    assert programmed is not None and (programmed.status, programmed.reason) == ("False", "Invalid")
    assert "selector field must be specified" in programmed.message


def test_allowed_kinds() -> None:
    gw = step5_gateway(spec__listeners__1__allowedRoutes={"kinds": [{"kind": "HTTPRoute"}]})
    result = run([gw], [route()])
    tls = result.gateways[GW].listener("tls")
    assert tls is not None and tls.supported_kinds == ()
    resolved = tls.condition("ResolvedRefs")
    assert resolved is not None and (resolved.status, resolved.reason) == ("False", "InvalidRouteKinds")
    assert resolved.message == "HTTPRoute is not supported, kind must be one of [TLSRoute]"
    assert conditions(result)["Accepted"] == ("False", "NotAllowedByListeners")


def test_attached_routes_count_every_accepted_route() -> None:
    second = route(metadata__name="second", spec__hostnames=[])
    result = run([step5_gateway()], [route(), second])
    assert result.gateways[GW].listener("tls").attached_routes == 2  # type: ignore[union-attr]


# ---- hostnames ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, hostname, matches",
    [
        ("*.example.com", "foo.example.com", True),
        ("*.example.com", "a.b.example.com", True),  # one or more labels (gateway_types.go)
        ("*.example.com", "example.com", False),
        ("*.example.com", "fooexample.com", False),
        ("*.example.com", "*.foo.example.com", True),
        ("*.example.com", "*.example.com", False),
        ("*.com", "abc.example.com", True),
    ],
)
def test_wildcard_matches(pattern: str, hostname: str, matches: bool) -> None:
    assert wildcard_matches(pattern, hostname) is matches


@pytest.mark.parametrize(
    "listener, route_hostnames, expected",
    [
        # the cases of the TLSRouteHostnameIntersection conformance test
        ("abc.example.com", ["*.example.com"], ["abc.example.com"]),
        ("*.example.com", ["abc.example.com"], ["abc.example.com"]),
        ("*.example.com", ["*.com"], ["*.example.com"]),
        ("*.com", ["abc.example.com"], ["abc.example.com"]),
        ("*.com", ["*.example.com"], ["*.example.com"]),
        (None, ["abc.example.com", "*.com"], ["abc.example.com", "*.com"]),
        # and the spec's examples
        ("*.example.com", ["test.example.com", "test.example.net"], ["test.example.com"]),
        ("*.example.com", ["example.com"], []),
        ("test.example.com", [], ["test.example.com"]),
        (None, [], [None]),
        ("www.example.com", ["www.nomatch.com", "*.nomatch.com"], []),
    ],
)
def test_hostname_intersection(listener: str | None, route_hostnames: list[str], expected: list[str | None]) -> None:
    assert route_hostnames_on_listener(listener, route_hostnames) == expected


def test_intersection_is_symmetric() -> None:
    for a, b in [("*.example.com", "*.a.example.com"), ("x.example.com", "*.example.com"), ("a.com", "b.com")]:
        assert intersect_hostname(a, b) == intersect_hostname(b, a)


def test_wildcard_listener_and_routes_in_the_plan() -> None:
    gw = step5_gateway(spec__listeners__1__hostname="*.example.com")
    exact = route(metadata__name="exact", spec__hostnames=["abc.example.com"])
    wild = route(metadata__name="wild", spec__hostnames=["*.com"],
                 spec__rules=[{"backendRefs": [{"name": "other", "port": 443}]}])  # fmt: skip
    result = run([gw], [wild, exact], services=[ECHO, ServiceInfo("default", "other", (443,))])
    [port] = result.plans[GW].ports
    assert [(r.hostname, r.route.name) for r in port.routes] == [("abc.example.com", "exact"), ("*.example.com", "wild")]


def test_listener_isolation_order_in_the_plan() -> None:
    gw = step5_gateway(spec__listeners=[
        {"name": "any", "protocol": "TLS", "port": 443, "tls": {"mode": "Passthrough"}},
        {"name": "wild", "protocol": "TLS", "port": 443, "hostname": "*.example.com", "tls": {"mode": "Passthrough"}},
        {"name": "deep", "protocol": "TLS", "port": 443, "hostname": "*.a.example.com", "tls": {"mode": "Passthrough"}},
        {"name": "exact", "protocol": "TLS", "port": 443, "hostname": "x.example.com", "tls": {"mode": "Passthrough"}},
    ])  # fmt: skip
    result = run([gw], [route(spec__hostnames=[], spec__parentRefs=[{"name": GW.name, "sectionName": "wild"}])])
    [port] = result.plans[GW].ports
    assert [lst.name for lst in port.listeners] == ["exact", "deep", "wild", "any"]
    assert [(r.listener, r.hostname) for r in port.routes] == [("wild", "*.example.com")]
    assert sorted([None, "*.com", "a.b.com", "*.a.b.com"], key=hostname_precedence) == [
        "a.b.com", "*.a.b.com", "*.com", None,
    ]  # fmt: skip


def test_the_oldest_route_owns_a_shared_hostname() -> None:
    older = route(metadata__name="zz-older", metadata__creationTimestamp="2025-01-01T00:00:00Z")
    newer = route(metadata__name="aa-newer", metadata__creationTimestamp="2025-06-01T00:00:00Z")
    result = run([step5_gateway()], [newer, older])
    [port] = result.plans[GW].ports
    assert [r.route.name for r in port.routes] == ["zz-older"]
    assert result.gateways[GW].listener("tls").attached_routes == 2  # type: ignore[union-attr]


# ---- backends ----------------------------------------------------------------------------------


def backend_refs(*refs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"backendRefs": list(refs)}]


def test_backend_not_found() -> None:
    result = run([step5_gateway()], [route()], services=[])
    assert conditions(result) == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")}
    message = result.routes[ROUTE].parents[0].conditions[1].message
    assert message == "Service default/passthrough-echoserver not found"
    [port] = result.plans[GW].ports
    assert port.routes[0].backends == () and port.routes[0].rejected_weight == 1  # refused, not dropped


def test_backend_port_not_found() -> None:
    result = run([step5_gateway()], [route()], services=[ServiceInfo("default", "passthrough-echoserver", (8443,))])
    assert conditions(result)["ResolvedRefs"] == ("False", "BackendNotFound")
    assert "Port 443 not found" in result.routes[ROUTE].parents[0].conditions[1].message


def test_invalid_kind() -> None:
    r = route(spec__rules=backend_refs({"group": "unknownkind.example.com", "kind": "NonExistent",
                                         "name": "tls-backend", "port": 443}))  # fmt: skip
    result = run([step5_gateway()], [r])
    assert conditions(result) == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "InvalidKind")}
    assert result.plans[GW].ports[0].routes[0].backends == ()
    r2 = route(spec__rules=backend_refs({"kind": "ConfigMap", "name": "x"}))
    assert conditions(run([step5_gateway()], [r2]))["ResolvedRefs"] == ("False", "InvalidKind")


CROSS_NS_ROUTE = {"name": "passthrough-echoserver", "namespace": "backends", "port": 443}
GRANT = """\
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: allow
  namespace: backends
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: TLSRoute
      namespace: default
  to:
    - group: ""
      kind: Service
      name: passthrough-echoserver
"""


def test_ref_not_permitted_and_the_reference_grant_that_fixes_it() -> None:
    backend = ServiceInfo("backends", "passthrough-echoserver", (443,))
    r = route(spec__rules=backend_refs(CROSS_NS_ROUTE))
    result = run([step5_gateway()], [r], services=[backend])
    assert conditions(result)["ResolvedRefs"] == ("False", "RefNotPermitted")
    assert result.plans[GW].ports[0].routes[0].backends == ()
    fixed = run([step5_gateway()], [r], services=[backend], grants=[load(GRANT)])
    assert conditions(fixed)["ResolvedRefs"] == ("True", "ResolvedRefs")
    assert fixed.plans[GW].ports[0].routes[0].backends == (BackendTarget("backends", "passthrough-echoserver", 443, 1),)
    any_name = load(GRANT.replace("      name: passthrough-echoserver\n", ""))
    assert conditions(run([step5_gateway()], [r], services=[backend], grants=[any_name]))["ResolvedRefs"][0] == "True"


@pytest.mark.parametrize(
    "old, new",
    [
        ("namespace: backends", "namespace: default"),  # the grant lives in the route's namespace
        ("- group: gateway.networking.k8s.io", "- group: not-the-group"),
        ("kind: TLSRoute", "kind: Gateway"),
        ("namespace: default", "namespace: elsewhere"),
        ('- group: ""', "- group: not-the-group"),
        ("kind: Service", "kind: Secret"),
        ("name: passthrough-echoserver", "name: another-service"),
    ],
)
def test_reference_grants_that_do_not_allow_it(old: str, new: str) -> None:
    backend = ServiceInfo("backends", "passthrough-echoserver", (443,))
    r = route(spec__rules=backend_refs(CROSS_NS_ROUTE))
    result = run([step5_gateway()], [r], services=[backend], grants=[load(GRANT.replace(old, new, 1))])
    assert conditions(result)["ResolvedRefs"] == ("False", "RefNotPermitted")


def test_weights() -> None:
    services = [ECHO, ServiceInfo("default", "canary", (443,)), ServiceInfo("default", "idle", (443,))]
    r = route(spec__rules=backend_refs(
        {"name": "passthrough-echoserver", "port": 443, "weight": 3},
        {"name": "canary", "port": 443, "weight": 1},
        {"name": "idle", "port": 443, "weight": 0},
    ))  # fmt: skip
    result = run([step5_gateway()], [r], services=services)
    [sni] = result.plans[GW].ports[0].routes
    assert sni.backends == (
        BackendTarget("default", "passthrough-echoserver", 443, 3),
        BackendTarget("default", "canary", 443, 1),
    )
    assert sni.total_weight == 4 and sni.rejected_weight == 0


def test_an_unresolved_backend_keeps_its_share_as_refusals() -> None:
    r = route(spec__rules=backend_refs(
        {"name": "passthrough-echoserver", "port": 443, "weight": 1},
        {"name": "missing", "port": 443, "weight": 4},
    ))  # fmt: skip
    result = run([step5_gateway()], [r])
    [sni] = result.plans[GW].ports[0].routes
    assert sni.backends == (BackendTarget("default", "passthrough-echoserver", 443, 1),)
    assert sni.rejected_weight == 4
    assert conditions(result)["ResolvedRefs"] == ("False", "BackendNotFound")


def test_rules_are_pooled() -> None:
    r = route(spec__rules=[
        {"backendRefs": [{"name": "passthrough-echoserver", "port": 443}]},
        {"backendRefs": [{"name": "canary", "port": 443}]},
    ])  # fmt: skip
    result = run([step5_gateway()], [r], services=[ECHO, ServiceInfo("default", "canary", (443,))])
    assert [b.name for b in result.plans[GW].ports[0].routes[0].backends] == ["passthrough-echoserver", "canary"]


# ---- listeners and the Gateway -----------------------------------------------------------------


def test_passthrough_listener_with_certificate_refs_is_invalid() -> None:
    gw = step5_gateway(spec__listeners__1__tls={"mode": "Passthrough", "certificateRefs": [{"name": "server-certs"}]})
    result = run([gw], [route()])
    tls = result.gateways[GW].listener("tls")
    assert tls is not None
    got = {c.type: (c.status, c.reason) for c in tls.conditions}
    assert got["Programmed"] == ("False", "Invalid") and got["Accepted"] == ("False", "UnsupportedValue")
    assert "must not have TLS certificate refs" in tls.conditions[1].message
    assert result.plans[GW].ports == ()
    gateway_accepted = result.gateways[GW].condition("Accepted")
    assert gateway_accepted is not None and (gateway_accepted.status, gateway_accepted.reason) == ("True", "ListenersNotValid")
    assert tls.attached_routes == 1  # attachment does not depend on listener status (spec)


def test_protocol_conflict_on_one_port() -> None:
    gw = step5_gateway(spec__listeners__0__port=6443)
    result = run([gw], [route()])
    status = result.gateways[GW]
    for name in ("http", "tls"):
        listener = status.listener(name)
        assert listener is not None
        got = {c.type: (c.status, c.reason) for c in listener.conditions}
        assert got["Conflicted"] == ("True", "ProtocolConflict")
        assert got["Accepted"] == ("False", "ProtocolConflict")
        assert got["Programmed"] == ("False", "Invalid")
    accepted = status.condition("Accepted")
    assert accepted is not None and (accepted.status, accepted.reason) == ("False", "ListenersNotValid")
    programmed = status.condition("Programmed")
    assert programmed is not None and programmed.status == "False"
    assert result.plans[GW].ports == ()


def test_hostname_conflict_between_https_and_tls() -> None:
    gw = step5_gateway(spec__listeners=[
        {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": "a.example.com",
         "tls": {"certificateRefs": [{"name": "cert"}]}},
        {"name": "tls", "protocol": "TLS", "port": 443, "hostname": "a.example.com", "tls": {"mode": "Passthrough"}},
    ])  # fmt: skip
    status = run([gw], [], secrets=[ObjKey("default", "cert")]).gateways[GW]
    for name in ("https", "tls"):
        conflicted = status.listener(name).condition("Conflicted")  # type: ignore[union-attr]
        assert conflicted is not None and (conflicted.status, conflicted.reason) == ("True", "HostnameConflict")


def test_https_listener_beside_passthrough_is_planned_as_not_served() -> None:
    gw = step5_gateway(spec__listeners=[
        {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": "a.example.com",
         "tls": {"certificateRefs": [{"name": "cert"}]}},
        {"name": "tls", "protocol": "TLS", "port": 443, "hostname": "*.example.com", "tls": {"mode": "Passthrough"}},
    ])  # fmt: skip
    result = run([gw], [route()], secrets=[ObjKey("default", "cert")])
    [port] = result.plans[GW].ports
    assert [(lst.name, lst.served) for lst in port.listeners] == [("https", False), ("tls", True)]
    missing = run([gw], [route()]).gateways[GW].listener("https")
    assert missing is not None
    resolved = missing.condition("ResolvedRefs")
    assert resolved is not None and (resolved.status, resolved.reason) == ("False", "InvalidCertificateRef")


def test_unsupported_protocol() -> None:
    gw = step5_gateway(spec__listeners__0__protocol="example.com/custom")
    http = run([gw], []).gateways[GW].listener("http")
    assert http is not None and http.supported_kinds == ()
    accepted = http.condition("Accepted")
    assert accepted is not None and (accepted.status, accepted.reason) == ("False", "UnsupportedProtocol")


@pytest.mark.parametrize(
    "address, unready, reason",
    [(None, False, "AddressNotAssigned"), ("10.10.10.23", True, "NoResources"), ("10.10.10.23", False, "Programmed")],
)
def test_programmed(address: str | None, unready: bool, reason: str) -> None:
    gw = step5_gateway()
    result = run([gw], [], address=address, unready=[GW] if unready else [])
    programmed = result.gateways[GW].condition("Programmed")
    assert programmed is not None and programmed.reason == reason
    assert result.gateways[GW].addresses == ((address,) if address else ())


def test_a_gateway_that_is_not_accepted_gets_no_data_plane() -> None:
    gw = step5_gateway(spec__addresses=[{"type": "Hostname", "value": "gw.example.com"}])
    result = run([gw], [route()])
    accepted = result.gateways[GW].condition("Accepted")
    assert accepted is not None and (accepted.status, accepted.reason) == ("False", "UnsupportedAddress")
    assert result.plans[GW].ports == ()


def test_requested_address_that_was_not_assigned() -> None:
    gw = step5_gateway(spec__addresses=[{"value": "10.10.10.40"}])
    programmed = run([gw], []).gateways[GW].condition("Programmed")
    assert programmed is not None and programmed.reason == "AddressNotUsable"


def test_transition_times_and_generations() -> None:
    first = run([step5_gateway()], [route()])
    gw = step5_gateway(metadata__generation=3, spec__listeners__1__hostname="other.example.com")
    second = reconcile(
        gateway_classes=[load(GATEWAY_CLASS)], gateways=[gw], routes=[route()], services=[ECHO],
        addresses={GW: "10.10.10.23"}, now="2025-08-04T16:00:00Z", previous=first,
    )  # fmt: skip
    gw_accepted = second.gateways[GW].condition("Accepted")
    assert gw_accepted is not None
    assert gw_accepted.last_transition_time == NOW and gw_accepted.observed_generation == 3
    route_accepted = second.routes[ROUTE].parents[0].condition("Accepted")
    assert route_accepted is not None and route_accepted.status == "False"
    assert route_accepted.last_transition_time == "2025-08-04T16:00:00Z"
