"""Envoy Gateway's BackendTrafficPolicy (gateway.envoyproxy.io/v1alpha1), the part gwlab's proxy
honours: `healthCheck.active` (TCP) and `healthCheck.passive` (outlier detection) for the backends
of the Gateways or routes it targets. Without one, as in Envoy Gateway, no health check is set."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orchestrator.k8s.core import _meta
from orchestrator.k8s.reader import FieldReader
from orchestrator.manifests import Document

GROUP = "gateway.envoyproxy.io"
TARGET_KINDS = ("Gateway", "TLSRoute", "TCPRoute")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")


@dataclass(frozen=True)
class TargetRef:
    kind: str  # Gateway | TLSRoute | TCPRoute (group gateway.networking.k8s.io)
    name: str


@dataclass(frozen=True)
class ActiveCheck:
    interval_ms: int = 3000
    timeout_ms: int = 1000
    unhealthy_threshold: int = 3
    healthy_threshold: int = 1


@dataclass(frozen=True)
class PassiveCheck:
    consecutive_gateway_errors: int = 5
    interval_ms: int = 3000
    base_ejection_time_ms: int = 30000
    max_ejection_percent: int = 10


@dataclass(frozen=True)
class BackendTrafficPolicy:
    namespace: str
    name: str
    targets: tuple[TargetRef, ...]
    active: ActiveCheck | None
    passive: PassiveCheck | None

    def targets_object(self, kind: str, namespace: str, name: str) -> bool:
        return namespace == self.namespace and any(t.kind == kind and t.name == name for t in self.targets)


def duration_ms(r: FieldReader, path: str, value: Any, default: int) -> int:
    if value is None:
        return default
    m = _DURATION.match(str(value)) if isinstance(value, str) and value else None
    if m is None or not any(m.groups()):
        r.problem(path, f"{value!r} is not a duration", "write it as Gateway API durations are, e.g. 3s or 500ms")
        return default
    h, mi, s, ms = (int(x or 0) for x in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1000 + ms


def _count(r: FieldReader, path: str, value: Any, default: int, low: int, high: int) -> int:
    n = r.typed(path, value, int, default)
    if isinstance(n, int) and not low <= n <= high:
        r.problem(path, f"{n} is out of range", f"use {low}-{high}")
        return default
    return int(n) if isinstance(n, int) else default


def _targets(r: FieldReader, spec: dict[str, Any]) -> tuple[TargetRef, ...]:
    raw = r.typed("spec.targetRefs", spec.get("targetRefs"), list, [])
    out = []
    for i, ref in enumerate(raw):
        path = f"spec.targetRefs[{i}]"
        t = r.section(path, ref, {"group", "kind", "name"}, {"sectionName"}, {"group", "kind", "name"})
        if t.get("group") not in (None, "gateway.networking.k8s.io"):
            r.problem(f"{path}.group", f"{t.get('group')!r} is not the Gateway API group",
                      "use group: gateway.networking.k8s.io")
        kind = str(t.get("kind", ""))
        if kind and kind not in TARGET_KINDS:
            r.problem(f"{path}.kind", f"{kind!r} cannot be targeted here", f"use one of {', '.join(TARGET_KINDS)}")
        out.append(TargetRef(kind, str(t.get("name", ""))))
    if not out:
        r.problem("spec.targetRefs", "a BackendTrafficPolicy needs a target",
                  "add targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: ...}]")
    return tuple(out)


def parse_backend_traffic_policy(doc: Document, r: FieldReader) -> BackendTrafficPolicy:
    _meta(doc, r, {"spec"})
    spec = r.section("spec", doc.body.get("spec"), {"targetRefs", "healthCheck"},
                     {"loadBalancer", "retry", "timeout", "circuitBreaker", "connection", "tcpKeepalive",
                      "proxyProtocol", "faultInjection", "rateLimit", "dns", "http2", "useClientProtocol",
                      "mergeType", "targetSelectors", "compression", "responseOverride", "telemetry"},
                     {"targetRefs"})
    hc = r.section("spec.healthCheck", spec.get("healthCheck"), {"active", "passive"}, set())
    active = passive = None
    if hc.get("active") is not None:
        a = r.section("spec.healthCheck.active", hc["active"],
                      {"type", "interval", "timeout", "unhealthyThreshold", "healthyThreshold", "tcp"},
                      {"http", "grpc", "initialJitter"}, {"type"})
        if a.get("type") not in (None, "TCP"):
            r.problem("spec.healthCheck.active.type", f"{a.get('type')!r} health checks are not modelled "
                      "(the proxy passes TLS and TCP through)", "use type: TCP")
        p = "spec.healthCheck.active"
        active = ActiveCheck(duration_ms(r, f"{p}.interval", a.get("interval"), 3000),
                             duration_ms(r, f"{p}.timeout", a.get("timeout"), 1000),
                             _count(r, f"{p}.unhealthyThreshold", a.get("unhealthyThreshold"), 3, 1, 1 << 31),
                             _count(r, f"{p}.healthyThreshold", a.get("healthyThreshold"), 1, 1, 1 << 31))
    if hc.get("passive") is not None:
        p = "spec.healthCheck.passive"
        q = r.section(p, hc["passive"], {"consecutiveGatewayErrors", "interval", "baseEjectionTime",
                                         "maxEjectionPercent"},
                      {"splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "consecutive5XxErrors"})
        passive = PassiveCheck(_count(r, f"{p}.consecutiveGatewayErrors", q.get("consecutiveGatewayErrors"), 5, 0,
                                      1 << 31),
                               duration_ms(r, f"{p}.interval", q.get("interval"), 3000),
                               duration_ms(r, f"{p}.baseEjectionTime", q.get("baseEjectionTime"), 30000),
                               _count(r, f"{p}.maxEjectionPercent", q.get("maxEjectionPercent"), 10, 0, 100))
    return BackendTrafficPolicy(doc.namespace, doc.name, _targets(r, spec), active, passive)
