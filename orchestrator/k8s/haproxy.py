"""HAProxy 2.6 configuration for one Gateway's plan: TLS passthrough routed on the ClientHello's SNI.

Every decision is taken in `tcp-request content` rules and written into session variables
(listener, route, backend, verdict), so that each refused connection is logged with the reason
(`not-tls`, `no-sni`, `unknown-sni`, `listener-not-served`, `no-route`, `no-backend`) and none
falls through to a default backend. The text is a pure function of its inputs: the caller can
compare it with the running config and reload (master-worker `-W`, SIGUSR2) only on change.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Mapping, Sequence

from orchestrator.errors import LabError
from orchestrator.k8s.gateway.plan import GatewayPlan, PortPlan, SniRoute

HAPROXY_BIN = "/usr/sbin/haproxy"

ServiceKey = tuple[str, str, int]  # namespace, name, Service port
Endpoint = tuple[str, int]  # pod IP, target port

LOG_FORMAT = (
    "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
    " sni=%[var(sess.sni)] listener=%[var(sess.listener)] route=%[var(sess.route)]"
    " verdict=%[var(sess.verdict)]"
)


@dataclass(frozen=True)
class HAProxySettings:
    bind_address: str  # where the listeners bind, e.g. the proxy pod's IP or 0.0.0.0
    stats_socket: str  # admin socket path: `show stat`, `show servers state`
    # "stderr" or "stdout" (run haproxy in the foreground and redirect the stream to a file),
    # or "unix:/path" for a datagram log socket. HAProxy 2.6 cannot write a regular file itself.
    log_target: str = "stderr"
    inspect_delay_ms: int = 5000
    connect_timeout_ms: int = 5000
    client_timeout_ms: int = 3_600_000
    server_timeout_ms: int = 3_600_000
    # Active health checks. Off, the servers are exactly the ready endpoints, as Envoy Gateway's
    # are (it has no active checks by default): a check sent before the BGP mesh has programmed
    # the route to another node's pods would mark a server DOWN for a while.
    health_checks: bool = True
    check_interval_ms: int = 1000
    check_rise: int = 1
    check_fall: int = 2
    server_state_file: str | None = None  # keep health states across reloads
    hard_stop_after_ms: int | None = None  # None: old workers keep established connections


def backend_name(service: ServiceKey) -> str:
    namespace, name, port = service
    return f"be_{namespace}_{name}_{port}"


def render_haproxy_config(
    plan: GatewayPlan, endpoints: Mapping[ServiceKey, Sequence[Endpoint]], settings: HAProxySettings
) -> str:
    """The whole configuration file for the plan; endpoints missing from the map mean none."""
    _check_settings(settings)
    lines = [
        f"# gwlab: data plane of Gateway {plan.gateway}; generated, do not edit",
        "global",
        f"    log {_log_target(settings.log_target)}",
        f"    stats socket {settings.stats_socket} mode 600 level admin expose-fd listeners",
        "    stats timeout 30s",
    ]
    if settings.server_state_file:
        lines.append(f"    server-state-file {settings.server_state_file}")
    if settings.hard_stop_after_ms is not None:
        lines.append(f"    hard-stop-after {settings.hard_stop_after_ms}ms")
    lines += [
        "",
        "defaults",
        "    mode tcp",
        "    option splice-auto",  # bytes pass through the kernel (splice), never copied to user space
        "    log global",
        "    balance roundrobin",
        f"    timeout connect {settings.connect_timeout_ms}ms",
        f"    timeout client {settings.client_timeout_ms}ms",
        f"    timeout server {settings.server_timeout_ms}ms",
    ]
    if settings.health_checks:
        lines += [f"    timeout check {settings.check_interval_ms}ms",
                  f"    default-server check inter {settings.check_interval_ms}ms"
                  f" rise {settings.check_rise} fall {settings.check_fall}"]
    if settings.server_state_file:
        lines.append("    load-server-state-from-file global")
    for port in plan.ports:
        lines += ["", *_frontend(port, settings)]
    for service in plan.services():
        lines += ["", f"backend {backend_name(service)}"]
        for ip, target_port in sorted(set(endpoints.get(service, ())), key=_endpoint_order):
            lines.append(f"    server {_server_name(ip, target_port)} {_address(ip, target_port)}")
    return "\n".join(lines) + "\n"


def _frontend(port: PortPlan, settings: HAProxySettings) -> list[str]:
    out = [
        f"frontend fe_{port.port}",
        f"    bind {_address(settings.bind_address, port.port)}",
        f'    log-format "{LOG_FORMAT}"',
        f"    tcp-request inspect-delay {settings.inspect_delay_ms}ms",
        "    acl has_sni req.ssl_sni -m found",
        "    acl listener_set var(sess.listener) -m found",
        "    acl rule_set var(sess.rule) -m found",
        "    acl backend_set var(sess.backend) -m found",
    ]
    rules = [
        # Waits for a whole ClientHello (or the inspect delay) before anything else is decided.
        "    tcp-request content set-var(sess.verdict) str(not-tls) if !{ req.ssl_hello_type 1 }",
        "    tcp-request content reject if !{ req.ssl_hello_type 1 }",
        "    tcp-request content set-var(sess.sni) req.ssl_sni,lower if has_sni",
    ]
    # The listener owning a connection is the one with the most specific matching hostname.
    for lst in port.listeners:
        cond = "" if lst.hostname is None else f" {_sni_acl(lst.hostname)}"
        rules.append(f"    tcp-request content set-var(sess.listener) str({lst.name}) if !listener_set{cond}")
    rules += [
        "    tcp-request content set-var(sess.verdict) str(no-sni) if !listener_set !has_sni",
        "    tcp-request content set-var(sess.verdict) str(unknown-sni) if !listener_set has_sni",
        "    tcp-request content reject if !listener_set",
    ]
    for lst in port.listeners:
        if not lst.served:
            is_it = f"{{ var(sess.listener) -m str {lst.name} }}"
            rules += [
                f"    tcp-request content set-var(sess.verdict) str(listener-not-served) if {is_it}",
                f"    tcp-request content reject if {is_it}",
            ]
    for i, route in enumerate(port.routes):
        cond = f"{{ var(sess.listener) -m str {route.listener} }}"
        if route.hostname is not None:
            cond += f" {_sni_acl(route.hostname)}"
        rules.append(f"    tcp-request content set-var(sess.rule) str(r{i}) if !rule_set {cond}")
    rules += [
        "    tcp-request content set-var(sess.verdict) str(no-route) if !rule_set",
        "    tcp-request content reject if !rule_set",
    ]
    for i, route in enumerate(port.routes):
        rules += _pick_backend(f"r{i}", route)
    backends = sorted({backend_name((b.namespace, b.name, b.port)) for r in port.routes for b in r.backends})
    rules += [
        "    tcp-request content set-var(sess.verdict) str(no-backend) if !backend_set",
        "    tcp-request content reject if !backend_set",
        "    tcp-request content set-var(sess.verdict) str(routed)",
        "    tcp-request content accept if { req.ssl_hello_type 1 }",
    ]
    out += rules
    out += [f"    use_backend {be} if {{ var(sess.backend) -m str {be} }}" for be in backends]
    return out


def _pick_backend(rule: str, route: SniRoute) -> list[str]:
    """Weighted choice among the route's Services, with one random draw per connection; the share
    of backendRefs that did not resolve is refused, as the spec requires (tlsroute_types.go)."""
    is_rule = f"{{ var(sess.rule) -m str {rule} }}"
    out = [f"    tcp-request content set-var(sess.route) str({route.route}) if {is_rule}"]
    if not route.backends:
        return out
    names = [backend_name((b.namespace, b.name, b.port)) for b in route.backends]
    if len(route.backends) == 1 and route.rejected_weight == 0:
        return out + [f"    tcp-request content set-var(sess.backend) str({names[0]}) if {is_rule}"]
    out.append(f"    tcp-request content set-var(sess.pick) rand({route.total_weight}) if {is_rule}")
    low = 0
    for name, backend in zip(names, route.backends):
        high = low + backend.weight
        window = f"{{ var(sess.pick) -m int ge {low} }} {{ var(sess.pick) -m int lt {high} }}"
        out.append(f"    tcp-request content set-var(sess.backend) str({name}) if {is_rule} {window}")
        low = high
    return out


def _sni_acl(hostname: str) -> str:
    if hostname.startswith("*."):
        # "*.example.com" is a suffix match over one or more labels (gateway_types.go)
        return f"{{ req.ssl_sni -m end -i {hostname[1:]} }}"
    return f"{{ req.ssl_sni -i {hostname} }}"


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _server_name(ip: str, port: int) -> str:
    return f"ep_{ip.replace(':', '-')}_{port}"


def _endpoint_order(ep: Endpoint) -> tuple[int, int, int]:
    ip = ipaddress.ip_address(ep[0])
    return (ip.version, int(ip), ep[1])


def _log_target(target: str) -> str:
    if target in ("stderr", "stdout"):
        return f"{target} format raw daemon"
    if target.startswith("unix:/"):
        return f"{target[len('unix:'):]} daemon"
    raise LabError(
        f"HAProxy log target {target!r} is not supported: use 'stderr' or 'stdout' (and redirect the "
        "stream of the foreground haproxy to a file), or 'unix:/path' for a datagram log socket"
    )


def _check_settings(settings: HAProxySettings) -> None:
    try:
        ipaddress.ip_address(settings.bind_address)
    except ValueError:
        raise LabError(f"HAProxy bind address {settings.bind_address!r} is not an IP address") from None
    if not os.path.isabs(settings.stats_socket) or any(c.isspace() for c in settings.stats_socket):
        raise LabError(f"HAProxy stats socket {settings.stats_socket!r} must be an absolute path without spaces")
    _log_target(settings.log_target)


def haproxy_check(cfg_text: str, haproxy: str = HAPROXY_BIN, directory: str | None = None) -> None:
    """Run `haproxy -c` on the text; raise LabError with HAProxy's own output if it is refused.
    `directory`: where the candidate is written for the check (the lab's own, so that a crash
    leaves it where `down` removes it); the system's temporary directory by default."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", prefix="gwlab-haproxy-", delete=False,
                                     dir=directory) as f:
        f.write(cfg_text)
        path = f.name
    try:
        proc = subprocess.run([haproxy, "-c", "-f", path], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise LabError(f"HAProxy is not installed at {haproxy} (Debian: apt-get install haproxy)") from None
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).replace(path, "<config>").strip()
        raise LabError(f"HAProxy refused the configuration:\n{output}")
