"""What the controllers derived, written back through the API as a cluster's controllers write it:
Pod objects for the pods the lab runs (with the kubelet's status), the objects' statuses through the
status subresource, Node objects for the topology's nodes, and Events saying why a pod waits."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

from orchestrator.apiserver.crud import Objects, key_of
from orchestrator.apiserver.defaults import now
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.registry import Resource, by_kind
from orchestrator.apiserver.messages import LOG_ANNOTATION
from orchestrator.controlplane import nodelife, written
from orchestrator.engines.netns.records import Container  # the kubelet's record of a pod's container: its status
from orchestrator.k8s import kinds
from orchestrator.k8s.gateway.status import CONTROLLER_NAME
from orchestrator.k8s.world import PodSpec, ServiceSpec
from orchestrator.rundir import RunDir
from orchestrator.topology import Topology

MANAGED = "gwlab.io/managed-by"
PODS = by_kind("v1", "Pod")
NODES = by_kind("v1", "Node")
EVENTS = by_kind("v1", "Event")


def _res(r: Resource | None) -> Resource:
    assert r is not None, "the API server serves every core resource the control plane writes"
    return r


_SERVER_SET = ("resourceVersion", "managedFields", "uid", "creationTimestamp", "generation")


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for what the server sets; compared in place (two copies per object and pass were
    most of a pass's writeback with thousands of Services)."""
    def meta(o: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (o.get("metadata") or {}).items() if k not in _SERVER_SET}
    return ({k: v for k, v in a.items() if k != "metadata"} == {k: v for k, v in b.items() if k != "metadata"}
            and meta(a) == meta(b))


def _put(objects: Objects, r: Resource, obj: dict[str, Any]) -> None:
    """Create or update obj's spec, then its status (the status subresource), when they differ (not
    even read when the last pass wrote the same and nobody changed it since: `written`)."""
    meta = obj["metadata"]
    ns = meta.get("namespace", "")
    key = (key_of(r), ns if r.namespaced else "", meta["name"], "")
    fp = written.fingerprint(obj)
    if written.unchanged(objects.store, key, fp):
        return
    status = obj.pop("status", None)
    try:
        current = objects.get(r, ns, meta["name"])
    except ApiError:
        current = objects.create(r, ns, copy.deepcopy(obj), strictness="Ignore").obj
    else:
        wanted = {**copy.deepcopy(current), **{k: v for k, v in obj.items() if k != "metadata"}}
        wanted["metadata"] = {**current["metadata"], **meta}
        if not _same({k: v for k, v in wanted.items() if k != "status"},
                     {k: v for k, v in current.items() if k != "status"}):
            current = objects.update(r, ns, meta["name"], wanted, strictness="Ignore").obj
    if status is not None and current.get("status") != status:
        current = objects.update(r, ns, meta["name"], {**current, "status": status}, subresource="status").obj
    written.note(objects.store, key, fp, current)


def _id(name: str, what: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{what}.{name}.gwlab"))


def nodes(objects: Objects, topo: Topology) -> None:
    """A Node per Kubernetes node of the topology, as kind names them, Ready, at its lab address."""
    for node in topo.k8s_nodes:
        roles = {"node-role.kubernetes.io/control-plane": ""} if node.role == "control-plane" else {}
        _put(objects, _res(NODES), {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node.name, "labels": {
                "kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                **node.labels, **roles}},
            "spec": {},
            "status": {
                "addresses": [{"type": "InternalIP", "address": str(node.address.ip)},
                              {"type": "Hostname", "address": node.name}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kubelet is posting ready status", "lastHeartbeatTime": now(),
                                "lastTransitionTime": now()}],
                "nodeInfo": {"machineID": _id(node.name, "machine"), "systemUUID": _id(node.name, "system"),
                             "bootID": _id(node.name, "boot"), "kubeletVersion": "v1.37.1", "osImage": "gwlab netns node",
                             "kernelVersion": "", "containerRuntimeVersion": "gwlab://netns",
                             "operatingSystem": "linux", "architecture": "amd64", "kubeProxyVersion": ""}}})


def _pod(spec: PodSpec, topo: Topology, files: RunDir, ready: bool, waiting: str, started: str,
         container: Container | None = None, old: dict[str, Any] | None = None) -> dict[str, Any]:
    name = "envoy" if spec.role == "gateway" else "echoserver"
    node_ip = str(topo.node(spec.node).address.ip)
    cond = "True" if ready else "False"
    c = container or Container()
    backing_off = bool(c.next_start)
    if waiting:
        state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
    elif backing_off:
        state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
            f"back-off {c.delay:.0f}s restarting failed container={name} pod={spec.name}_{spec.namespace}")}}
    else:
        state = {"running": {"startedAt": c.started_at or started}}
    was = {x.get("type"): x for x in ((old or {}).get("status") or {}).get("conditions") or []}
    stamp = now()

    def condition(kind: str, status: str) -> dict[str, Any]:
        # its lastTransitionTime moves only when its status does
        before = was.get(kind) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        return {"type": kind, "status": status, "lastTransitionTime": since or (started if not before else stamp)}
    conditions = [condition(t, s) for t, s in (
        ("PodReadyToStartContainers", "False" if waiting else "True"), ("Initialized", "True"),
        ("Ready", cond), ("ContainersReady", cond), ("PodScheduled", "True"))]
    if not ready:
        for cd in conditions[2:4]:
            cd["reason"] = "ContainersNotReady"
            cd["message"] = f"containers with unready status: [{name}]"
    status = {"name": name, "image": "gwlab/" + name, "imageID": "", "ready": ready,
              "restartCount": c.restart_count, "started": not waiting and not backing_off, "state": state,
              "lastState": {"terminated": c.last.to_api()} if c.last else {}}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": dict(spec.labels),
                     "annotations": {LOG_ANNOTATION: str(files.pod(spec.key).log), MANAGED: spec.owner}},
        "spec": {"nodeName": spec.node, "restartPolicy": "Always",
                 "containers": [{"name": name, "image": "gwlab/" + name,
                                 "ports": [{"containerPort": p, "protocol": "TCP"} for p in spec.ports],
                                 "env": [{"name": k, "value": v} for k, v in sorted(spec.env.items())]}]},
        "status": {"phase": "Pending" if waiting else "Running", "conditions": conditions, "hostIP": node_ip,
                   "hostIPs": [{"ip": node_ip}], "podIP": spec.ip, "podIPs": [{"ip": spec.ip}],
                   "startTime": started, "qosClass": "BestEffort", "containerStatuses": [status]},
    }


def pods(objects: Objects, topo: Topology, files: RunDir, specs: list[PodSpec], ready: set[str],
         waiting: dict[str, str], containers: dict[str, Container] | None = None,
         unready_nodes: frozenset[str] = frozenset()) -> None:
    """Pod objects for what runs (or waits), the stale ones removed; `containers`: the kubelet's
    record of each pod's container (restarts, last termination, back-off). A pod on a NotReady node
    (`unready_nodes`) keeps its kubelet's last report, Ready set False as the node lifecycle
    controller marks it (its kubelet cannot report)."""
    r = _res(PODS)
    wanted = {s.key: s for s in specs}
    for obj in objects.list_of(r, None)[0]:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        if MANAGED in (meta.get("annotations") or {}) and key not in wanted:
            try:
                objects.remove(r, meta["namespace"], meta["name"])
            except ApiError:
                pass
    # Only the gateway's proxy namespace is the controllers' to make: a user's namespace that is gone was
    # deleted (a pass that began before the deletion must not bring it back).
    for ns in sorted({s.namespace for s in specs if s.role == "gateway"}):
        namespace(objects, ns)
    for key, spec in sorted(wanted.items()):
        try:
            current: dict[str, Any] | None = objects.get(r, spec.namespace, spec.name)
            started = current["metadata"]["creationTimestamp"] if current else now()
        except ApiError:
            current, started = None, now()
        try:
            body = _pod(spec, topo, files, key in ready, waiting.get(key, ""), started, (containers or {}).get(key),
                        current)
            if spec.node in unready_nodes and current and current.get("status"):
                body["status"] = nodelife.mark_pod_not_ready(current["status"], now())
            _put(objects, r, body)
        except ApiError:
            continue  # its namespace is going away: the next pass removes the pod
        if key in waiting:
            event(objects, spec.namespace, "Pod", spec.name, "FailedMount", waiting[key], "Warning", "kubelet")
        elif key not in ready and (why := bad_certificate(objects, spec)):
            event(objects, spec.namespace, "Pod", spec.name, "Unhealthy", why, "Warning", "kubelet")


def namespace(objects: Objects, name: str) -> None:
    """The namespace made if it does not exist (tigera-gateway, which the operator makes on a cluster)."""
    r = _res(by_kind("v1", "Namespace"))
    try:
        objects.get(r, "", name)
    except ApiError:
        objects.create(r, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def bad_certificate(objects: Objects, spec: PodSpec) -> str:
    """Why a pod that mounts a TLS Secret cannot serve: its certificate or key does not parse (the
    API server stores such a Secret, as kube-apiserver does; the pod is where it fails)."""
    import base64
    import binascii

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    secrets = by_kind("v1", "Secret")
    for name in sorted(set(spec.secret_mounts.values())):
        try:
            data = objects.get(_res(secrets), spec.namespace, name).get("data") or {}
            x509.load_pem_x509_certificate(base64.b64decode(data.get("tls.crt", "")))
            if "tls.key" in data:
                load_pem_private_key(base64.b64decode(data["tls.key"]), None)
        except ApiError:
            continue
        except (ValueError, TypeError, binascii.Error) as exc:
            return (f"Readiness probe failed: the server cannot load its certificate: Secret {name}'s tls.crt or "
                    f"tls.key does not parse ({str(exc).splitlines()[0][:120]}); replace the Secret")
    return ""


def event(objects: Objects, namespace: str, kind: str, name: str, reason: str, message: str,
          kind_of_event: str = "Normal", component: str = "gwlab-controllers", again: bool = False) -> None:
    """One Event per (object, reason), its count raised when it happens again (as the recorder does);
    a repeated message is one more occurrence only when `again` says it happened anew (a restart, a
    node NotReady twice), not when a pass restates it."""
    r = _res(EVENTS)
    ev_name = f"{name}.{reason.lower()}"
    stamp = now()
    try:
        old = objects.get(r, namespace, ev_name)
    except ApiError:
        old = None
    if old is not None and old.get("message") == message and not again:
        return
    body = {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": ev_name, "namespace": namespace},
            "involvedObject": {"kind": kind, "namespace": namespace, "name": name,
                               "apiVersion": "v1" if kind == "Pod" else ""},
            "reason": reason, "message": message, "type": kind_of_event, "source": {"component": component},
            "firstTimestamp": old.get("firstTimestamp", stamp) if old else stamp, "lastTimestamp": stamp,
            "count": int(old.get("count", 0)) + 1 if old else 1, "reportingComponent": component,
            "eventTime": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    try:
        if old is None:
            objects.create(r, namespace, body, strictness="Ignore")
        else:
            objects.update(r, namespace, ev_name, {**body, "metadata": old["metadata"]}, strictness="Ignore")
    except ApiError:
        pass


def _operator_class(objects: Objects, r: Resource, name: str) -> None:
    """The GatewayClass Calico's operator makes for its GatewayAPI object, as an object of the API."""
    try:
        objects.get(r, "", name)
    except ApiError:
        objects.create(r, "", {"apiVersion": r.api_version, "kind": "GatewayClass", "metadata": {"name": name},
                               "spec": {"controllerName": CONTROLLER_NAME}})


def statuses(objects: Objects, found: dict[str, dict[str, Any]]) -> None:
    """Each "Kind/namespace/name" status the controllers computed, through the status subresource."""
    for key, status in sorted(found.items()):
        kind, namespace, name = key.split("/", 2)
        info = next((k for k in kinds.KINDS if k.kind == kind and k.parser), None)
        r = by_kind(info.api_versions()[0], kind) if info else None
        if r is None:
            continue
        ns = namespace if r.namespaced else ""
        memo, fp = (key_of(r), ns, name, "status"), written.fingerprint(status)
        if written.unchanged(objects.store, memo, fp):
            continue
        try:
            if kind == "GatewayClass":
                _operator_class(objects, r, name)
            current = objects.get(r, ns, name)
            if current.get("status") != status:
                current = objects.update(r, ns, name, {**current, "status": status}, subresource="status").obj
            written.note(objects.store, memo, fp, current)
        except ApiError:
            continue  # deleted since: nothing to report on


def endpoint_lists(svc: ServiceSpec, waiting: frozenset[str] = frozenset()) -> tuple[
        dict[str, str], dict[str, str], list[int]]:
    """(ready ip -> pod, not ready ip -> pod, target ports) of a Service, as the endpoints controllers
    see its selected pods: a pod waiting for its volumes has no sandbox, so no address, and is in neither."""
    ready = {e.ip: e.pod for group in svc.endpoints.values() for e in group}
    unready = {e.ip: e.pod for group in svc.not_ready.values() for e in group
               if e.pod not in waiting and e.ip not in ready}
    ports = sorted({e.port for groups in (svc.endpoints, svc.not_ready) for group in groups.values() for e in group
                    if e.ip in ready or e.ip in unready})
    return ready, unready, ports


def endpoints(objects: Objects, services: list[ServiceSpec], specs: list[PodSpec],
              waiting: frozenset[str] = frozenset()) -> None:
    """Endpoints and an EndpointSlice for each Service of the API, as the endpoints controllers write
    them: the Endpoints' addresses are its ready backends (what kube-proxy's rules send to), the others
    under notReadyAddresses; each slice entry carries its conditions (ready, serving, terminating)."""
    eps, slices = _res(by_kind("v1", "Endpoints")), _res(by_kind("discovery.k8s.io/v1", "EndpointSlice"))
    svc_r = _res(by_kind("v1", "Service"))
    nodes = {s.key: s.node for s in specs}
    for svc in services:
        if objects.store.version(key_of(svc_r), svc.namespace, svc.name) is None:
            continue  # the gateway's own proxy Service: not an object of the API (issue 11 makes it one)
        ready, unready, ports = endpoint_lists(svc, waiting)

        def ref(pod: str) -> dict[str, str]:
            namespace, _, name = pod.partition("/")
            return {"kind": "Pod", "namespace": namespace, "name": name}

        def address(ip: str, pod: str) -> dict[str, Any]:
            return {"ip": ip, "nodeName": nodes.get(pod, ""), "targetRef": ref(pod)}
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = [address(ip, pod) for ip, pod in sorted(ready.items())]
        if unready:
            subset["notReadyAddresses"] = [address(ip, pod) for ip, pod in sorted(unready.items())]
        subsets = [{**subset, "ports": [{"port": p, "protocol": "TCP"} for p in ports]}] if subset else []
        # serving: the pod's Ready condition; ready: serving and not terminating (a pod leaving is drained
        # and stopped within one pass here, before its slice is written again: terminating stays false)
        entries = [{"addresses": [ip], "conditions": {"ready": ip in ready, "serving": ip in ready, "terminating": False},
                    "nodeName": nodes.get(pod, ""), "targetRef": ref(pod)}
                   for ip, pod in sorted({**ready, **unready}.items())]
        meta = {"name": svc.name, "namespace": svc.namespace}
        try:
            _put(objects, eps, {"apiVersion": "v1", "kind": "Endpoints", "metadata": dict(meta), "subsets": subsets})
            _put(objects, slices, {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {**meta, "labels": {"kubernetes.io/service-name": svc.name,
                                                "endpointslice.kubernetes.io/managed-by": "gwlab-controllers"}},
                "endpoints": entries, "ports": [{"port": p, "protocol": "TCP"} for p in ports]})
        except ApiError:
            continue  # its namespace is going away
