"""Gateway API objects as typed dataclasses (Gateway API v1.2 as shipped with Calico Enterprise 3.21,
plus the TLSRoute v1alpha3 shape)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

GATEWAY_GROUP = "gateway.networking.k8s.io"
CORE_PROTOCOLS = ("HTTP", "HTTPS", "TLS", "TCP", "UDP")


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    namespace: str  # "" for cluster-scoped kinds
    generation: int = 1
    creation_timestamp: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParametersReference:
    group: str
    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class GatewayClass:
    api_version: str
    metadata: ObjectMeta
    controller_name: str
    parameters_ref: ParametersReference | None = None
    description: str | None = None
    kind: Literal["GatewayClass"] = "GatewayClass"


@dataclass(frozen=True)
class SecretObjectReference:
    name: str
    group: str = ""
    kind: str = "Secret"
    namespace: str | None = None


@dataclass(frozen=True)
class ListenerTLSConfig:
    mode: Literal["Terminate", "Passthrough"] = "Terminate"
    certificate_refs: tuple[SecretObjectReference, ...] = ()
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelSelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: dict[str, str] = field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()


@dataclass(frozen=True)
class RouteGroupKind:
    kind: str
    group: str = GATEWAY_GROUP


@dataclass(frozen=True)
class AllowedRoutes:
    namespaces_from: Literal["All", "Same", "Selector"] = "Same"
    selector: LabelSelector | None = None
    kinds: tuple[RouteGroupKind, ...] = ()


@dataclass(frozen=True)
class Listener:
    name: str
    port: int
    protocol: str
    hostname: str | None = None
    tls: ListenerTLSConfig | None = None
    allowed_routes: AllowedRoutes = field(default_factory=AllowedRoutes)


@dataclass(frozen=True)
class GatewayAddress:
    type: str = "IPAddress"
    value: str | None = None


@dataclass(frozen=True)
class GatewayInfrastructure:
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    parameters_ref: ParametersReference | None = None


@dataclass(frozen=True)
class Gateway:
    api_version: str
    metadata: ObjectMeta
    gateway_class_name: str
    listeners: tuple[Listener, ...]
    addresses: tuple[GatewayAddress, ...] = ()
    infrastructure: GatewayInfrastructure | None = None
    kind: Literal["Gateway"] = "Gateway"

    def listener(self, name: str) -> Listener | None:
        return next((lst for lst in self.listeners if lst.name == name), None)


@dataclass(frozen=True)
class ParentReference:
    name: str
    namespace: str  # defaulted to the route's namespace
    group: str = GATEWAY_GROUP
    kind: str = "Gateway"
    section_name: str | None = None
    port: int | None = None
    namespace_written: bool = False  # status echoes the reference as written

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group, "kind": self.kind, "name": self.name}
        if self.namespace_written:
            out["namespace"] = self.namespace
        if self.section_name is not None:
            out["sectionName"] = self.section_name
        if self.port is not None:
            out["port"] = self.port
        return out


@dataclass(frozen=True)
class BackendRef:
    name: str
    namespace: str  # defaulted to the route's namespace
    group: str = ""
    kind: str = "Service"
    port: int | None = None
    weight: int = 1


@dataclass(frozen=True)
class TLSRouteRule:
    backend_refs: tuple[BackendRef, ...]
    name: str | None = None


@dataclass(frozen=True)
class TLSRoute:
    api_version: str
    metadata: ObjectMeta
    parent_refs: tuple[ParentReference, ...]
    hostnames: tuple[str, ...]
    rules: tuple[TLSRouteRule, ...]
    kind: Literal["TLSRoute"] = "TLSRoute"


@dataclass(frozen=True)
class TCPRoute:
    """gateway.networking.k8s.io/v1alpha2 TCPRoute: a TLSRoute without hostnames (its rules hold
    backendRefs only), for TCP listeners."""

    api_version: str
    metadata: ObjectMeta
    parent_refs: tuple[ParentReference, ...]
    rules: tuple[TLSRouteRule, ...]
    hostnames: tuple[str, ...] = ()
    kind: Literal["TCPRoute"] = "TCPRoute"


Route = Union[TLSRoute, TCPRoute]


@dataclass(frozen=True)
class ReferenceGrantFrom:
    group: str
    kind: str
    namespace: str


@dataclass(frozen=True)
class ReferenceGrantTo:
    group: str
    kind: str
    name: str | None = None


@dataclass(frozen=True)
class ReferenceGrant:
    api_version: str
    metadata: ObjectMeta
    from_: tuple[ReferenceGrantFrom, ...]
    to: tuple[ReferenceGrantTo, ...]
    kind: Literal["ReferenceGrant"] = "ReferenceGrant"


GatewayObject = Union[GatewayClass, Gateway, TLSRoute, TCPRoute, ReferenceGrant]
