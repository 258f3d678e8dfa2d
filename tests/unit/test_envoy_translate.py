"""The Envoy translation: golden xDS for the workshop's Gateway and a few beyond it, the names and
shapes Envoy Gateway gives them, and Envoy's own verdict on the result (`envoy --mode validate`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import PROJECT_ROOT
from orchestrator.envoy import validate
from orchestrator.envoy.ir import BackendTraffic, HealthCheck, OutlierDetection, container_port
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.envoy.translate import XdsResources, load_assignment, translate
from tests.unit.envoy_cases import ACCESS_LOG, CASES, LAYOUT, case

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "envoy"


def resources(name: str, layout: ProxyLayout = LAYOUT) -> XdsResources:
    return translate(case(name).ir, layout, str(layout.log) if layout != LAYOUT else ACCESS_LOG)


def as_doc(res: XdsResources) -> dict[str, Any]:
    return {"listeners": res.listeners, "routes": res.routes, "clusters": res.clusters, "endpoints": res.endpoints}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    """The whole xDS output; `GWLAB_REGEN_FIXTURES=1` rewrites the files (then read the diff)."""
    got = yaml.safe_dump(as_doc(resources(name)), sort_keys=True)
    path = FIXTURES / f"{name}.yaml"
    if os.environ.get("GWLAB_REGEN_FIXTURES"):
        path.write_text(got)
    assert got == path.read_text()


def chain_of(listener: dict[str, Any], name: str) -> dict[str, Any]:
    chains = [c for c in listener["filterChains"] if c["name"] == name]
    assert len(chains) == 1, [c["name"] for c in listener["filterChains"]]
    chain: dict[str, Any] = chains[0]
    return chain


def tcp_proxy(chain: dict[str, Any]) -> dict[str, Any]:
    (f,) = chain["filters"]
    assert f["name"] == "envoy.filters.network.tcp_proxy"
    config: dict[str, Any] = f["typedConfig"]
    return config


def test_workshop_step5_is_named_as_envoy_gateway_names_it() -> None:
    res = resources("workshop-step5")
    http, tls = res.listeners
    assert http["name"] == "default/tls-passthrough-gateway/http"
    assert http["address"]["socketAddress"] == {"address": "0.0.0.0", "portValue": 10080}
    assert tls["name"] == "default/tls-passthrough-gateway/tls"
    assert tls["address"]["socketAddress"]["portValue"] == 6443
    assert [f["name"] for f in tls["listenerFilters"]] == ["envoy.filters.listener.tls_inspector"]
    chain = chain_of(tls, "tlsroute/default/tls-passthrough")
    assert chain["filterChainMatch"] == {"serverNames": ["passthrough.example.com"]}
    proxy = tcp_proxy(chain)
    assert proxy["statPrefix"] == "tls-passthrough-6443"
    assert proxy["cluster"] == "tlsroute/default/tls-passthrough/rule/-1"
    (cluster,) = res.clusters
    assert cluster["name"] == cluster["edsClusterConfig"]["serviceName"] == "tlsroute/default/tls-passthrough/rule/-1"
    assert cluster["type"] == "EDS"
    assert "healthChecks" not in cluster and "outlierDetection" not in cluster  # as Envoy Gateway: none by default
    (cla,) = res.endpoints
    hosts = [e["endpoint"]["address"]["socketAddress"] for e in cla["endpoints"][0]["lbEndpoints"]]
    assert hosts == [{"address": "10.50.0.17", "portValue": 8443}, {"address": "10.50.0.33", "portValue": 8443}]


def test_the_http_listener_without_routes_has_an_empty_route_configuration() -> None:
    res = resources("workshop-step3")
    (listener,) = res.listeners
    assert "filterChains" not in listener
    (hcm,) = listener["defaultFilterChain"]["filters"]
    assert hcm["typedConfig"]["statPrefix"] == "http-10080"
    assert hcm["typedConfig"]["rds"]["routeConfigName"] == "default/tls-passthrough-gateway/http"
    assert res.routes == [{"ignorePortInHostMatching": True, "name": "default/tls-passthrough-gateway/http"}]
    assert res.clusters == [] and res.endpoints == []


def test_weighted_backends_are_weighted_localities_of_one_cluster() -> None:
    res = resources("weighted")
    (cluster,) = res.clusters
    policy = cluster["loadBalancingPolicy"]["policies"][0]["typedExtensionConfig"]["typedConfig"]
    assert policy["localityLbConfig"] == {"localityWeightedLbConfig": {}}
    (cla,) = res.endpoints
    got = [(loc["locality"]["region"], loc["loadBalancingWeight"],
            [e["endpoint"]["address"]["socketAddress"]["address"] for e in loc["lbEndpoints"]])
           for loc in cla["endpoints"]]
    assert got == [("tlsroute/default/canary/rule/-1/backend/0", 80, ["10.50.0.17", "10.50.0.18"]),
                   ("tlsroute/default/canary/rule/-1/backend/1", 20, ["10.50.0.34"])]


def test_port_shift() -> None:
    assert [container_port(p) for p in (80, 443, 1023, 1024, 6443)] == [10080, 10443, 11023, 1024, 6443]
    (listener,) = resources("weighted").listeners
    assert listener["address"]["socketAddress"]["portValue"] == 10443
    assert tcp_proxy(listener["filterChains"][0])["statPrefix"] == "tls-passthrough-10443"


def test_listeners_on_one_port_share_one_envoy_listener_and_each_sni_one_chain() -> None:
    (listener,) = resources("wildcard").listeners
    assert listener["name"] == "default/gw/exact"  # the first listener of the port names it
    names = {c["name"]: c["filterChainMatch"]["serverNames"] for c in listener["filterChains"]}
    # foo.example.com: the exact listener's, where the older route `wild` holds it
    assert names == {"tlsroute/default/wild": ["foo.example.com", "*.example.com"],
                     "tlsroute/default/deep": ["*.bar.example.com"]}


def test_tcp_routes_and_a_tcp_listener_without_routes() -> None:
    res = resources("tcp")
    db, idle = res.listeners
    chain = chain_of(db, "tcproute/default/postgres")
    assert "filterChainMatch" not in chain and "listenerFilters" not in db
    assert tcp_proxy(chain) | {"accessLog": None} == {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "accessLog": None, "cluster": "tcproute/default/postgres/rule/-1", "statPrefix": "tcp-10543"}
    assert idle["address"]["socketAddress"]["portValue"] == 10700
    assert tcp_proxy(chain_of(idle, "EmptyCluster"))["cluster"] == "EmptyCluster"
    assert {"name": "EmptyCluster", "type": "STATIC"} in res.clusters


def test_backend_traffic_policy_turns_on_health_checks() -> None:
    ir = case("workshop-step5").ir
    dest = ir.listeners[1].routes[0].destination
    checked = type(dest)(dest.name, dest.settings, BackendTraffic(HealthCheck(), OutlierDetection()))
    route = ir.listeners[1].routes[0]
    lst = ir.listeners[1]
    ir2 = type(ir)(ir.gateway, (ir.listeners[0], type(lst)(lst.name, lst.protocol, lst.port,
                                                             (type(route)(route.name, route.kind, checked, route.snis),))))
    (cluster,) = translate(ir2, LAYOUT, ACCESS_LOG).clusters
    assert cluster["healthChecks"] == [{"healthyThreshold": 1, "interval": "3s", "tcpHealthCheck": {},
                                        "timeout": "1s", "unhealthyThreshold": 3}]
    assert cluster["outlierDetection"]["consecutiveGatewayFailure"] == 5


def test_a_draining_endpoint_is_marked() -> None:
    from orchestrator.envoy.ir import Destination, DestinationSetting, Endpoint

    dest = Destination("c", (DestinationSetting("c/backend/0", 1, (Endpoint("10.0.0.1", 1), Endpoint("10.0.0.2", 1, True))),))
    eps = load_assignment(dest)["endpoints"][0]["lbEndpoints"]
    assert ["healthStatus" in e for e in eps] == [False, True] and eps[1]["healthStatus"] == "DRAINING"


@pytest.mark.parametrize("name", sorted(CASES))
def test_envoy_accepts_the_translation(name: str, tmp_path: Path) -> None:
    """The real Envoy's verdict on every case (validate mode binds nothing)."""
    layout = ProxyLayout(tmp_path)
    validate.check(layout, resources(name, layout))


def test_envoy_refusal_is_reported_with_its_reason(tmp_path: Path) -> None:
    layout = ProxyLayout(tmp_path)
    res = resources("workshop-step5", layout)
    res.listeners[1]["filterChains"].append(dict(res.listeners[1]["filterChains"][0]))  # the same match twice
    with pytest.raises(validate.EnvoyRefused, match="has the same matching rules"):
        validate.check(layout, res)


def test_the_envoy_listener_of_a_port_is_named_after_the_first_gateway_listener_in_spec_order() -> None:
    from orchestrator.envoy.adapter import proxy_ir
    from tests.unit.envoy_cases import ECHO_ENDPOINTS, gateway, passthrough, plan_of

    plan = plan_of(gateway([passthrough("wild", 6443, "*.example.com"), passthrough("exact", 6443, "foo.example.com")]), [])
    listeners = translate(proxy_ir(plan, ECHO_ENDPOINTS, listener_order=["wild", "exact"]).ir, LAYOUT, ACCESS_LOG).listeners
    assert [lst["name"] for lst in listeners] == ["default/gw/wild"]
    # with no route at all, the port still has a filter chain (Envoy refuses a listener without one)
    assert [c["name"] for c in listeners[0]["filterChains"]] == ["EmptyCluster"]


def test_listeners_the_proxy_does_not_serve_are_named_with_the_reason() -> None:
    from orchestrator.envoy.adapter import proxy_ir
    from tests.unit.envoy_cases import ECHO_ENDPOINTS, gateway, plan_of

    gw = gateway([{"name": "web", "protocol": "HTTP", "port": 80},
                  {"name": "dns", "protocol": "UDP", "port": 53}])
    adapted = proxy_ir(plan_of(gw, []), ECHO_ENDPOINTS)
    assert [(lst.name, lst.protocol, lst.bind_port) for lst in adapted.ir.listeners] == [("default/gw/web", "HTTP", 10080)]
    assert adapted.skipped == ("dns (UDP/53): gwlab's proxy does not serve UDP listeners",)


def test_an_http_and_a_tcp_listener_on_one_proxy_port_are_two_listeners_envoy_refuses(tmp_path: Path) -> None:
    """Port 80 is 10080 in the proxy: beside a TCP listener of port 10080 the translation gives two
    Envoy listeners on one address (it used to fail on the HTTP listener's missing filter chains),
    and Envoy's verdict refuses them, so nothing reaches the running proxy."""
    from orchestrator.envoy.ir import Listener, ProxyIR

    layout = ProxyLayout(tmp_path)
    ir = ProxyIR("default/gw", (Listener("default/gw/http", "HTTP", 80), Listener("default/gw/raw", "TCP", 10080)))
    res = translate(ir, layout, str(layout.log))
    assert [(lst["name"], lst["address"]["socketAddress"]["portValue"]) for lst in res.listeners] == [
        ("default/gw/http", 10080), ("default/gw/raw", 10080)]
    with pytest.raises(validate.EnvoyRefused, match="'default/gw/raw' has duplicate address '0.0.0.0:10080'"):
        validate.check(layout, res)
