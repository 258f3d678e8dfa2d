"""`as=Table` responses: kube-apiserver's printer columns for the built-ins, a CRD's
additionalPrinterColumns for the custom resources."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

from orchestrator.apiserver.registry import PrinterColumn, Resource

Obj = dict[str, Any]
Col = tuple[str, str, int]  # name, type, priority
NONE = "<none>"


def human_duration(seconds: int) -> str:
    """k8s.io/apimachinery's duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m" if seconds % 60 == 0 else f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any, now: dt.datetime | None = None) -> str:
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        then = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return "<unknown>"
    return human_duration(int(((now or dt.datetime.now(dt.timezone.utc)) - then).total_seconds()))


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def _condition(obj: Obj, ctype: str) -> Obj | None:
    for c in _get(obj, "status", "conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def selector_text(sel: Any) -> str:
    """A label selector (matchLabels/matchExpressions, or a Service's plain map) as kubectl writes it."""
    if not isinstance(sel, dict):
        return ""
    structured = "matchLabels" in sel or "matchExpressions" in sel
    labels = (sel.get("matchLabels") or {}) if structured else sel
    expressions = (sel.get("matchExpressions") or []) if structured else []
    parts = [f"{k}={v}" for k, v in sorted(labels.items())]
    for e in expressions:
        values = ",".join(e.get("values") or [])
        op = str(e.get("operator", ""))
        parts.append({"In": f"{e['key']} in ({values})", "NotIn": f"{e['key']} notin ({values})",
                      "Exists": e["key"], "DoesNotExist": f"!{e['key']}"}.get(op, e["key"]))
    return ",".join(parts)


def _selector(sel: Any) -> str:
    return selector_text(sel) or NONE


def _containers(o: Obj) -> tuple[str, str]:
    cs = _get(o, "spec", "template", "spec", "containers") or []
    return ",".join(str(c.get("name")) for c in cs), ",".join(str(c.get("image")) for c in cs)


def _pod(o: Obj) -> list[Any]:
    statuses = _get(o, "status", "containerStatuses") or []
    total = len(_get(o, "spec", "containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts: Any = sum(int(s.get("restartCount", 0)) for s in statuses)
    ended = [t for s in statuses if (t := _get(s, "lastState", "terminated", "finishedAt"))]
    if restarts and ended:  # as kubectl's printer: "3 (12s ago)", since the last container ended
        restarts = f"{restarts} ({age(max(ended))} ago)"
    reason = _get(o, "status", "reason") or _get(o, "status", "phase") or "Unknown"
    for s in statuses:
        waiting = _get(s, "state", "waiting", "reason")
        terminated = _get(s, "state", "terminated", "reason")
        if waiting or terminated:
            reason = waiting or terminated
    if _get(o, "metadata", "deletionTimestamp"):
        reason = "Terminating"
    gates = _get(o, "spec", "readinessGates") or []
    return [f"{ready}/{total}", reason, restarts, age(_get(o, "metadata", "creationTimestamp")),
            _get(o, "status", "podIP") or NONE, _get(o, "spec", "nodeName") or NONE,
            _get(o, "status", "nominatedNodeName") or NONE, f"{len(gates)}/{len(gates)}" if gates else NONE]


def _service(o: Obj) -> list[Any]:
    spec = o.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    ingress = [i.get("ip") or i.get("hostname") for i in _get(o, "status", "loadBalancer", "ingress") or []]
    external = ",".join(x for x in ingress if x) or ",".join(spec.get("externalIPs") or [])
    if not external:
        external = "<pending>" if kind == "LoadBalancer" else NONE
    ports = ",".join(f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
                     else f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [kind, spec.get("clusterIP") or NONE, external, ports or NONE,
            age(_get(o, "metadata", "creationTimestamp")), _selector(spec.get("selector"))]


def _deployment(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    names, images = _containers(o)
    return [f"{st.get('readyReplicas', 0)}/{_get(o, 'spec', 'replicas') or 0}", st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), age(_get(o, "metadata", "creationTimestamp")), names, images,
            _selector(_get(o, "spec", "selector"))]


def _replicaset(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    names, images = _containers(o)
    return [_get(o, "spec", "replicas") or 0, st.get("replicas", 0), st.get("readyReplicas", 0),
            age(_get(o, "metadata", "creationTimestamp")), names, images, _selector(_get(o, "spec", "selector"))]


def _node(o: Obj) -> list[Any]:
    ready = _condition(o, "Ready")
    status = "Ready" if ready and ready.get("status") == "True" else ("NotReady" if ready else "Unknown")
    if _get(o, "spec", "unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (_get(o, "metadata", "labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    addresses = _get(o, "status", "addresses") or []
    internal = ",".join(a["address"] for a in addresses if a.get("type") == "InternalIP") or NONE
    external = ",".join(a["address"] for a in addresses if a.get("type") == "ExternalIP") or NONE
    info = _get(o, "status", "nodeInfo") or {}
    return [status, ",".join(roles) or NONE, age(_get(o, "metadata", "creationTimestamp")),
            info.get("kubeletVersion", ""), internal, external, info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def _event(o: Obj) -> list[Any]:
    inv = o.get("involvedObject") or o.get("regarding") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or _get(o, "metadata", "creationTimestamp")
    first = o.get("firstTimestamp") or o.get("eventTime") or _get(o, "metadata", "creationTimestamp")
    return [age(last), o.get("type", ""), o.get("reason", ""), f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
            o.get("message", o.get("note", "")), inv.get("fieldPath", ""),
            _get(o, "source", "component") or o.get("reportingController", ""), age(first), o.get("count", 1),
            _get(o, "metadata", "name")]


def _endpoints(o: Obj) -> list[Any]:
    addrs = []
    for s in o.get("subsets") or []:
        for a in s.get("addresses") or []:
            for p in s.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else str(a.get("ip")))
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [shown or NONE, age(_get(o, "metadata", "creationTimestamp"))]


def _created(o: Obj) -> str:
    return age(_get(o, "metadata", "creationTimestamp"))


_W = 1  # wide
BUILTIN: dict[str, tuple[list[Col], Callable[[Obj], list[Any]]]] = {
    "Pod": ([("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), ("Age", "string", 0),
             ("IP", "string", _W), ("Node", "string", _W), ("Nominated Node", "string", _W),
             ("Readiness Gates", "string", _W)], _pod),
    "Service": ([("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
                 ("Port(s)", "string", 0), ("Age", "string", 0), ("Selector", "string", _W)], _service),
    "Deployment": ([("Ready", "string", 0), ("Up-to-date", "string", 0), ("Available", "string", 0),
                    ("Age", "string", 0), ("Containers", "string", _W), ("Images", "string", _W),
                    ("Selector", "string", _W)], _deployment),
    "ReplicaSet": ([("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
                    ("Age", "string", 0), ("Containers", "string", _W), ("Images", "string", _W),
                    ("Selector", "string", _W)], _replicaset),
    "Node": ([("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0), ("Version", "string", 0),
              ("Internal-IP", "string", _W), ("External-IP", "string", _W), ("OS-Image", "string", _W),
              ("Kernel-Version", "string", _W), ("Container-Runtime", "string", _W)], _node),
    "Event": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
               ("Object", "string", 0), ("Message", "string", 0), ("Subobject", "string", _W),
               ("Source", "string", _W), ("First Seen", "string", _W), ("Count", "string", _W),
               ("Name", "string", _W)], _event),
    "Secret": ([("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
               lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}), _created(o)]),
    "ConfigMap": ([("Data", "string", 0), ("Age", "string", 0)],
                  lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), _created(o)]),
    "Namespace": ([("Status", "string", 0), ("Age", "string", 0)],
                  lambda o: [_get(o, "status", "phase") or "Active", _created(o)]),
    "Endpoints": ([("Endpoints", "string", 0), ("Age", "string", 0)], _endpoints),
    "Lease": ([("Holder", "string", 0), ("Age", "string", 0)],
              lambda o: [_get(o, "spec", "holderIdentity") or "", _created(o)]),
    "EndpointSlice": ([("AddressType", "string", 0), ("Ports", "string", 0), ("Endpoints", "string", 0),
                       ("Age", "string", 0)],
                      lambda o: [o.get("addressType", ""),
                                 ",".join(str(p.get("port")) for p in o.get("ports") or []) or NONE,
                                 ",".join(a for e in o.get("endpoints") or [] for a in e.get("addresses") or [])
                                 or NONE, _created(o)]),
}


_STEP = re.compile(r'\.([A-Za-z0-9_-]+)|\[\*\]|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_]+)=="([^"]*)"\)\]')


def json_path(obj: Any, path: str) -> list[Any]:
    """The subset of JSONPath CRDs' printer columns use: .field, [*], [N], [?(@.k=="v")]."""
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            return []
        pos = m.end()
        out: list[Any] = []
        for node in current:
            if m.group(1) is not None and isinstance(node, dict) and m.group(1) in node:
                out.append(node[m.group(1)])
            elif m.group(0) == "[*]" and isinstance(node, list):
                out.extend(node)
            elif m.group(2) is not None and isinstance(node, list) and int(m.group(2)) < len(node):
                out.append(node[int(m.group(2))])
            elif m.group(3) is not None and isinstance(node, list):
                out.extend(n for n in node if isinstance(n, dict) and str(n.get(m.group(3))) == m.group(4))
        current = out
    return current


def _crd_cell(o: Obj, col: PrinterColumn) -> Any:
    values = json_path(o, col.json_path)
    if col.type == "date":
        if col.name == "Created At":
            return values[0] if values else None
        return age(values[0]) if values else "<unknown>"
    if not values:
        return None
    return ",".join(str(v) for v in values) if len(values) > 1 else values[0]


def columns(r: Resource) -> list[Col]:
    if r.columns is not None:
        return [(c.name, "string" if c.type == "date" else c.type, c.priority) for c in r.columns]
    return BUILTIN.get(r.kind, ([("Created At", "date", 0)], _created))[0]


# kube-apiserver's event table has no leading Name column (Name is the last, wide one).
NO_NAME_FIRST = {"Event"}


def cells(r: Resource, o: Obj) -> list[Any]:
    name = _get(o, "metadata", "name")
    if r.kind in NO_NAME_FIRST and r.builtin:
        return BUILTIN[r.kind][1](o)
    if r.columns is not None:
        return [name] + [_crd_cell(o, c) for c in r.columns]
    entry = BUILTIN.get(r.kind)
    if entry is None:
        return [name, _get(o, "metadata", "creationTimestamp")]
    return [name] + entry[1](o)


def table(r: Resource, items: list[Obj], rv: str, include: str = "Metadata") -> Obj:
    defs = [] if r.kind in NO_NAME_FIRST and r.builtin else [
        {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a "
         "namespace.", "priority": 0}]
    defs += [{"name": n, "type": t, "format": "", "description": "", "priority": p} for n, t, p in columns(r)]
    rows = []
    for o in items:
        row: Obj = {"cells": cells(r, o)}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": o.get("metadata", {})}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": defs, "rows": rows}
