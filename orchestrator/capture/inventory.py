"""What a trace needs to know of a live lab's pod plane, read only: every pod (namespace, name, node,
address, network namespace, node-side veth, role, owner), a Gateway (address, TLS listener port,
proxy pods) and the TLSRoutes attached to it with their backend pods.

Pods come from the netns engine's controllers (what they allocated and saw ready); Gateways,
TLSRoutes and Services are read through the engine's API (`get`), as kubectl would read them.
A route's backend pods are those its backend Service selects (the Service's selector against the
pods' labels, in the Service's namespace), with the Service port's targetPort.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.errors import LabError

if TYPE_CHECKING:
    from orchestrator.lab import Lab


@dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    node: str  # the topology's node name, e.g. calico-worker
    node_label: str  # how the lab names that node elsewhere, e.g. worker1
    ip: str
    netns: str  # gwlab-<lab>.pod-<name>
    veth: str  # the node-side end, cali<11 hex>
    role: str  # "echo" | "gateway"
    owner: str  # "Deployment/default/passthrough-echoserver", "Gateway/default/tls-passthrough-gateway"
    labels: tuple[tuple[str, str], ...]
    ports: tuple[int, ...]
    ready: bool
    log: str  # the container's output (Envoy's access log for a gateway pod)
    secret_mounts: tuple[tuple[str, str], ...]  # mountPath -> Secret name
    env: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


@dataclass(frozen=True)
class Backend:
    """A backendRef of a route: a Service port and the pods behind it."""

    service: str  # namespace/name
    port: int  # the Service port
    target_port: int  # where its pods listen
    pods: tuple[PodInfo, ...]


@dataclass(frozen=True)
class RouteInfo:
    key: str  # namespace/name
    hostnames: tuple[str, ...]
    backends: tuple[Backend, ...]


@dataclass(frozen=True)
class GatewayInfo:
    key: str  # namespace/name
    address: str | None  # from the Gateway's status
    tls_port: int | None  # the TLS listener's port
    tls_hostnames: tuple[str, ...]  # the TLS listeners' hostnames ("" for a listener without one)
    pods: tuple[PodInfo, ...]  # its proxy pods
    routes: tuple[RouteInfo, ...]

    @property
    def backend_pods(self) -> tuple[PodInfo, ...]:
        seen: dict[str, PodInfo] = {}
        for route in self.routes:
            for backend in route.backends:
                for pod in backend.pods:
                    seen.setdefault(pod.key, pod)
        return tuple(seen.values())

    @property
    def backend_ports(self) -> tuple[int, ...]:
        return tuple(sorted({b.target_port for r in self.routes for b in r.backends}))

    def routes_for(self, sni: str) -> tuple[RouteInfo, ...]:
        """The routes whose hostnames cover this SNI (and a listener takes it)."""
        if self.tls_hostnames and not any(h == "" or hostname_matches(h, sni) for h in self.tls_hostnames):
            return ()
        return tuple(r for r in self.routes if not r.hostnames or any(hostname_matches(h, sni) for h in r.hostnames))


@dataclass(frozen=True)
class Inventory:
    lab: str
    pods: tuple[PodInfo, ...]
    gateway: GatewayInfo

    def pod(self, key: str) -> PodInfo:
        return next(p for p in self.pods if key in (p.key, p.name))

    def names(self) -> dict[str, str]:
        """Address -> pod/<name>, for reading captures."""
        return {p.ip: f"pod/{p.name}" for p in self.pods}


def hostname_matches(pattern: str, host: str) -> bool:
    """Gateway API hostname matching: exact, or `*.suffix` for one or more labels before the suffix."""
    pattern, host = pattern.lower(), host.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def pods(lab: Lab) -> tuple[PodInfo, ...]:
    """Every pod of the lab's pod plane, as its controllers allocated it."""
    engine = lab.engine
    found = engine.host_pods()
    if found is None:
        raise LabError(f"lab {lab.topo.name!r} runs on the {engine.name} engine: its pods are not "
                       f"namespaces of this host (traces need the netns engine)")
    nodes = {n.name: (n.bgp_name or n.name) for n in lab.topo.routers}
    out = []
    for pod in found:
        spec = pod.spec
        out.append(PodInfo(spec.namespace, spec.name, spec.node, nodes.get(spec.node, spec.node), spec.ip,
                           pod.netns, pod.veth, spec.role, spec.owner,
                           tuple(sorted(spec.labels.items())), tuple(spec.ports), pod.ready,
                           str(pod.log), tuple(sorted(spec.secret_mounts.items())),
                           tuple(sorted(spec.env.items()))))
    return tuple(out)


def _one(lab: Lab, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    return next((b for b in lab.engine.get(kind, namespace) if b["metadata"]["name"] == name), None)


def _attached(route: dict[str, Any], gw_ns: str, gw_name: str) -> bool:
    ns = route["metadata"].get("namespace", "default")
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        if ref.get("kind", "Gateway") == "Gateway" and ref.get("name") == gw_name \
                and ref.get("namespace", ns) == gw_ns:
            return True
    return False


def _backend(lab: Lab, all_pods: tuple[PodInfo, ...], namespace: str, ref: dict[str, Any]) -> Backend | None:
    if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
        return None
    svc_ns, name, port = ref.get("namespace", namespace), str(ref["name"]), int(ref.get("port") or 0)
    svc = _one(lab, "Service", svc_ns, name)
    if svc is None:
        return Backend(f"{svc_ns}/{name}", port, 0, ())
    spec = svc.get("spec") or {}
    selector = dict(spec.get("selector") or {})
    target = 0
    for sp in spec.get("ports") or []:
        if int(sp.get("port", 0)) == port:
            tp = sp.get("targetPort", port)
            target = int(tp) if isinstance(tp, int) or str(tp).isdigit() else 0
    selected = tuple(p for p in all_pods if selector and p.namespace == svc_ns
                     and all(p.label(k) == v for k, v in selector.items()))
    if not target and selected and selected[0].ports:
        target = selected[0].ports[0]  # a named targetPort: the container's port
    return Backend(f"{svc_ns}/{name}", port, target, selected)


def gateway(lab: Lab, all_pods: tuple[PodInfo, ...], namespace: str, name: str) -> GatewayInfo:
    body = _one(lab, "Gateway", namespace, name)
    if body is None:
        raise LabError(f"lab {lab.topo.name!r} has no Gateway {namespace}/{name} (demo step 3 applies it)")
    addresses = (body.get("status") or {}).get("addresses") or []
    tls = [lst for lst in (body.get("spec") or {}).get("listeners") or [] if lst.get("protocol") == "TLS"]
    routes = []
    for route in lab.engine.get("TLSRoute", None):
        if not _attached(route, namespace, name):
            continue
        rns = route["metadata"].get("namespace", "default")
        backends = [b for rule in (route.get("spec") or {}).get("rules") or []
                    for ref in rule.get("backendRefs") or []
                    if (b := _backend(lab, all_pods, rns, ref)) is not None]
        routes.append(RouteInfo(f"{rns}/{route['metadata']['name']}",
                                tuple((route.get("spec") or {}).get("hostnames") or ()), tuple(backends)))
    owner = f"Gateway/{namespace}/{name}"
    return GatewayInfo(f"{namespace}/{name}", str(addresses[0]["value"]) if addresses else None,
                       int(tls[0]["port"]) if tls else None, tuple(str(t.get("hostname") or "") for t in tls),
                       tuple(p for p in all_pods if p.role == "gateway" and p.owner == owner), tuple(routes))


def inventory(lab: Lab, gateway_ns: str = "default", gateway_name: str = "tls-passthrough-gateway") -> Inventory:
    all_pods = pods(lab)
    return Inventory(lab.topo.name, all_pods, gateway(lab, all_pods, gateway_ns, gateway_name))


def served_certificate(lab: Lab, pod: PodInfo, env_name: str = "TLS_SERVER_CERT") -> tuple[str, bytes] | None:
    """(Secret namespace/name and key, PEM) of the certificate a pod serves: the Secret mounted where
    its TLS_SERVER_CERT points, read through the API. None if the pod names none."""
    path = dict(pod.env).get(env_name)
    if not path:
        return None
    for mount, secret in pod.secret_mounts:
        if path.startswith(mount.rstrip("/") + "/"):
            key = path[len(mount.rstrip("/")) + 1:]
            body = _one(lab, "Secret", pod.namespace, secret)
            data = (body or {}).get("data") or {}
            if key in data:
                return f"{pod.namespace}/{secret} {key}", base64.b64decode(data[key])
    return None
