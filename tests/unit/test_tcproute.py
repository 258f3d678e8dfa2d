"""TCPRoute (gateway.networking.k8s.io/v1alpha2): read strictly, judged as Envoy Gateway judges it
(Accepted and ResolvedRefs per parent, attached only to TCP listeners), and translated into an Envoy
listener without TLS inspection whose one chain proxies to the route's EDS cluster."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import ValidationFailed
from orchestrator.k8s import kinds
from orchestrator.k8s.gateway.parse import parse_gateway_object
from orchestrator.k8s.gateway.reconcile import ReconcileResult, reconcile
from orchestrator.k8s.gateway.status import ObjKey, ServiceInfo
from orchestrator.k8s.gateway.types import Gateway, TCPRoute
from orchestrator.manifests import Document
from tests.unit.envoy_cases import CLASS, ECHO, gateway, passthrough, tcp_route

TCP = {"name": "tcp", "protocol": "TCP", "port": 7443}


def judge(listeners: list[dict[str, Any]], *routes: dict[str, Any],
          services: tuple[ServiceInfo, ...] = (ECHO,)) -> ReconcileResult:
    gw = parse_gateway_object(gateway(listeners), "gw.yaml")
    assert isinstance(gw, Gateway)
    parsed = [parse_gateway_object(r, "route.yaml") for r in routes]
    return reconcile(gateway_classes=[CLASS], gateways=[gw], routes=parsed,  # type: ignore[arg-type]
                     services=services, addresses={ObjKey("default", "gw"): "10.10.10.1"},
                     now="2026-01-01T00:00:00Z")


def conditions(result: ReconcileResult, name: str) -> dict[str, tuple[str, str]]:
    (parent,) = result.tcp_routes[ObjKey("default", name)].parents
    return {c.type: (c.status, c.reason) for c in parent.conditions}


def test_the_kind_is_in_the_one_table_and_parses() -> None:
    info = kinds.kind_of("tcproute")
    assert (info.group, info.versions, info.plural) == ("gateway.networking.k8s.io", ("v1alpha2",), "tcproutes")
    body = tcp_route("db", [("postgres", 5432, 1)])
    (parsed,) = kinds.parse_objects([Document("route.yaml", 0, body)])
    route = parsed.obj
    assert isinstance(route, TCPRoute)
    assert route.kind == "TCPRoute" and route.hostnames == ()
    assert [(b.name, b.port, b.weight) for b in route.rules[0].backend_refs] == [("postgres", 5432, 1)]


def test_bad_tcproute_names_every_problem_at_once() -> None:
    body = tcp_route("db", [("postgres", 5432, 1)])
    body["spec"]["hostnames"] = ["a.example.com"]  # TCPRoute has no hostnames
    body["spec"]["rules"].append({"backendRefs": [{"name": "x"}]})  # a Service reference needs a port
    with pytest.raises(ValidationFailed) as failed:
        kinds.parse_objects([Document("route.yaml", 0, body)])
    fields = sorted(p.field for p in failed.value.problems)
    assert fields == ["spec.hostnames", "spec.rules[1].backendRefs[0]"], fields
    v1 = dict(body, apiVersion="gateway.networking.k8s.io/v1")
    with pytest.raises(ValidationFailed, match="v1alpha2"):
        kinds.parse_objects([Document("route.yaml", 0, v1)])


def test_accepted_on_a_tcp_listener_with_its_backends_resolved() -> None:
    result = judge([TCP], tcp_route("echo", [("passthrough-echoserver", 443, 1)]))
    assert conditions(result, "echo") == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
    (plan,) = result.plans.values()
    (t,) = plan.tcp_routes
    assert (t.listener, str(t.route)) == ("tcp", "default/echo")
    assert plan.services() == [("default", "passthrough-echoserver", 443)]
    (listener,) = result.gateways[ObjKey("default", "gw")].listeners
    assert listener.attached_routes == 1
    assert result.routes == {}  # a TCPRoute's status is not a TLSRoute's


def test_not_allowed_on_a_tls_passthrough_listener() -> None:
    result = judge([passthrough("tls", 6443, "a.example.com")], tcp_route("echo", [("passthrough-echoserver", 443, 1)]))
    assert conditions(result, "echo")["Accepted"] == ("False", "NotAllowedByListeners")
    assert result.plans[ObjKey("default", "gw")].tcp_routes == ()


def test_a_missing_backend_is_refused_by_resolved_refs() -> None:
    result = judge([TCP], tcp_route("echo", [("nowhere", 443, 1)]))
    assert conditions(result, "echo") == {"Accepted": ("True", "Accepted"),
                                          "ResolvedRefs": ("False", "BackendNotFound")}
    (t,) = result.plans[ObjKey("default", "gw")].tcp_routes
    assert t.backends == () and t.rejected_weight == 1


def test_the_oldest_route_owns_a_tcp_listener() -> None:
    old = tcp_route("old", [("passthrough-echoserver", 443, 1)], created="2026-01-01T00:00:00Z")
    new = tcp_route("new", [("passthrough-echoserver", 443, 1)], created="2026-01-02T00:00:00Z")
    result = judge([TCP], new, old)
    (t,) = result.plans[ObjKey("default", "gw")].tcp_routes
    assert str(t.route) == "default/old"


def test_translation_has_no_tls_inspection_and_envoy_gateway_names() -> None:
    from tests.unit.test_envoy_translate import chain_of, resources, tcp_proxy

    tls, tcp = resources("tcproute").listeners
    assert tcp["name"] == "default/gw/tcp" and "listenerFilters" not in tcp
    assert [c["name"] for c in tcp["filterChains"]] == ["tcproute/default/tcp-echo"]
    chain = chain_of(tcp, "tcproute/default/tcp-echo")
    assert "filterChainMatch" not in chain
    assert (tcp_proxy(chain)["cluster"], tcp_proxy(chain)["statPrefix"]) == ("tcproute/default/tcp-echo/rule/-1",
                                                                            "tcp-7443")
    assert tls["listenerFilters"][0]["name"] == "envoy.filters.listener.tls_inspector"
