"""The gateway pod's Envoy, as Envoy Gateway runs it: its configuration is the Gateway's plan
translated to xDS (orchestrator.envoy), checked by Envoy and written as files it watches; its
readiness and counters come from its admin API (a UNIX socket in the pod's directory).

Envoy's own log and its access log (one JSON line per connection) both go to the pod's
container.log, as `kubectl logs` of Envoy Gateway's proxy shows them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.envoy import xds_files
from orchestrator.envoy.adapter import Adapted, proxy_ir
from orchestrator.envoy.admin import Admin, AdminError
from orchestrator.envoy.deliver import deliver
from orchestrator.envoy.ir import BackendTraffic, HealthCheck, OutlierDetection, ProxyIR, TCPRoute
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.envoy.spawn import envoy_argv
from orchestrator.envoy.translate import EMPTY_CLUSTER, XdsResources, translate
from orchestrator.k8s.gateway.plan import GatewayPlan
from orchestrator.k8s.policy import BackendTrafficPolicy
from orchestrator.k8s.world import GatewaySpec, World

LOG_FLUSH_MS = 100  # access log lines reach the pod's log within this (Envoy's default: 10 s)
POD_UID = 65532  # the unprivileged user (and group) pods run as, as Envoy Gateway's proxy image does


def layout(pod_dir: Path) -> ProxyLayout:
    return ProxyLayout(pod_dir, POD_UID)


def adapt(gw: GatewaySpec, world: World) -> Adapted:
    endpoints: dict[tuple[str, str, int], list[tuple[str, int]]] = {}
    for svc in world.services.values():
        for port, eps in svc.endpoints.items():
            endpoints[(svc.namespace, svc.name, port)] = [(e.ip, e.port) for e in eps]
    plan = gw.plan if gw.plan is not None else GatewayPlan(gw.key, None, ())
    adapted = proxy_ir(plan, endpoints, listener_order=gw.listener_order)
    return replace(adapted, ir=with_policies(adapted.ir, gw, world.policies))


def with_policies(ir: ProxyIR, gw: GatewaySpec, policies: list[BackendTrafficPolicy]) -> ProxyIR:
    """Each route's destination with the health checks of the BackendTrafficPolicy that targets
    the route, else the one that targets its Gateway (Envoy Gateway's precedence); none: Envoy's
    defaults (no active check, no outlier detection)."""
    def traffic(kind: str, ns: str, name: str) -> BackendTraffic:
        chosen = next((p for p in policies if p.targets_object(kind, ns, name)), None) or next(
            (p for p in policies if p.targets_object("Gateway", gw.key.namespace, gw.key.name)), None)
        if chosen is None:
            return BackendTraffic()
        a, q = chosen.active, chosen.passive
        return BackendTraffic(
            HealthCheck(a.interval_ms, a.timeout_ms, a.unhealthy_threshold, a.healthy_threshold) if a else None,
            OutlierDetection(q.consecutive_gateway_errors, q.interval_ms, q.base_ejection_time_ms,
                             q.max_ejection_percent) if q else None)

    def route(r: TCPRoute) -> TCPRoute:
        _, ns, name = r.name.split("/", 2)
        return replace(r, destination=replace(r.destination, traffic=traffic(r.kind, ns, name)))
    return replace(ir, listeners=tuple(replace(lst, routes=tuple(route(r) for r in lst.routes))
                                       for lst in ir.listeners))


def resources(gw: GatewaySpec, world: World, where: ProxyLayout) -> XdsResources:
    return translate(adapt(gw, world).ir, where, str(where.log))


def prepare(where: ProxyLayout, node_id: str, gateway: str) -> None:
    """What Envoy needs to start: its bootstrap, and LDS and CDS files (empty for a new proxy: the
    translation comes through `configure` once Envoy has checked it; a restarted one keeps its own)."""
    xds_files.prepare(where, node_id=node_id, gateway=gateway)
    if not (where.lds.is_file() and where.cds.is_file()):
        xds_files.write(where, XdsResources())


def configure(gw: GatewaySpec, world: World, where: ProxyLayout, node_id: str) -> bool:
    """Bring the proxy's watched files to the Gateway's plan. True if a file changed.
    Raises EnvoyRefused (nothing written) when Envoy would refuse the translation."""
    changed = xds_files.prepare(where, node_id=node_id, gateway=str(gw.key))
    report = deliver(where, resources(gw, world, where))
    return changed or bool(report.written or report.removed)


def argv(where: ProxyLayout) -> list[str]:
    return envoy_argv(where, log_flush_ms=LOG_FLUSH_MS)


def ready(where: ProxyLayout) -> bool:
    """Envoy Gateway's readiness: /ready answers LIVE, and every listener of LDS is active; and
    Envoy holds every endpoint on file (a proxy started before its backends were ready gets them
    by EDS: it is not ready to send to them before it has read them)."""
    admin = Admin(where.admin_socket, timeout=1.0)
    if not admin.ready():
        return False
    try:
        wanted = len(xds_files.read(where.lds))
        active = admin.counter("listener_manager.total_listeners_active")
        on_file = endpoints_on_file(where)
    except (AdminError, OSError, ValueError):
        return False
    if active < wanted:
        return False
    if not on_file:
        return True
    held = upstream_hosts(where)
    return held is not None and on_file <= held


def answers(where: ProxyLayout, timeout: float) -> bool:
    """Envoy Gateway's readiness probe of a running proxy (httpGet /ready on its admin): what the
    kubelet's periodic probe asks; `ready` above is the stricter start-up wait."""
    return Admin(where.admin_socket, timeout=timeout).ready()


def endpoints_on_file(where: ProxyLayout) -> set[str]:
    """Every "ip:port" of the proxy's EDS files."""
    return {f"{e['endpoint']['address']['socketAddress']['address']}:"
            f"{e['endpoint']['address']['socketAddress']['portValue']}"
            for path in sorted(where.dir("eds").glob("*.yaml"))
            for cla in xds_files.read(path) for loc in cla.get("endpoints", [])
            for e in loc.get("lbEndpoints", [])}


def backend_sessions(where: ProxyLayout) -> int | None:
    """Connections Envoy opened to any backend so far (upstream_cx_total of every route cluster);
    None when Envoy does not answer."""
    try:
        stats = Admin(where.admin_socket, timeout=1.0).stats("cluster.")
    except (AdminError, ValueError):
        return None
    return sum(v for k, v in stats.items()
               if k.endswith(".upstream_cx_total") and k != f"cluster.{EMPTY_CLUSTER}.upstream_cx_total")


def mark_refused(status: dict[str, Any], message: str) -> dict[str, Any]:
    """A Gateway's status when Envoy refused its translation: Programmed False (Invalid), with
    Envoy's reason, on the Gateway and on each of its listeners; the proxy keeps its last config."""
    def refuse(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**c, "status": "False", "reason": "Invalid",
                 "message": f"{message} (the proxy keeps its previous configuration)"}
                if c.get("type") == "Programmed" else c for c in conditions]

    out = {**status, "conditions": refuse(list(status.get("conditions", [])))}
    if "listeners" in status:
        out["listeners"] = [{**lst, "conditions": refuse(list(lst.get("conditions", [])))}
                            for lst in status["listeners"]]
    return out


def upstream_hosts(where: ProxyLayout) -> set[str] | None:
    """Every "ip:port" Envoy holds in any cluster now; None when it does not answer."""
    try:
        clusters = Admin(where.admin_socket, timeout=1.0).clusters()
    except (AdminError, ValueError):
        return None
    return {f"{h['address']['socket_address']['address']}:{h['address']['socket_address']['port_value']}"
            for c in clusters.get("cluster_statuses", []) for h in c.get("host_statuses", [])
            if "socket_address" in h.get("address", {})}
