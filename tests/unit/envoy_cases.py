"""Gateways and routes for the Envoy translation tests: the workshop's own manifests (demo steps 3-5)
and a few beyond it, run through the project's Gateway API reconcile to get real plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from orchestrator import PROJECT_ROOT
from orchestrator.envoy.adapter import Adapted, EndpointMap, TCPRouteAttachment, proxy_ir
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.k8s.gateway.parse import parse_gateway_object
from orchestrator.k8s.gateway.types import Gateway, GatewayClass, TCPRoute, TLSRoute
from orchestrator.k8s.gateway.plan import BackendTarget, GatewayPlan
from orchestrator.k8s.gateway.reconcile import reconcile
from orchestrator.k8s.gateway.status import CONTROLLER_NAME, ObjKey, ServiceInfo
from orchestrator.k8s.jsonpatch import apply_patch_text

LAYOUT = ProxyLayout(Path("/run/gwlab/tls-passthrough/pods/0123456789ab"))
ACCESS_LOG = str(LAYOUT.log)
GATEWAY_DIR = PROJECT_ROOT / "lab" / "manifests" / "gateway"
STEP5_PATCH = PROJECT_ROOT / "lab" / "patches" / "step5-tls-listener.yaml"
ECHO = ServiceInfo("default", "passthrough-echoserver", (443,))
ECHO_ENDPOINTS: EndpointMap = {("default", "passthrough-echoserver", 443): [("10.50.0.17", 8443), ("10.50.0.33", 8443)]}

CLASS = parse_gateway_object({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
    "metadata": {"name": "tigera-gateway-class"}, "spec": {"controllerName": CONTROLLER_NAME},
}, "class.yaml")


def _manifest(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((GATEWAY_DIR / name).read_text())
    assert isinstance(doc, dict)
    return doc


def workshop_gateway(step: int) -> dict[str, Any]:
    gw = _manifest("20-gateway.yaml")
    return apply_patch_text(gw, STEP5_PATCH.read_text()) if step >= 5 else gw


def workshop_route() -> dict[str, Any]:
    return _manifest("30-tlsroute.yaml")


def plan_of(gateway: dict[str, Any], routes: Sequence[dict[str, Any]],
            services: Sequence[ServiceInfo] = (ECHO,)) -> GatewayPlan:
    gw = parse_gateway_object(gateway, "gateway.yaml")
    assert isinstance(gw, Gateway) and isinstance(CLASS, GatewayClass)
    tls_routes = [parse_gateway_object(r, "route.yaml") for r in routes]
    assert all(isinstance(r, (TLSRoute, TCPRoute)) for r in tls_routes)
    key = ObjKey(gw.metadata.namespace, gw.metadata.name)
    result = reconcile(gateway_classes=[CLASS], gateways=[gw], routes=tls_routes,  # type: ignore[arg-type]
                       services=services, addresses={key: "10.10.10.0"}, now="2026-01-01T00:00:00Z")
    return result.plans[key]


def gateway(listeners: list[dict[str, Any]], name: str = "gw") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"gatewayClassName": "tigera-gateway-class", "listeners": listeners}}


def tls_route(name: str, hostnames: list[str], backends: list[tuple[str, int, int]],
              parent: str = "gw", created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TLSRoute",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "spec": {"parentRefs": [{"name": parent}], "hostnames": hostnames,
                     "rules": [{"backendRefs": [{"name": svc, "port": port, "weight": weight}
                                                for svc, port, weight in backends]}]}}


def tcp_route(name: str, backends: list[tuple[str, int, int]], parent: str = "gw",
              created: str = "2026-01-01T00:00:00Z", section: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": parent, **({"sectionName": section} if section else {})}
    return {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "spec": {"parentRefs": [ref],
                     "rules": [{"backendRefs": [{"name": svc, "port": port, "weight": weight}
                                                for svc, port, weight in backends]}]}}


def passthrough(name: str, port: int, hostname: str | None = None) -> dict[str, Any]:
    lst: dict[str, Any] = {"name": name, "protocol": "TLS", "port": port, "tls": {"mode": "Passthrough"}}
    if hostname:
        lst["hostname"] = hostname
    return lst


def case(name: str) -> Adapted:
    """The named case's adapted IR (the keys of CASES)."""
    return CASES[name]()


def _workshop_step3() -> Adapted:
    return proxy_ir(plan_of(workshop_gateway(3), [workshop_route()]), ECHO_ENDPOINTS)


def _workshop_step5() -> Adapted:
    return proxy_ir(plan_of(workshop_gateway(5), [workshop_route()]), ECHO_ENDPOINTS)


def _weighted() -> Adapted:
    services = [ServiceInfo("default", "blue", (443,)), ServiceInfo("default", "green", (443,))]
    gw = gateway([passthrough("tls", 443, "app.example.com")])
    route = tls_route("canary", ["app.example.com"], [("blue", 443, 80), ("green", 443, 20)])
    endpoints: EndpointMap = {("default", "blue", 443): [("10.50.0.18", 8443), ("10.50.0.17", 8443)],
                              ("default", "green", 443): [("10.50.0.34", 8443)]}
    return proxy_ir(plan_of(gw, [route], services), endpoints)


def _wildcard() -> Adapted:
    """Two TLS listeners on one port (one Envoy listener), a wildcard one and an exact one; a
    route on the exact name belongs to the exact listener, the wildcard route keeps the rest."""
    gw = gateway([passthrough("wild", 6443, "*.example.com"), passthrough("exact", 6443, "foo.example.com")])
    routes = [
        tls_route("wild", ["*.example.com", "other.org"], [("passthrough-echoserver", 443, 1)]),
        tls_route("deep", ["*.bar.example.com", "foo.example.com"], [("passthrough-echoserver", 443, 1)],
                  created="2026-01-02T00:00:00Z"),
    ]
    return proxy_ir(plan_of(gw, routes), ECHO_ENDPOINTS)


def _tcp() -> Adapted:
    """A TCP listener with a TCPRoute, a TCP listener without one (EmptyCluster), both below 1024."""
    gw = gateway([{"name": "db", "protocol": "TCP", "port": 543}, {"name": "idle", "protocol": "TCP", "port": 700}])
    attach = TCPRouteAttachment("db", "default", "postgres",
                                (BackendTarget("default", "postgres", 5432, 1),))
    return proxy_ir(plan_of(gw, []), {("default", "postgres", 5432): [("10.50.0.40", 5432)]}, [attach])


def _tcproute() -> Adapted:
    """A TCPRoute accepted on a TCP listener beside the workshop's TLS passthrough listener, through
    the reconcile: its own Envoy listener without tls_inspector, one chain, one EDS cluster."""
    gw = gateway([passthrough("tls", 6443, "passthrough.example.com"),
                  {"name": "tcp", "protocol": "TCP", "port": 7443}])
    routes = [tls_route("tls-passthrough", ["passthrough.example.com"], [("passthrough-echoserver", 443, 1)]),
              tcp_route("tcp-echo", [("passthrough-echoserver", 443, 1)], section="tcp")]
    return proxy_ir(plan_of(gw, routes), ECHO_ENDPOINTS, listener_order=["tls", "tcp"])


CASES = {
    "tcproute": _tcproute,
    "workshop-step3": _workshop_step3,
    "workshop-step5": _workshop_step5,
    "weighted": _weighted,
    "wildcard": _wildcard,
    "tcp": _tcp,
}
