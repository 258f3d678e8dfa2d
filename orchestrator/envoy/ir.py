"""What one Gateway's proxy must do, in the shape of Envoy Gateway's xDS IR (internal/ir/xds.go),
reduced to what gwlab serves: TLS passthrough by SNI, plain TCP, and HTTP listeners.

A TLSRoute and a TCPRoute are both a `TCPRoute` here, as in Envoy Gateway's IR: a TLSRoute carries
the SNIs it matches, a TCPRoute none. A route's rules are pooled into one destination (one cluster,
`<kind>/<ns>/<name>/rule/-1`); each backendRef is a `DestinationSetting` with its weight, holding the
ready endpoints of that Service port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Envoy Gateway binds a Gateway port below 1024 at port + 10000 inside the proxy (it runs unprivileged).
PRIVILEGED_PORT_SHIFT = 10000
MIN_UNPRIVILEGED_PORT = 1024

RouteKind = Literal["TLSRoute", "TCPRoute"]
Protocol = Literal["TLS", "TCP", "HTTP"]


def container_port(port: int) -> int:
    """The port the proxy binds for a Gateway listener's port (80 -> 10080, 6443 -> 6443)."""
    return port + PRIVILEGED_PORT_SHIFT if port < MIN_UNPRIVILEGED_PORT else port


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    draining: bool = False  # a terminating pod's endpoint: no new connections


@dataclass(frozen=True)
class HealthCheck:
    """Active TCP health checking of a destination (BackendTrafficPolicy healthCheck.active)."""

    interval_ms: int = 3000
    timeout_ms: int = 1000
    unhealthy_threshold: int = 3
    healthy_threshold: int = 1


@dataclass(frozen=True)
class OutlierDetection:
    """Passive health checking (BackendTrafficPolicy healthCheck.passive): hosts that fail to
    connect this many times in a row are ejected for a while."""

    consecutive_gateway_errors: int = 5
    interval_ms: int = 3000
    base_ejection_time_ms: int = 30000
    max_ejection_percent: int = 10


@dataclass(frozen=True)
class BackendTraffic:
    """What a BackendTrafficPolicy may ask of a destination. The default, like Envoy Gateway's,
    is nothing: no active health check, no outlier detection (Envoy's defaults apply)."""

    health_check: HealthCheck | None = None
    outlier_detection: OutlierDetection | None = None


@dataclass(frozen=True)
class DestinationSetting:
    name: str  # "<destination>/backend/<index>", Envoy's locality region
    weight: int
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class Destination:
    name: str  # the cluster
    settings: tuple[DestinationSetting, ...]
    traffic: BackendTraffic = field(default_factory=BackendTraffic)


@dataclass(frozen=True)
class TCPRoute:
    name: str  # "tlsroute/<ns>/<name>" or "tcproute/<ns>/<name>": the filter chain
    kind: RouteKind
    destination: Destination
    # TLSRoute: the SNIs matched (wildcards as `*.example.com`); empty: any ClientHello, even
    # without SNI (a route and a listener without hostnames). TCPRoute: always empty.
    snis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listener:
    name: str  # "<ns>/<gateway>/<listener>"
    protocol: Protocol
    port: int  # the Gateway's port
    routes: tuple[TCPRoute, ...] = ()  # HTTP listeners carry none here (no HTTPRoute yet)
    address: str = "0.0.0.0"

    @property
    def bind_port(self) -> int:
        return container_port(self.port)


@dataclass(frozen=True)
class ProxyIR:
    """One Gateway's proxy: `gateway` is "<ns>/<name>", Envoy Gateway's name of its proxy infra."""

    gateway: str
    listeners: tuple[Listener, ...]
