"""The netns engine's stand-in for Kubernetes' controllers: after every change to the objects it
computes the desired world (orchestrator.k8s.world) and makes the namespaces match it: pods
created and removed, kube-proxy's rules, gateway proxies started or reloaded; then it writes the
objects' status as a real cluster would report it.

Order matters as on a cluster: backends first, then the gateway proxy (Envoy), whose endpoints
are the ready backends.
"""

from __future__ import annotations

import datetime as dt
import json
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import yaml

from orchestrator import safeyaml
from orchestrator.calico.models import IPPool
from orchestrator.cluster import ClusterPlan, calico_objects
from orchestrator.controlplane import nodelife
from orchestrator.engines.base import SyncReport
from orchestrator.engines.netns import proxy
from orchestrator.engines.netns.host import NodeHost
from orchestrator.engines.netns.kubelet import Kubelet, backing_off, probe_failed
from orchestrator.engines.netns.pods import ENVOY_READY, PodPlane
from orchestrator.timing import phase
from orchestrator.k8s.core import Deployment, GatewayAPI, Secret, Service
from orchestrator.k8s.policy import BackendTrafficPolicy
from orchestrator.k8s.gateway.types import Gateway, GatewayClass, ReferenceGrant, TCPRoute, TLSRoute
from orchestrator.k8s.world import Allocations, Objects, PodSpec, World, compute
from orchestrator.fsutil import atomic_write

READY_WAIT = 15.0
TERMINATION_GRACE = 30.0  # Kubernetes' default terminationGracePeriodSeconds
DEFAULT_SERVICE_CIDR = IPv4Network("10.96.0.0/16")


def objects_of(plan: ClusterPlan) -> Objects:
    objs = [p.obj for p in plan.parsed]

    def of(kind: type) -> list[Any]:
        return [o for o in objs if isinstance(o, kind)]
    return Objects(of(Deployment), of(Service), of(Secret), of(GatewayAPI), of(GatewayClass), of(Gateway),
                   of(TLSRoute), of(ReferenceGrant),
                   [p for p in of(IPPool) if "LoadBalancer" in p.allowed_uses], of(BackendTrafficPolicy), of(TCPRoute))


def service_cidr(kind_config: Path) -> IPv4Network:
    """kind's serviceSubnet, which the containerlab engine's cluster uses too."""
    try:
        raw = safeyaml.load(kind_config.read_text()) or {}
        return IPv4Network(str(raw.get("networking", {}).get("serviceSubnet", DEFAULT_SERVICE_CIDR)))
    except (OSError, ValueError, AttributeError):
        return DEFAULT_SERVICE_CIDR


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Controllers:
    def __init__(self, host: NodeHost) -> None:
        self.host = host
        self.path = host.files.cluster

    def allocations(self) -> Allocations:
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return Allocations()
        known = set(Allocations.__dataclass_fields__)
        return Allocations(**{k: v for k, v in raw.items() if k in known})

    def _save(self, alloc: Allocations) -> None:
        # Its fields are JSON already: no asdict (a deep copy) and no indent (json's C encoder works
        # only without one); with 10,000 Services the two were seconds per pass.
        atomic_write(self.path, json.dumps({f: getattr(alloc, f) for f in Allocations.__dataclass_fields__}))

    def delete_pods(self, keys: set[str]) -> None:
        """Pods whose objects were deleted: their owners no longer count them (the next world makes
        replacements under new names); the next pass drains and stops them as it does a pod scaled away."""
        alloc = self.allocations()
        alloc.deleted += [p for p in alloc.pods if f"{p['namespace']}/{p['name']}" in keys]
        alloc.pods = [p for p in alloc.pods if f"{p['namespace']}/{p['name']}" not in keys]
        self._save(alloc)

    def lab_ranges(self, plan: ClusterPlan, svc_cidr: IPv4Network) -> list[IPv4Network]:
        pools = [p.cidr for p in calico_objects(plan.parsed).pools]
        return sorted({self.host.topo.segment, svc_cidr, *pools})

    def sync(self, plan: ClusterPlan, wait: float = READY_WAIT) -> SyncReport:
        topo = self.host.topo
        svc_cidr = service_cidr(topo.path.parent / topo.kind_config)
        blocks = {node: s.blocks[0] for node, s in plan.speakers.items() if s.blocks}
        objs = objects_of(plan)
        alloc = self.allocations()
        plane = PodPlane(self.host, self.lab_ranges(plan, svc_cidr))
        report = SyncReport()

        previous = {p.key: p for p in alloc.pod_specs() + alloc.deleted_specs()}
        world = compute(topo, objs, blocks, alloc, svc_cidr, now())
        seen = list(alloc.ready)

        def again(before: World) -> World:
            """The world with the pods ready now; the same one when no pod's readiness changed (what
            differs between this pass's computations is only which pods are ready)."""
            nonlocal seen
            if alloc.ready == seen:
                return before
            seen = list(alloc.ready)
            return compute(topo, objs, blocks, alloc, svc_cidr, now())
        self._save(alloc)  # pods about to be made are on record before they exist
        running = plane.existing()
        leaving = sorted((set(running) | set(previous)) - set(world.pods))
        if leaving:
            plane.drain(world, [previous[k] for k in leaving if k in previous])
        for key in leaving:
            plane.remove(key, TERMINATION_GRACE)
            report.removed.append(key)
        alloc.deleted = []
        kubelet = Kubelet(self.host.state, plane)
        kubelet.forget(leaving)
        # A pod whose process died is started again (with the kubelet's back-off) in its namespace.
        for key in kubelet.restart_dead(running, world):
            plane.remove(key)
            del running[key]
        off = backing_off(self.host.state)
        new = [p for p in world.pods.values() if p.key not in running]
        # A pod whose Secret does not exist waits for it (ContainerCreating), as on a cluster.
        waiting = {p.key: plane.missing_secrets(p, world) for p in new if plane.missing_secrets(p, world)}
        new = [p for p in new if p.key not in waiting]
        report.waiting = {k: f"waiting for Secret {', '.join(v)}" for k, v in waiting.items()}
        backends = [p for p in new if p.role == "echo"]
        plane.create(backends, world)
        kubelet.started([p.key for p in backends])
        report.created += [p.key for p in backends]
        # A new proxy starts beside its backends, as pods of two Deployments do: Envoy's start hides
        # under the echo servers' own; their endpoints reach it through EDS once they are ready.
        gateways = [p for p in new if p.role == "gateway"]
        plane.create(gateways, world)
        kubelet.started([p.key for p in gateways])
        report.created += [p.key for p in gateways]
        ready, _ = plane.wait_ready([p for p in world.pods.values() if p.role == "echo" and p.key not in off],
                                    wait if backends or kubelet.restarted else 0.5)
        alloc.ready = sorted(set(ready) | {k for k in alloc.ready if k in world.pods and world.pods[k].role != "echo"})
        # A NotReady node's pods are not ready (the node lifecycle's MarkPodsNotReady): out of the endpoints.
        unready_nodes = nodelife.unready(self.host.files)
        # A pod the readiness prober holds failed (hung) is not ready either, until it answers again.
        failing = probe_failed(self.host.state)
        alloc.ready = [k for k in alloc.ready if world.pods[k].node not in unready_nodes and k not in failing]

        # Endpoints now list the ready backends: the proxies and kube-proxy are written from them.
        world = again(world)
        report.reloaded, refused = plane.sync_gateways(world)
        gw_pods = [p for p in world.pods.values() if p.role == "gateway" and p.key not in off | failing]
        with phase(ENVOY_READY):
            ready_gw, _ = plane.wait_ready(gw_pods, wait if gw_pods else 0)
        alloc.ready = sorted({k for k in alloc.ready if world.pods.get(k) and world.pods[k].role == "echo"}
                             | {k for k in ready_gw if world.pods[k].node not in unready_nodes})
        world = again(world)
        report.kube_proxy = plane.sync_kube_proxy(list(world.services.values()))
        report.not_ready = sorted(set(world.pods) - set(alloc.ready))
        alloc.local_services = world.local_services()
        self._write_statuses(world, objs, alloc, refused)
        self._save(alloc)
        return report

    def _write_statuses(self, world: World, objs: Objects, alloc: Allocations,
                        refused: dict[str, str] | None = None) -> None:
        old = alloc.statuses
        new: dict[str, dict[str, Any]] = {}
        result = world.result
        if result is not None:
            for key, st in result.gateways.items():
                new[f"Gateway/{key.namespace}/{key.name}"] = st.to_dict()
                if str(key) in (refused or {}):
                    new[f"Gateway/{key}"] = proxy.mark_refused(new[f"Gateway/{key}"], (refused or {})[str(key)])
            for key, rt in result.routes.items():
                new[f"TLSRoute/{key.namespace}/{key.name}"] = rt.to_dict()
            for key, rt in result.tcp_routes.items():
                new[f"TCPRoute/{key.namespace}/{key.name}"] = rt.to_dict()
            for key, ct in result.gateway_classes.items():
                new[f"GatewayClass/{key.namespace}/{key.name}"] = ct.to_dict()
        for dep in objs.deployments:
            pods = [p for p in world.pods.values() if p.owner == f"Deployment/{dep.namespace}/{dep.name}"]
            ready = [p for p in pods if p.key in alloc.ready]
            new[f"Deployment/{dep.namespace}/{dep.name}"] = {
                "replicas": len(pods), "readyReplicas": len(ready), "availableReplicas": len(ready),
                "updatedReplicas": len(pods), "observedGeneration": dep.generation}
        for svc in world.services.values():
            status: dict[str, Any] = {"loadBalancer": {}}
            if svc.lb_ip:
                status["loadBalancer"] = {"ingress": [{"ip": svc.lb_ip, "ipMode": "VIP"}]}
            new[f"Service/{svc.namespace}/{svc.name}"] = status
        alloc.statuses = {k: _keep_transition_times(old.get(k), v) for k, v in new.items()}

    def pods(self) -> list[PodSpec]:
        return self.allocations().pod_specs()


def _keep_transition_times(old: Any, new: Any) -> Any:
    """A condition keeps its lastTransitionTime while its status does not change."""
    if old == new:
        return new  # nothing moved (most of 10,000 Services' statuses, compared in C)
    if isinstance(new, dict) and isinstance(old, dict):
        if "type" in new and "lastTransitionTime" in new and old.get("type") == new["type"] \
                and old.get("status") == new.get("status") and "lastTransitionTime" in old:
            return {**new, "lastTransitionTime": old["lastTransitionTime"]}
        return {k: _keep_transition_times(old.get(k), v) for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, list):
        by_type = {o.get("type"): o for o in old if isinstance(o, dict) and "type" in o}
        by_name = {o.get("name"): o for o in old if isinstance(o, dict) and "name" in o}
        out = []
        for i, item in enumerate(new):
            match = None
            if isinstance(item, dict) and "type" in item:
                match = by_type.get(item["type"])
            elif isinstance(item, dict) and "name" in item:
                match = by_name.get(item["name"])
            elif i < len(old):
                match = old[i]
            out.append(_keep_transition_times(match, item))
        return out
    return new
