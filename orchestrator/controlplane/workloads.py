"""The workload controllers' own objects, written through the API as a cluster's controllers write
them: the gateway controller's proxy Deployment and LoadBalancer Service in tigera-gateway (Envoy
Gateway's names and labels; created, repaired and deleted by that bookkeeping, since
ownerReferences cannot cross namespaces), and the Deployment controller's ReplicaSets (one per
pod template, `<deployment>-<pod-template-hash>`, owned by the Deployment; the pods owned by theirs).

The world (orchestrator.k8s.world) stays the one source of what exists: names, labels, ports,
addresses and templates are read from it, never derived a second time here."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.registry import Resource, by_kind
from orchestrator.controlplane.writeback import event, namespace
from orchestrator.k8s.proxy_names import GATEWAY_NAMESPACE, owning_gateway, proxy_labels
from orchestrator.k8s.world import GatewaySpec, PodSpec, World

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
PROXY_GRACE = 360  # Envoy Gateway's proxy terminationGracePeriodSeconds


def _res(api_version: str, kind: str) -> Resource:
    r = by_kind(api_version, kind)
    assert r is not None, f"the API server serves {kind}"
    return r


DEPLOYMENTS, REPLICASETS = _res("apps/v1", "Deployment"), _res("apps/v1", "ReplicaSet")
SERVICES, PODS = _res("v1", "Service"), _res("v1", "Pod")
ENDPOINTS, SLICES = _res("v1", "Endpoints"), _res("discovery.k8s.io/v1", "EndpointSlice")


@dataclass(frozen=True)
class Owned:
    """An object the controllers keep: the next pass repairs it if it is gone."""

    resource: Resource
    namespace: str
    name: str

    def missing(self, objects: Objects) -> bool:
        try:
            objects.get(self.resource, self.namespace, self.name)
        except ApiError:
            return True
        return False


def covers(wanted: Any, current: Any) -> bool:
    """Every field of wanted is in current with the same value (the server's defaults may add more)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(k in current and covers(v, current[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(current, list) and len(wanted) == len(current) and all(
            covers(w, c) for w, c in zip(wanted, current))
    return bool(wanted == current)


def ensure(objects: Objects, r: Resource, body: Obj, status: Obj | None = None) -> tuple[Obj, bool]:
    """Create the object, or update it where it lacks what body says; then its status (an
    observedGeneration there becomes the object's generation). (The object, whether it was created.)"""
    meta = body["metadata"]
    ns, name = meta.get("namespace", ""), meta["name"]
    created = False
    try:
        current = objects.get(r, ns, name)
    except ApiError:
        current = objects.create(r, ns, copy.deepcopy(body), strictness="Ignore").obj
        created = True
    else:
        if not covers({k: v for k, v in body.items() if k != "status"}, current):
            merged = {**copy.deepcopy(current), **{k: copy.deepcopy(v) for k, v in body.items() if k != "metadata"}}
            merged["metadata"] = {**current["metadata"], **copy.deepcopy(meta)}
            current = objects.update(r, ns, name, merged, strictness="Ignore").obj
    if status is not None and "observedGeneration" in status:  # the generation this pass saw
        status = {**status, "observedGeneration": current["metadata"].get("generation", 1)}
    if status is not None and not covers(status, current.get("status") or {}):
        current = objects.update(r, ns, name, {**current, "status": status}, subresource="status").obj
    return current, created


def _owner_ref(kind: str, obj: Obj) -> Obj:
    return {"apiVersion": "apps/v1", "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


# ---- the gateway controller's proxy objects ----------------------------------------------------


def _proxy_template(gw: GatewaySpec, world: World, thash: str | None = None) -> Obj:
    labels = proxy_labels(gw.key.namespace, gw.key.name)
    pod = world.pods.get(gw.pod)
    ports = pod.ports if pod else ()
    svc = world.services.get(gw.service)
    targets = {p.port: p.target_port for p in svc.ports} if svc else {}
    return {"metadata": {"labels": {**labels, **({"pod-template-hash": thash} if thash else {})}},
            "spec": {"terminationGracePeriodSeconds": PROXY_GRACE,
                     "containers": [{"name": "envoy", "image": "gwlab/envoy",
                                     "ports": [{"containerPort": targets.get(p, p), "name": f"tcp-{p}",
                                                "protocol": "TCP"} for p in ports],
                                     "readinessProbe": {"httpGet": {"path": "/ready", "port": 19003}}}]}}


def proxies(objects: Objects, world: World, ready: set[str]) -> list[Owned]:
    """Each Gateway's proxy Deployment and Service, made or repaired; those of Gateways that are gone
    deleted (found by their owning-gateway labels). Returns what was kept."""
    kept: list[Owned] = []
    wanted: set[tuple[str, str]] = set()
    if world.gateways:
        namespace(objects, GATEWAY_NAMESPACE)
    for key, gw in sorted(world.gateways.items()):
        name = gw.service.partition("/")[2]
        labels = proxy_labels(key.namespace, key.name)
        replicas = 1 if gw.pod in world.pods else 0
        up = 1 if gw.pod in ready else 0
        _, made = ensure(objects, DEPLOYMENTS, {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": GATEWAY_NAMESPACE, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": _proxy_template(gw, world)}},
            {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": up, "availableReplicas": up,
             "observedGeneration": 0})
        if made:
            event(objects, GATEWAY_NAMESPACE, "Deployment", name, "CreatedDeployment",
                  f"Created the proxy Deployment of Gateway {key} (Envoy Gateway's infrastructure)",
                  component="envoy-gateway")
        svc = world.services.get(gw.service)
        if svc is not None:
            body: Obj = {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": GATEWAY_NAMESPACE, "labels": labels},
                "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "selector": labels,
                         "sessionAffinity": "None",
                         "ports": [{"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": "TCP"}
                                   for p in svc.ports]}}
            lb = {"loadBalancer": {"ingress": [{"ip": svc.lb_ip, "ipMode": "VIP"}]} if svc.lb_ip else {}}
            try:  # the address kube-proxy's rules already use
                _, made = ensure(objects, SERVICES, {**body, "spec": {**body["spec"], "clusterIP": svc.cluster_ip}}, lb)
            except ApiError:
                _, made = ensure(objects, SERVICES, body, lb)
            if made:
                event(objects, GATEWAY_NAMESPACE, "Service", name, "CreatedService",
                      f"Created the LoadBalancer Service of Gateway {key}'s proxy (externalTrafficPolicy Local)",
                      component="envoy-gateway")
            kept.append(Owned(SERVICES, GATEWAY_NAMESPACE, name))
        kept.append(Owned(DEPLOYMENTS, GATEWAY_NAMESPACE, name))
        wanted.add((GATEWAY_NAMESPACE, name))
    for r in (DEPLOYMENTS, SERVICES):
        for obj in objects.list_of(r, GATEWAY_NAMESPACE)[0]:
            gateway = owning_gateway(obj)
            meta = obj["metadata"]
            if gateway is None or (meta["namespace"], meta["name"]) in wanted:
                continue
            gone = [r] + ([ENDPOINTS, SLICES] if r is SERVICES else [])  # what the endpoints controllers wrote
            for each in gone:
                try:
                    objects.remove(each, meta["namespace"], meta["name"])
                except ApiError:
                    continue
            event(objects, GATEWAY_NAMESPACE, r.kind, meta["name"], f"Deleted{r.kind}",
                  f"Deleted: its Gateway {gateway[0]}/{gateway[1]} is gone", component="envoy-gateway")
    return kept


# ---- the Deployment controller's ReplicaSets ---------------------------------------------------


def _scaled(objects: Objects, deploy: Obj, rs: str, before: int, after: int) -> None:
    if before != after:
        meta = deploy["metadata"]
        event(objects, meta["namespace"], "Deployment", meta["name"], "ScalingReplicaSet",
              f"Scaled {'up' if after > before else 'down'} replica set {rs} from {before} to {after}",
              component="deployment-controller")


def replica_sets(objects: Objects, world: World, ready: set[str]) -> list[Owned]:
    """Each Deployment's ReplicaSet for its current pod template (`<deployment>-<pod-template-hash>`,
    owned by the Deployment), the older ones scaled to 0 and kept as its history, the pods owned by
    theirs; ReplicaSets whose Deployment is gone removed, as the garbage collector would."""
    kept: list[Owned] = []
    pods_of: dict[str, list[PodSpec]] = {}
    for pod in world.pods.values():
        pods_of.setdefault(world.deployment_of(pod), []).append(pod)
    for key, (thash, replicas) in sorted(world.templates.items()):
        namespace, _, name = key.partition("/")
        try:
            deploy = objects.get(DEPLOYMENTS, namespace, name)
        except ApiError:
            continue  # the proxy's Deployment could not be made, or the user's is being deleted
        rs_name = f"{name}-{thash}"
        uid = deploy["metadata"]["uid"]
        spec = deploy.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        labels = {**((template.get("metadata") or {}).get("labels") or {}), "pod-template-hash": thash}
        template.setdefault("metadata", {})["labels"] = labels
        selector = {**((spec.get("selector") or {}).get("matchLabels") or {}), "pod-template-hash": thash}
        mine = [o for o in objects.list_of(REPLICASETS, namespace)[0]
                if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])]
        current = next((o for o in mine if o["metadata"]["name"] == rs_name), None)
        revisions = [int((o["metadata"].get("annotations") or {}).get(REVISION) or 0) for o in mine]
        revision = ((current["metadata"].get("annotations") or {}).get(REVISION) if current else None) or str(
            max(revisions, default=0) + 1)
        before = int((current.get("spec") or {}).get("replicas") or 0) if current else 0
        pods = sorted(pods_of.get(key, []), key=lambda p: p.key)
        up = [p for p in pods if p.key in ready]
        rs, _ = ensure(objects, REPLICASETS, {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": namespace, "labels": labels,
                         "annotations": {REVISION: revision, "deployment.kubernetes.io/desired-replicas": str(replicas),
                                         "deployment.kubernetes.io/max-replicas": str(replicas + (replicas + 3) // 4)},
                         "ownerReferences": [_owner_ref("Deployment", deploy)]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": template}},
            {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": len(up),
             "availableReplicas": len(up), "observedGeneration": 0})
        _scaled(objects, deploy, rs_name, before, replicas)
        kept.append(Owned(REPLICASETS, namespace, rs_name))
        for old in mine:
            old_name = old["metadata"]["name"]
            was = int((old.get("spec") or {}).get("replicas") or 0)
            if old_name != rs_name and (was or (old.get("status") or {}).get("replicas")):
                ensure(objects, REPLICASETS, {**old, "spec": {**(old.get("spec") or {}), "replicas": 0}},
                       {"replicas": 0, "fullyLabeledReplicas": 0, "readyReplicas": 0, "availableReplicas": 0})
                _scaled(objects, deploy, old_name, was, 0)
        _adopt(objects, rs, pods)
    _collect(objects)
    return kept


def _adopt(objects: Objects, rs: Obj, pods: list[PodSpec]) -> None:
    """Each pod owned by its ReplicaSet (the pod-template-hash label is the world's already)."""
    ref = _owner_ref("ReplicaSet", rs)
    for pod in pods:
        try:
            obj = objects.get(PODS, pod.namespace, pod.name)
            if obj["metadata"].get("ownerReferences") == [ref]:
                continue
            obj["metadata"]["ownerReferences"] = [ref]
            objects.update(PODS, pod.namespace, pod.name, obj, strictness="Ignore")
        except ApiError:
            continue  # not written yet, or gone: the next pass
        event(objects, pod.namespace, "ReplicaSet", rs["metadata"]["name"], "SuccessfulCreate",
              f"Created pod: {pod.name}", component="replicaset-controller")


def _collect(objects: Objects) -> None:
    """ReplicaSets whose owning Deployment no longer exists go (the background garbage collector)."""
    alive = {d["metadata"]["uid"] for d in objects.list_of(DEPLOYMENTS, None)[0]}
    for rs in objects.list_of(REPLICASETS, None)[0]:
        owners = [r for r in rs["metadata"].get("ownerReferences") or [] if r.get("kind") == "Deployment"]
        if owners and not any(r.get("uid") in alive for r in owners):
            try:
                objects.remove(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
            except ApiError:
                continue
