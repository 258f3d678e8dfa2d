"""What kube-apiserver fills in: metadata (uid, timestamps, generation) and the defaults kubectl shows."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re
import uuid
from collections.abc import Container
from typing import Any

from orchestrator.apiserver.errors import Cause
from orchestrator.apiserver.registry import Resource

Obj = dict[str, Any]
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GENERATE = "bcdfghjklmnpqrstvwxz2456789"
# Kinds whose metadata.generation counts spec changes.
GENERATION_KINDS = {"Deployment", "ReplicaSet", "Pod"}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_suffix(length: int = 5) -> str:
    return "".join(random.choice(_GENERATE) for _ in range(length))


def name_causes(r: Resource, name: str) -> list[Cause]:
    if r.kind == "Namespace" and not (_LABEL.match(name) and len(name) <= 63):
        return [Cause("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of '
                      "lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
                      "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]
    if not _NAME.match(name) or len(name) > 253:
        return [Cause("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of '
                      "lower case alphanumeric characters, '-' or '.', and must start and end with an "
                      "alphanumeric character (e.g. 'example.com', regex used for validation is "
                      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    return []


def new_metadata(r: Resource, obj: Obj) -> None:
    meta = obj.setdefault("metadata", {})
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
        meta.pop(key, None)
    if r.kind in GENERATION_KINDS or not r.builtin:
        meta["generation"] = 1


def _pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("containers") or []:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("fieldRef") if isinstance(e, dict) else None
            if isinstance(ref, dict):
                ref.setdefault("apiVersion", "v1")
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            for source in ("secret", "configMap"):
                if isinstance(v.get(source), dict):
                    v[source].setdefault("defaultMode", 420)


def _template(spec: Obj) -> None:
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        tmpl.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        if isinstance(tmpl.get("spec"), dict):
            _pod_spec(tmpl["spec"])


def apply_defaults(r: Resource, obj: Obj) -> None:
    spec = obj.get("spec")
    kind = r.kind
    if kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        _template(spec)
    elif kind == "ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _template(spec)
    elif kind == "Pod" and isinstance(spec, dict):
        _pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("LoadBalancer", "NodePort"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")


NODE_PORTS = range(30000, 32768)


def allocate_node_ports(spec: Obj, used: set[int]) -> list[Cause]:
    """NodePort and LoadBalancer Services (unless allocateLoadBalancerNodePorts is false) get a node port
    per port from 30000-32767, or keep the one asked for if it is free."""
    if spec.get("type") not in ("NodePort", "LoadBalancer") or spec.get("allocateLoadBalancerNodePorts") is False:
        return []
    causes = []
    for i, port in enumerate(spec.get("ports") or []):
        if not isinstance(port, dict):
            continue
        wanted = port.get("nodePort")
        if wanted:
            if wanted not in NODE_PORTS:
                causes.append(Cause(f"spec.ports[{i}].nodePort", f"Invalid value: {wanted}: provided port is not in "
                                    "the valid range. The range of valid ports is 30000-32767"))
            elif wanted in used:
                causes.append(Cause(f"spec.ports[{i}].nodePort", f"Invalid value: {wanted}: provided port is "
                                    "already allocated"))
            used.add(int(wanted))
            continue
        free = [p for p in NODE_PORTS if p not in used]
        if free:
            port["nodePort"] = random.choice(free)
            used.add(port["nodePort"])
    return causes


def allocate_cluster_ip(spec: Obj, used: Container[str]) -> Cause | None:
    """Give a ClusterIP Service its address from 10.96.0.0/16 (kind's range), or check the one asked for."""
    if spec.get("clusterIP") == "None":
        spec.setdefault("clusterIPs", ["None"])
    elif spec.get("type") != "ExternalName":
        wanted = spec.get("clusterIP")
        if wanted:
            try:
                ok = ipaddress.ip_address(wanted) in SERVICE_CIDR
            except ValueError:
                ok = False
            if not ok:
                return Cause("spec.clusterIPs[0]", f'Invalid value: "{wanted}": failed to allocate IP {wanted}: '
                             "the provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/16")
            if wanted in used:
                return Cause("spec.clusterIPs[0]", f'Invalid value: "{wanted}": failed to allocate IP {wanted}: '
                             "provided IP is already allocated")
        else:
            hosts = SERVICE_CIDR.num_addresses
            for _ in range(hosts):
                candidate = str(SERVICE_CIDR[random.randrange(10, hosts - 1)])
                if candidate not in used:
                    spec["clusterIP"] = candidate
                    break
        spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    return None
