"""The proxy's IR as xDS resources, in the shape Envoy Gateway's translator emits them
(internal/xds/translator: listener.go, cluster.go, translator.go), field names as its testdata
prints them (proto3 JSON). Config sources are files (see layout.py) where Envoy Gateway uses ADS.

- One Envoy listener per address and port: Gateway listeners on one port share it, named after
  the first (Envoy Gateway's `findXdsListenerByHostPort`), each route adding its filter chain;
  HTTP and TLS/TCP listeners on one port (after the shift) stay two, and Envoy refuses them.
- TLS passthrough: `envoy.filters.listener.tls_inspector`, a filter chain per route named after it,
  matching its SNIs (`filterChainMatch.serverNames`; none for a route that takes any SNI), with a
  `tcp_proxy` (`statPrefix: tls-passthrough-<port>`) to the route's EDS cluster. A ClientHello no
  chain matches, no SNI, or no TLS at all, matches nothing: Envoy closes the connection.
- TCP: the same without SNI (`statPrefix: tcp-<port>`); a TCP or TLS listener with no route gets a
  filter chain to `EmptyCluster` (a STATIC cluster without hosts), as Envoy refuses a listener
  without any filter chain.
- HTTP: an `http_connection_manager` in the default filter chain, its routes from RDS; with no
  HTTPRoute the route configuration has no virtual host, so every request gets 404 (flag NR).
- Clusters: EDS, least request over localities, one locality per backendRef weighted by its weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.envoy.ir import Destination, Listener, ProxyIR, TCPRoute
from orchestrator.envoy.layout import ProxyLayout

Resource = dict[str, Any]

EMPTY_CLUSTER = "EmptyCluster"
BUFFER_LIMIT = 32768  # Envoy Gateway's tcpListenerPerConnectionBufferLimitBytes
TYPE = "type.googleapis.com/envoy.extensions"

# Envoy Gateway's default JSON access log fields (translator/accesslog.go, EnvoyJSONLogFields).
ACCESS_LOG_FIELDS: dict[str, str] = {
    ":authority": "%REQ(:AUTHORITY)%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
    "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
    "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
    "duration": "%DURATION%",
    "method": "%REQ(:METHOD)%",
    "protocol": "%PROTOCOL%",
    "requested_server_name": "%REQUESTED_SERVER_NAME%",
    "response_code": "%RESPONSE_CODE%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "response_flags": "%RESPONSE_FLAGS%",
    "route_name": "%ROUTE_NAME%",
    "start_time": "%START_TIME%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "upstream_host": "%UPSTREAM_HOST%",
    "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
    "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    "user-agent": "%REQ(USER-AGENT)%",
    "x-envoy-origin-path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "x-envoy-upstream-service-time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "x-forwarded-for": "%REQ(X-FORWARDED-FOR)%",
    "x-request-id": "%REQ(X-REQUEST-ID)%",
}


@dataclass(frozen=True)
class XdsResources:
    listeners: list[Resource] = field(default_factory=list)
    routes: list[Resource] = field(default_factory=list)  # RouteConfigurations
    clusters: list[Resource] = field(default_factory=list)
    endpoints: list[Resource] = field(default_factory=list)  # ClusterLoadAssignments of EDS clusters


def translate(ir: ProxyIR, layout: ProxyLayout, access_log_path: str) -> XdsResources:
    out = XdsResources()
    by_port: dict[tuple[str, int, bool], Resource] = {}
    for lst in ir.listeners:
        # An HTTP listener and a TLS or TCP one never share an Envoy listener: on one port (80 is
        # 10080 in the proxy, beside a listener of port 10080) they are two listeners on one
        # address, which Envoy refuses, so the Gateway is not Programmed and the proxy keeps its config.
        key = (lst.address, lst.bind_port, lst.protocol == "HTTP")
        xds_listener = by_port.get(key)
        if xds_listener is None:
            xds_listener = by_port[key] = _listener(lst, access_log_path)
            out.listeners.append(xds_listener)
        if lst.protocol == "HTTP":
            _add_http(out, xds_listener, lst, layout, access_log_path)
            continue
        for route in lst.routes:
            if not any(c["name"] == route.destination.name for c in out.clusters):
                out.clusters.append(_cluster(route.destination, layout))
                out.endpoints.append(load_assignment(route.destination))
            _add_chain(xds_listener, route, route.destination.name, access_log_path)
        if not lst.routes and not any(c["name"] == EMPTY_CLUSTER for c in xds_listener["filterChains"]):
            if not any(c["name"] == EMPTY_CLUSTER for c in out.clusters):
                out.clusters.append({"name": EMPTY_CLUSTER, "type": "STATIC"})
            _add_chain(xds_listener, TCPRoute(EMPTY_CLUSTER, "TCPRoute", Destination(EMPTY_CLUSTER, ())),
                       EMPTY_CLUSTER, access_log_path)
    return out


def _file_log(path: str, filter_nr: bool = False) -> Resource:
    log: Resource = {
        "name": "envoy.access_loggers.file",
        "typedConfig": {
            "@type": f"{TYPE}.access_loggers.file.v3.FileAccessLog",
            "logFormat": {"jsonFormat": dict(ACCESS_LOG_FIELDS)},
            "path": path,
        },
    }
    if filter_nr:  # a listener logs only what no filter chain took: those are NR
        return {"filter": {"responseFlagFilter": {"flags": ["NR"]}}, **log}
    return log


def _listener(lst: Listener, access_log_path: str) -> Resource:
    return {
        "accessLog": [_file_log(access_log_path, filter_nr=True)],
        "address": {"socketAddress": {"address": lst.address, "portValue": lst.bind_port}},
        "filterChains": [],
        "maxConnectionsToAcceptPerSocketEvent": 1,
        "name": lst.name,
        "perConnectionBufferLimitBytes": BUFFER_LIMIT,
    }


def _add_chain(xds_listener: Resource, route: TCPRoute, cluster: str, access_log_path: str) -> None:
    port = xds_listener["address"]["socketAddress"]["portValue"]
    prefix = "tls-passthrough" if route.kind == "TLSRoute" else "tcp"
    chain: Resource = {
        "filters": [{
            "name": "envoy.filters.network.tcp_proxy",
            "typedConfig": {
                "@type": f"{TYPE}.filters.network.tcp_proxy.v3.TcpProxy",
                "accessLog": [_file_log(access_log_path)],
                "cluster": cluster,
                "statPrefix": f"{prefix}-{port}",
            },
        }],
        "name": route.name,
    }
    if route.snis:
        chain = {"filterChainMatch": {"serverNames": list(route.snis)}, **chain}
        filters = xds_listener.setdefault("listenerFilters", [])
        if not any(f["name"] == "envoy.filters.listener.tls_inspector" for f in filters):
            filters.append({
                "name": "envoy.filters.listener.tls_inspector",
                "typedConfig": {"@type": f"{TYPE}.filters.listener.tls_inspector.v3.TlsInspector"},
            })
    xds_listener["filterChains"].append(chain)


def _add_http(out: XdsResources, xds_listener: Resource, lst: Listener, layout: ProxyLayout,
              access_log_path: str) -> None:
    """Several HTTP listeners on one port share the default filter chain and route configuration
    of the first, as in Envoy Gateway."""
    if "defaultFilterChain" in xds_listener:
        return
    del xds_listener["filterChains"]
    hcm = {
        "@type": f"{TYPE}.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "accessLog": [_file_log(access_log_path)],
        "commonHttpProtocolOptions": {"headersWithUnderscoresAction": "REJECT_REQUEST"},
        "http2ProtocolOptions": {
            "initialConnectionWindowSize": 1048576,
            "initialStreamWindowSize": 65536,
            "maxConcurrentStreams": 100,
        },
        "httpFilters": [{
            "name": "envoy.filters.http.router",
            "typedConfig": {"@type": f"{TYPE}.filters.http.router.v3.Router", "suppressEnvoyHeaders": True},
        }],
        "mergeSlashes": True,
        "normalizePath": True,
        "pathWithEscapedSlashesAction": "UNESCAPE_AND_REDIRECT",
        "rds": {
            "configSource": layout.config_source(layout.rds(lst.name), initial_fetch_timeout="0s"),
            "routeConfigName": lst.name,
        },
        "serverHeaderTransformation": "PASS_THROUGH",
        "statPrefix": f"http-{lst.bind_port}",
        "useRemoteAddress": True,
    }
    xds_listener["defaultFilterChain"] = {
        "filters": [{"name": "envoy.filters.network.http_connection_manager", "typedConfig": hcm}],
        "name": lst.name,
    }
    out.routes.append({"ignorePortInHostMatching": True, "name": lst.name})


def _ms(value: int) -> str:
    return f"{value // 1000}s" if value % 1000 == 0 else f"{value / 1000:.3f}s"


def _cluster(dest: Destination, layout: ProxyLayout) -> Resource:
    cluster: Resource = {
        "circuitBreakers": {"thresholds": [{"maxRetries": 1024}]},
        "commonLbConfig": {},
        "connectTimeout": "10s",
        "dnsLookupFamily": "V4_PREFERRED",
        "edsClusterConfig": {"edsConfig": layout.config_source(layout.eds(dest.name)), "serviceName": dest.name},
    }
    hc = dest.traffic.health_check
    if hc is not None:
        cluster["healthChecks"] = [{
            "healthyThreshold": hc.healthy_threshold,
            "interval": _ms(hc.interval_ms),
            "tcpHealthCheck": {},
            "timeout": _ms(hc.timeout_ms),
            "unhealthyThreshold": hc.unhealthy_threshold,
        }]
    cluster.update({
        "ignoreHealthOnHostRemoval": True,
        "loadBalancingPolicy": {"policies": [{"typedExtensionConfig": {
            "name": "envoy.load_balancing_policies.least_request",
            "typedConfig": {
                "@type": f"{TYPE}.load_balancing_policies.least_request.v3.LeastRequest",
                "localityLbConfig": {"localityWeightedLbConfig": {}},
            },
        }}]},
        "name": dest.name,
    })
    od = dest.traffic.outlier_detection
    if od is not None:
        cluster["outlierDetection"] = {
            "baseEjectionTime": _ms(od.base_ejection_time_ms),
            "consecutiveGatewayFailure": od.consecutive_gateway_errors,
            "enforcingConsecutiveGatewayFailure": 100,
            "interval": _ms(od.interval_ms),
            "maxEjectionPercent": od.max_ejection_percent,
        }
    cluster.update({"perConnectionBufferLimitBytes": BUFFER_LIMIT, "type": "EDS"})
    return cluster


def load_assignment(dest: Destination) -> Resource:
    """The EDS resource of a destination: a locality per backendRef (weighted by the backendRef's
    weight), its endpoints inside at weight 1 (DRAINING for a terminating one: Envoy sends it no
    new connection and leaves its established ones alone)."""
    return {
        "clusterName": dest.name,
        "endpoints": [
            {
                "lbEndpoints": [
                    {
                        "endpoint": {"address": {"socketAddress": {"address": ep.ip, "portValue": ep.port}}},
                        **({"healthStatus": "DRAINING"} if ep.draining else {}),
                        "loadBalancingWeight": 1,
                    }
                    for ep in setting.endpoints
                ],
                "loadBalancingWeight": setting.weight,
                "locality": {"region": setting.name},
            }
            for setting in dest.settings
        ],
    }


def destinations(ir: ProxyIR) -> dict[str, Destination]:
    """Every EDS destination of the proxy by cluster name."""
    return {r.destination.name: r.destination for lst in ir.listeners for r in lst.routes}
