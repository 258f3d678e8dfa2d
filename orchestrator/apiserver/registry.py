"""The resource types the API server serves: names, scope, subresources, printer columns, schema."""

from __future__ import annotations

from dataclasses import dataclass

GATEWAY = "gateway.networking.k8s.io"
CALICO = "projectcalico.org"
TIGERA = "operator.tigera.io"
ENVOY = "gateway.envoyproxy.io"


@dataclass(frozen=True)
class PrinterColumn:
    """A custom resource's additionalPrinterColumn, as its CRD defines it."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # None: a built-in, whose table columns are kube-apiserver's own (tables.py); else a CRD's
    columns: tuple[PrinterColumn, ...] | None = None
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

    @property
    def builtin(self) -> bool:
        return self.columns is None

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> tuple[str, str]:
        return self.group, self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _cond(kind: str) -> str:
    return f'.status.conditions[?(@.type=="{kind}")].status'


_ALL = ("all",)
_GWAPI = ("gateway-api",)
_CREATED_AT = (PrinterColumn("Created At", "date", ".metadata.creationTimestamp"),)

RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
             subresources=("status", "finalize")),
    Resource("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",)),
    Resource("", "v1", "Pod", "pods", short_names=("po",), categories=_ALL,
             subresources=("status", "log", "exec", "portforward")),
    Resource("", "v1", "Service", "services", short_names=("svc",), categories=_ALL, subresources=("status",)),
    Resource("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    Resource("", "v1", "Secret", "secrets"),
    Resource("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    Resource("", "v1", "Event", "events", short_names=("ev",)),
    Resource("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=_ALL,
             subresources=("status", "scale")),
    Resource("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=_ALL,
             subresources=("status", "scale")),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    Resource("coordination.k8s.io", "v1", "Lease", "leases"),
    Resource("events.k8s.io", "v1", "Event", "events", short_names=("ev",)),
    Resource(GATEWAY, "v1", "GatewayClass", "gatewayclasses", namespaced=False, short_names=("gc",),
             categories=_GWAPI, subresources=("status",),
             columns=(PrinterColumn("Controller", "string", ".spec.controllerName"),
                      PrinterColumn("Accepted", "string", _cond("Accepted")), AGE,
                      PrinterColumn("Description", "string", ".spec.description", priority=1))),
    Resource(GATEWAY, "v1", "Gateway", "gateways", short_names=("gtw",), categories=_GWAPI,
             subresources=("status",),
             columns=(PrinterColumn("Class", "string", ".spec.gatewayClassName"),
                      PrinterColumn("Address", "string", ".status.addresses[*].value"),
                      PrinterColumn("Programmed", "string", _cond("Programmed")), AGE)),
    Resource(GATEWAY, "v1alpha2", "TLSRoute", "tlsroutes", categories=_GWAPI, subresources=("status",),
             columns=(AGE,)),
    Resource(GATEWAY, "v1alpha2", "TCPRoute", "tcproutes", categories=_GWAPI, subresources=("status",),
             columns=(AGE,)),
    Resource(GATEWAY, "v1beta1", "ReferenceGrant", "referencegrants", short_names=("refgrant",),
             categories=_GWAPI, columns=(AGE,)),
    Resource(CALICO, "v3", "IPPool", "ippools", namespaced=False, columns=_CREATED_AT),
    Resource(CALICO, "v3", "BGPConfiguration", "bgpconfigurations", namespaced=False,
             short_names=("bgpconfig", "bgpconfigs"), columns=_CREATED_AT),
    Resource(CALICO, "v3", "BGPPeer", "bgppeers", namespaced=False, columns=_CREATED_AT),
    Resource(TIGERA, "v1", "GatewayAPI", "gatewayapis", namespaced=False, subresources=("status",),
             columns=_CREATED_AT),
    Resource(ENVOY, "v1alpha1", "BackendTrafficPolicy", "backendtrafficpolicies", short_names=("btp",),
             categories=("envoy-gateway",), subresources=("status",), columns=(AGE,)),
)


def group_versions() -> list[tuple[str, str]]:
    """Every served (group, version), in the order discovery lists them (core first)."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if r.group_version not in seen:
            seen.append(r.group_version)
    return seen


def resources_of(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


def lookup(group: str, version: str, plural: str) -> Resource | None:
    for r in RESOURCES:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


def by_kind(api_version: str, kind: str) -> Resource | None:
    for r in RESOURCES:
        if r.api_version == api_version and r.kind == kind:
            return r
    return None
