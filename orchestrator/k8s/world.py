"""What the cluster's controllers make of the applied objects, computed without touching anything:
the Deployments' pods (placed on nodes, addressed from the nodes' IPAM blocks), the Services'
ClusterIPs and LoadBalancer IPs, their endpoints, and each Gateway's proxy pod, Service and plan.

Allocations (pod names and addresses, service IPs) are kept between runs so a lab reads the same
after every reconcile; only what changed moves.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from orchestrator.calico.models import IPPool
from orchestrator.envoy.ir import container_port
from orchestrator.errors import LabError
from orchestrator.k8s.core import Deployment, GatewayAPI, Secret, Service, ServicePort
from orchestrator.k8s.gateway.reconcile import ReconcileResult, reconcile
from orchestrator.k8s.gateway.plan import GatewayPlan
from orchestrator.k8s.gateway.status import CONTROLLER_NAME, ObjKey, ServiceInfo
from orchestrator.k8s.policy import BackendTrafficPolicy
from orchestrator.k8s.proxy_names import GATEWAY_NAMESPACE, proxy_labels, proxy_name
from orchestrator.k8s.gateway.types import Gateway, GatewayClass, ObjectMeta, ReferenceGrant, TCPRoute, TLSRoute
from orchestrator.topology import Topology

GATEWAY_CLASS = "tigera-gateway-class"
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names


def safe_hash(text: str, length: int) -> str:
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    out = ""
    for _ in range(length):
        digest, i = divmod(digest, len(NAME_ALPHABET))
        out += NAME_ALPHABET[i]
    return out


def random_suffix() -> str:
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))


@dataclass(frozen=True)
class PodSpec:
    namespace: str
    name: str
    owner: str  # "Deployment/default/passthrough-echoserver" or "Gateway/default/tls-passthrough-gateway"
    template_hash: str
    node: str
    ip: str
    labels: dict[str, str]
    role: str  # "echo" | "gateway"
    ports: tuple[int, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    secret_mounts: dict[str, str] = field(default_factory=dict)  # mountPath -> secret name

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    pod: str
    node: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    namespace: str
    name: str
    type: str
    cluster_ip: str
    lb_ip: str
    ports: tuple[ServicePort, ...]
    endpoints: dict[int, tuple[Endpoint, ...]]  # service port -> ready endpoints
    external_traffic_policy: str = "Cluster"
    # service port -> the selected pods that are not ready: listed by the Endpoints' notReadyAddresses and
    # the EndpointSlice's ready: false, never by kube-proxy's rules or Envoy's EDS
    not_ready: dict[int, tuple[Endpoint, ...]] = field(default_factory=dict)

    @property
    def local(self) -> bool:
        """externalTrafficPolicy Local on a LoadBalancer: its address goes to local endpoints only."""
        return self.type == "LoadBalancer" and self.external_traffic_policy == "Local"

    def local_nodes(self) -> list[str]:
        """Nodes with a ready endpoint of the Service (Calico advertises its /32 from them)."""
        return sorted({e.node for eps in self.endpoints.values() for e in eps if e.node})

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class GatewaySpec:
    key: ObjKey
    pod: str  # "namespace/name" of its proxy pod
    service: str  # "namespace/name" of its LoadBalancer Service
    plan: GatewayPlan | None
    listener_order: tuple[str, ...] = ()  # the Gateway's listener names in spec order


@dataclass
class Allocations:
    """What earlier reconciles decided and must not move without a reason."""

    pods: list[dict[str, Any]] = field(default_factory=list)
    cluster_ips: dict[str, str] = field(default_factory=dict)
    lb_ips: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Kind/ns/name" -> status
    ready: list[str] = field(default_factory=list)  # pods ("ns/name") that answered their readiness check
    # node -> LoadBalancer addresses its BIRD advertises as /32 (Local Services with an endpoint there)
    local_services: dict[str, list[str]] = field(default_factory=dict)
    # pods whose objects were deleted (`kubectl delete pod`): no longer their owners', drained and stopped
    # by the next pass while their owners' replacements, under new names, start
    deleted: list[dict[str, Any]] = field(default_factory=list)

    def pod_specs(self) -> list[PodSpec]:
        return self._specs(self.pods)

    def deleted_specs(self) -> list[PodSpec]:
        return self._specs(self.deleted)

    @staticmethod
    def _specs(raw: list[dict[str, Any]]) -> list[PodSpec]:
        return [PodSpec(**{**p, "ports": tuple(p.get("ports", ())), "labels": dict(p.get("labels", {}))})
                for p in raw]


@dataclass(frozen=True)
class Objects:
    deployments: list[Deployment]
    services: list[Service]
    secrets: list[Secret]
    gateway_api: list[GatewayAPI]
    gateway_classes: list[GatewayClass]
    gateways: list[Gateway]
    routes: list[TLSRoute]
    grants: list[ReferenceGrant]
    lb_pools: list[IPPool]
    policies: list[BackendTrafficPolicy] = field(default_factory=list)
    tcp_routes: list[TCPRoute] = field(default_factory=list)


@dataclass
class World:
    pods: dict[str, PodSpec]
    services: dict[str, ServiceSpec]
    gateways: dict[ObjKey, GatewaySpec]
    result: ReconcileResult | None
    secrets: dict[str, Secret]
    policies: list[BackendTrafficPolicy] = field(default_factory=list)
    # "ns/name" of every Deployment, the user's and the gateway proxies': (pod-template-hash, replicas)
    templates: dict[str, tuple[str, int]] = field(default_factory=dict)

    def pod(self, key: str) -> PodSpec:
        return self.pods[key]

    def deployment_of(self, pod: PodSpec) -> str:
        """ "ns/name" of the Deployment a pod belongs to (a gateway proxy's is in tigera-gateway)."""
        kind, _, owner = pod.owner.partition("/")
        if kind == "Gateway":
            namespace, _, name = owner.partition("/")
            return f"{GATEWAY_NAMESPACE}/{proxy_name(namespace, name)}"
        return owner

    def local_services(self) -> dict[str, list[str]]:
        """node -> the LoadBalancer addresses of Local Services with a ready endpoint on it."""
        out: dict[str, list[str]] = {}
        for svc in self.services.values():
            if svc.local and svc.lb_ip:
                for node in svc.local_nodes():
                    out.setdefault(node, []).append(svc.lb_ip)
        return {n: sorted(a) for n, a in sorted(out.items())}


def template_hash(dep: Deployment) -> str:
    import json

    return safe_hash(json.dumps(dep.template, sort_keys=True), 10)


def _schedulable(topo: Topology) -> list[str]:
    # kind taints its control plane NoSchedule: workloads land on the workers when there are any.
    workers = [n.name for n in topo.k8s_nodes if n.role == "worker"]
    return workers or [n.name for n in topo.k8s_nodes]


def _place(topo: Topology, pods: list[PodSpec], owner: str = "") -> str:
    """The node for a new pod: the one with the fewest pods of the same owner, then the fewest pods,
    as kube-scheduler's default spreading scores replicas of one workload apart."""
    load = {n: 0 for n in _schedulable(topo)}
    siblings = dict(load)
    for p in pods:
        if p.node in load:
            load[p.node] += 1
            siblings[p.node] += p.owner == owner
    return min(load, key=lambda n: (siblings[n], load[n], list(load).index(n)))


def _pod_ip(node: str, blocks: dict[str, IPv4Network], pods: list[PodSpec]) -> str:
    taken = {IPv4Address(p.ip) for p in pods}
    block = blocks[node]
    for addr in list(block)[1:]:  # the block's first address stays free, as the node's tunnel address would
        if addr not in taken:
            return str(addr)
    raise LabError(f"the IPAM block {block} of {node} is full: scale down or use smaller blocks")


def _deployment_pods(topo: Topology, objs: Objects, blocks: dict[str, IPv4Network],
                     previous: list[PodSpec], gone: list[PodSpec]) -> list[PodSpec]:
    """`gone`: pods deleted and still terminating: their names and addresses are not given out again."""
    pods: list[PodSpec] = []
    for dep in sorted(objs.deployments, key=lambda d: (d.namespace, d.name)):
        owner = f"Deployment/{dep.namespace}/{dep.name}"
        thash = template_hash(dep)
        kept = [p for p in previous if p.owner == owner and p.template_hash == thash][:dep.replicas]
        pods += kept
        container = dep.containers[0]
        mounts = {m.mount_path: dep.secret_volumes[m.name] for m in container.mounts}
        for _ in range(dep.replicas - len(kept)):
            while True:
                name = f"{dep.name}-{thash}-{random_suffix()}"
                if all(p.name != name for p in pods + previous + gone):
                    break
            node = _place(topo, pods + [p for p in previous if p.owner != owner], owner)
            ip = _pod_ip(node, blocks, pods + [p for p in previous if p.owner != owner] + gone)
            env: dict[str, str] = {}
            for e in container.env:
                if e.field_path == "metadata.name":
                    env[e.name] = name
                elif e.field_path == "metadata.namespace":
                    env[e.name] = dep.namespace
                elif e.field_path == "status.podIP":
                    env[e.name] = ip
                elif e.field_path == "spec.nodeName":
                    env[e.name] = node
                else:
                    env[e.name] = e.value or ""
            pods.append(PodSpec(dep.namespace, name, owner, thash, node, ip,
                                {**dep.pod_labels, "pod-template-hash": thash}, "echo",
                                container.ports, env, mounts))
    return pods


def _ours(objs: Objects) -> list[GatewayClass]:
    classes = list(objs.gateway_classes)
    if any(g.name == "tigera-secure" for g in objs.gateway_api) and all(
            c.metadata.name != GATEWAY_CLASS for c in classes):
        classes.append(GatewayClass("gateway.networking.k8s.io/v1", ObjectMeta(GATEWAY_CLASS, ""),
                                    CONTROLLER_NAME))
    return classes


def compute(topo: Topology, objs: Objects, blocks: dict[str, IPv4Network], alloc: Allocations,
            service_cidr: IPv4Network, now: str) -> World:
    """The desired world; `alloc` is updated with what was allocated now."""
    previous = alloc.pod_specs()
    classes = _ours(objs)
    ours = {c.metadata.name for c in classes if c.controller_name == CONTROLLER_NAME}
    terminating = alloc.deleted_specs()
    pods = _deployment_pods(topo, objs, blocks, previous, terminating)

    services: list[Service] = list(objs.services)
    gateway_specs: dict[ObjKey, GatewaySpec] = {}
    for gw in sorted(objs.gateways, key=lambda g: (g.metadata.namespace, g.metadata.name)):
        if gw.gateway_class_name not in ours:
            continue
        key = ObjKey(gw.metadata.namespace, gw.metadata.name)
        # Envoy Gateway's proxy: Deployment and Service envoy-<ns>-<gateway>-<hash>, its pods
        # <deployment>-<pod-template-hash>-<5 chars> (the ReplicaSet's name, then the pod's suffix).
        svc_name = proxy_name(key.namespace, key.name)
        owner = f"Gateway/{key.namespace}/{key.name}"
        labels = proxy_labels(key.namespace, key.name)
        thash = safe_hash(owner, 10)
        ports = tuple(sorted({lst.port for lst in gw.listeners}))
        kept = [p for p in previous if p.owner == owner]
        if kept:
            pod = PodSpec(**{**asdict(kept[0]), "ports": ports,
                             "labels": {**labels, "pod-template-hash": kept[0].template_hash}})
        else:
            # Every pod placed so far in this pass, and every pod still running from earlier ones
            # (another Gateway's proxy included): none may share this pod's address.
            others = pods + [p for p in previous if p.owner != owner and p.key not in {q.key for q in pods}] + terminating
            node = _place(topo, others)
            pod = PodSpec(GATEWAY_NAMESPACE, f"{svc_name}-{thash}-{random_suffix()}", owner, thash, node,
                          _pod_ip(node, blocks, others), {**labels, "pod-template-hash": thash}, "gateway", ports)
        pods.append(pod)
        # Envoy Gateway's Service: externalTrafficPolicy Local; a port below 1024 reaches the
        # proxy at port + 10000, where the unprivileged Envoy binds it.
        services.append(Service(GATEWAY_NAMESPACE, svc_name, labels, "LoadBalancer",
                                tuple(ServicePort(p, container_port(p), "TCP", f"tcp-{p}") for p in ports),
                                labels, "", "Local"))
        gateway_specs[key] = GatewaySpec(key, pod.key, f"{GATEWAY_NAMESPACE}/{svc_name}", None,
                                         tuple(lst.name for lst in gw.listeners))

    by_key = {p.key: p for p in pods}
    ready = set(alloc.ready) & set(by_key)
    specs: dict[str, ServiceSpec] = {}
    cluster_ips = _Free(service_cidr.hosts(), alloc.cluster_ips, 10)
    lb_ips = _Free(_lb_addresses(objs.lb_pools), alloc.lb_ips)
    selected: dict[tuple[str, tuple[tuple[str, str], ...]], list[PodSpec]] = {}  # many Services, few selectors
    # (selector, target port) -> its (ready, not ready) endpoints, shared by the Services that have both
    found: dict[tuple[tuple[str, tuple[tuple[str, str], ...]], int], tuple[tuple[Endpoint, ...], tuple[Endpoint, ...]]] = {}
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        skey = f"{svc.namespace}/{svc.name}"
        cluster_ip = svc.cluster_ip or alloc.cluster_ips.get(skey) or cluster_ips.take(f"the service range {service_cidr} is full")
        alloc.cluster_ips[skey] = cluster_ip
        lb_ip = ""
        if svc.type == "LoadBalancer":
            try:
                lb_ip = alloc.lb_ips.get(skey) or lb_ips.take(_pools_full(objs.lb_pools))
            except LabError:
                lb_ip = ""  # <pending>, as on a cluster whose LoadBalancer pools are full or absent
            if lb_ip:
                alloc.lb_ips[skey] = lb_ip
        endpoints: dict[int, tuple[Endpoint, ...]] = {}
        not_ready: dict[int, tuple[Endpoint, ...]] = {}
        sel = (svc.namespace, tuple(sorted(svc.selector.items())))
        if sel not in selected:
            selected[sel] = [p for p in pods if svc.selector and p.namespace == svc.namespace
                             and all(p.labels.get(k) == v for k, v in svc.selector.items())]
        members = selected[sel]
        for sp in svc.ports:
            target = sp.target_port if isinstance(sp.target_port, int) else 0
            if (sel, target) not in found:
                found[(sel, target)] = (
                    tuple(Endpoint(p.ip, target, p.key, p.node) for p in members if p.key in ready and target),
                    tuple(Endpoint(p.ip, target, p.key, p.node) for p in members if p.key not in ready and target))
            endpoints[sp.port], not_ready[sp.port] = found[(sel, target)]
        specs[skey] = ServiceSpec(svc.namespace, svc.name, svc.type, cluster_ip, lb_ip, svc.ports, endpoints,
                                  svc.external_traffic_policy, not_ready)
    for gone in set(alloc.cluster_ips) - set(specs):
        alloc.cluster_ips.pop(gone)
    for gone in set(alloc.lb_ips) - set(specs):
        alloc.lb_ips.pop(gone)

    addresses: dict[ObjKey, str | None] = {k: specs[g.service].lb_ip or None for k, g in gateway_specs.items()}
    unready = [k for k, g in gateway_specs.items() if g.pod not in ready]
    result = reconcile(
        gateway_classes=classes, gateways=objs.gateways, routes=[*objs.routes, *objs.tcp_routes],
        reference_grants=objs.grants,
        services=[ServiceInfo(s.namespace, s.name, tuple(p.port for p in s.ports)) for s in objs.services],
        addresses=addresses, now=now, unready=unready,
        secrets=[ObjKey(s.namespace, s.name) for s in objs.secrets])
    for k, g in gateway_specs.items():
        gateway_specs[k] = GatewaySpec(k, g.pod, g.service, result.plans.get(k), g.listener_order)
    alloc.pods = [asdict(p) for p in pods]
    alloc.ready = sorted(ready)
    templates = {f"{d.namespace}/{d.name}": (template_hash(d), d.replicas) for d in objs.deployments}
    templates |= {g.service: (safe_hash(f"Gateway/{k.namespace}/{k.name}", 10), 1) for k, g in gateway_specs.items()}
    return World(by_key, specs, gateway_specs, result, {f"{s.namespace}/{s.name}": s for s in objs.secrets},
                 list(objs.policies), templates)


class _Free:
    """The free addresses of a range in order, each taken once: one walk for a whole pass (a walk
    from the start per Service made 10,000 Services quadratic)."""

    def __init__(self, addresses: Iterator[IPv4Address], taken: dict[str, str], skip: int = 0) -> None:
        self.addresses = itertools.islice(addresses, skip, None)
        self.used = set(taken.values())

    def take(self, full: str) -> str:
        for addr in self.addresses:
            if str(addr) not in self.used:
                self.used.add(str(addr))
                return str(addr)
        raise LabError(full)


def _usable(pools: list[IPPool]) -> list[IPPool]:
    return sorted((p for p in pools if not p.disabled and p.assignment_mode == "Automatic"), key=lambda p: p.cidr)


def _lb_addresses(pools: list[IPPool]) -> Iterator[IPv4Address]:
    """Calico's LoadBalancer IPAM: the enabled LoadBalancer pools' addresses, first free first."""
    for pool in _usable(pools):
        yield from pool.cidr


def _pools_full(pools: list[IPPool]) -> str:
    if not _usable(pools):
        raise LabError("no LoadBalancer IPPool (allowedUses: [LoadBalancer]) is applied: "
                       "apply the workshop's loadbalancer-ip-pool")
    return "the LoadBalancer IPPools are full"
