"""The Kubernetes core kinds the workshop uses (Service, Deployment, Secret) and Calico's operator
GatewayAPI resource, as strict typed models. The Gateway API kinds are in k8s/gateway/."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from orchestrator.k8s.reader import FieldReader
from orchestrator.manifests import Document

META_FIELDS = {"name", "namespace", "labels", "annotations"}
META_IGNORED = {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "generateName"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
ECHO_IMAGES = ("gcr.io/k8s-staging-gateway-api/echo-basic", "registry.k8s.io/gateway-api/echo-basic")


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str
    protocol: str
    name: str


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    labels: dict[str, str]
    type: str  # ClusterIP | LoadBalancer
    ports: tuple[ServicePort, ...]
    selector: dict[str, str]
    cluster_ip: str  # "" = allocate
    # Local: only endpoints on the node the traffic arrived at (no SNAT), and Calico advertises
    # the LoadBalancer address's /32 from those nodes; Cluster: any endpoint.
    external_traffic_policy: str = "Cluster"


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None
    field_path: str | None  # valueFrom.fieldRef.fieldPath


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    ports: tuple[int, ...]
    env: tuple[EnvVar, ...]
    mounts: tuple[VolumeMount, ...]


@dataclass(frozen=True)
class Deployment:
    namespace: str
    name: str
    replicas: int
    match_labels: dict[str, str]
    pod_labels: dict[str, str]
    containers: tuple[Container, ...]
    secret_volumes: dict[str, str]  # volume name -> secret name
    template: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)
    generation: int = 1


@dataclass(frozen=True)
class Secret:
    namespace: str
    name: str
    type: str
    data: dict[str, bytes]


@dataclass(frozen=True)
class GatewayAPI:
    """operator.tigera.io/v1 GatewayAPI: enables Calico's gateway and its GatewayClass."""

    name: str


def _meta(doc: Document, r: FieldReader, top: set[str]) -> dict[str, str]:
    meta = r.section("metadata", doc.body.get("metadata"), META_FIELDS, META_IGNORED)
    if not DNS_LABEL.match(doc.name) or len(doc.name) > 63:
        r.problem("metadata.name", f"{doc.name!r} is not a valid name",
                  "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit")
    if not DNS_LABEL.match(doc.namespace):
        r.problem("metadata.namespace", f"{doc.namespace!r} is not a valid namespace",
                  "use lowercase letters, digits and '-'")
    r.section("(top level)", {k: v for k, v in doc.body.items() if k not in ("apiVersion", "kind")},
              {"metadata", *top}, {"status"})
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        r.problem("metadata.labels", "expected a mapping", "write labels as key: value")
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def _port(r: FieldReader, path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        r.problem(path, f"{value!r} is not a port number", "use 1-65535")
        return 0
    return value


def _str_map(r: FieldReader, path: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        r.problem(path, "expected a mapping", "write it as key: value pairs")
        return {}
    return {str(k): str(v) for k, v in value.items()}


def parse_service(doc: Document, r: FieldReader) -> Service:
    labels = _meta(doc, r, {"spec"})
    spec = r.section("spec", doc.body.get("spec"), {"ports", "selector", "type", "clusterIP", "externalTrafficPolicy"},
                     {"sessionAffinity", "internalTrafficPolicy", "ipFamilies",
                      "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass",
                      "publishNotReadyAddresses", "clusterIPs"})
    kind = r.typed("spec.type", spec.get("type"), str, "ClusterIP")
    if kind not in ("ClusterIP", "LoadBalancer"):
        r.problem("spec.type", f"{kind!r} is not modelled", "use ClusterIP or LoadBalancer")
    ports = []
    for i, raw in enumerate(r.typed("spec.ports", spec.get("ports"), list, [])):
        path = f"spec.ports[{i}]"
        p = r.section(path, raw, {"port", "targetPort", "protocol", "name"}, {"nodePort", "appProtocol"}, {"port"})
        port = _port(r, f"{path}.port", p.get("port"))
        target = p.get("targetPort", port)
        if isinstance(target, str):
            r.problem(f"{path}.targetPort", f"named port {target!r} is not modelled",
                      "give the container's port number, e.g. targetPort: 8443")
        else:
            target = _port(r, f"{path}.targetPort", target)
        proto = r.typed(f"{path}.protocol", p.get("protocol"), str, "TCP")
        if proto != "TCP":
            r.problem(f"{path}.protocol", f"{proto} is not modelled", "use TCP")
        ports.append(ServicePort(port, target, proto, str(p.get("name", ""))))
    if not ports:
        r.problem("spec.ports", "a Service needs at least one port", "add ports: [{port: 443, targetPort: 8443}]")
    cluster_ip = str(r.typed("spec.clusterIP", spec.get("clusterIP"), str, ""))
    if cluster_ip == "None":
        r.problem("spec.clusterIP", "headless Services (clusterIP: None) are not modelled",
                  "remove spec.clusterIP to get an address from the service range")
    elif cluster_ip:
        try:
            IPv4Address(cluster_ip)
        except ValueError:
            r.problem("spec.clusterIP", f"{cluster_ip!r} is not an IPv4 address",
                      "remove it, or give an address of the service range (10.96.0.0/16)")
    policy = str(r.typed("spec.externalTrafficPolicy", spec.get("externalTrafficPolicy"), str, "Cluster"))
    if policy not in ("Cluster", "Local"):
        r.problem("spec.externalTrafficPolicy", f"{policy!r} is not a traffic policy", "use Cluster or Local")
    return Service(doc.namespace, doc.name, labels, kind, tuple(ports),
                   _str_map(r, "spec.selector", spec.get("selector")), cluster_ip, policy)


def _container(r: FieldReader, path: str, raw: Any) -> Container:
    c = r.section(path, raw, {"name", "image", "ports", "env", "volumeMounts"},
                  {"imagePullPolicy", "resources", "readinessProbe", "livenessProbe", "args", "command",
                   "securityContext", "startupProbe"}, {"name", "image"})
    image = str(c.get("image", ""))
    if image and not image.startswith(ECHO_IMAGES):
        r.problem(f"{path}.image", f"image {image!r} cannot run in the netns engine",
                  "use the Gateway API echo server, gcr.io/k8s-staging-gateway-api/echo-basic")
    ports = []
    for i, p in enumerate(r.typed(f"{path}.ports", c.get("ports"), list, [])):
        entry = r.section(f"{path}.ports[{i}]", p, {"containerPort", "protocol", "name"}, set(), {"containerPort"})
        ports.append(_port(r, f"{path}.ports[{i}].containerPort", entry.get("containerPort")))
    env = []
    for i, e in enumerate(r.typed(f"{path}.env", c.get("env"), list, [])):
        ep = f"{path}.env[{i}]"
        entry = r.section(ep, e, {"name", "value", "valueFrom"}, set(), {"name"})
        field_path = None
        if "valueFrom" in entry:
            vf = r.section(f"{ep}.valueFrom", entry["valueFrom"], {"fieldRef"}, set(), {"fieldRef"})
            fr = r.section(f"{ep}.valueFrom.fieldRef", vf.get("fieldRef"), {"fieldPath"}, {"apiVersion"},
                           {"fieldPath"})
            field_path = str(fr.get("fieldPath", ""))
            if field_path not in ("metadata.name", "metadata.namespace", "status.podIP", "spec.nodeName"):
                r.problem(f"{ep}.valueFrom.fieldRef.fieldPath", f"{field_path!r} is not modelled",
                          "use metadata.name, metadata.namespace, status.podIP or spec.nodeName")
        value = entry.get("value")
        env.append(EnvVar(str(entry.get("name", "")), None if value is None else str(value), field_path))
    mounts = []
    for i, m in enumerate(r.typed(f"{path}.volumeMounts", c.get("volumeMounts"), list, [])):
        entry = r.section(f"{path}.volumeMounts[{i}]", m, {"name", "mountPath", "readOnly"}, {"subPath"},
                          {"name", "mountPath"})
        mounts.append(VolumeMount(str(entry.get("name", "")), str(entry.get("mountPath", ""))))
    return Container(str(c.get("name", "")), image, tuple(ports), tuple(env), tuple(mounts))


def parse_deployment(doc: Document, r: FieldReader) -> Deployment:
    _meta(doc, r, {"spec"})
    spec = r.section("spec", doc.body.get("spec"), {"replicas", "selector", "template"},
                     {"strategy", "revisionHistoryLimit", "progressDeadlineSeconds", "minReadySeconds"},
                     {"selector", "template"})
    replicas = r.typed("spec.replicas", spec.get("replicas"), int, 1)
    if replicas < 0:
        r.problem("spec.replicas", "negative", "use 0 or more")
    sel = r.section("spec.selector", spec.get("selector"), {"matchLabels"}, set(), {"matchLabels"})
    match = _str_map(r, "spec.selector.matchLabels", sel.get("matchLabels"))
    tmpl = r.section("spec.template", spec.get("template"), {"metadata", "spec"}, set(), {"spec"})
    tmeta = r.section("spec.template.metadata", tmpl.get("metadata"), {"labels", "annotations"}, set())
    labels = _str_map(r, "spec.template.metadata.labels", tmeta.get("labels"))
    if any(labels.get(k) != v for k, v in match.items()):
        r.problem("spec.selector.matchLabels", "does not select the pod template's labels",
                  "make spec.template.metadata.labels include every matchLabels entry")
    pspec = r.section("spec.template.spec", tmpl.get("spec"), {"containers", "volumes"},
                      {"terminationGracePeriodSeconds", "nodeSelector", "tolerations", "affinity",
                       "serviceAccountName", "securityContext", "restartPolicy", "dnsPolicy"}, {"containers"})
    containers = tuple(_container(r, f"spec.template.spec.containers[{i}]", c)
                       for i, c in enumerate(r.typed("spec.template.spec.containers", pspec.get("containers"),
                                                     list, [])))
    if len(containers) != 1:
        r.problem("spec.template.spec.containers", f"{len(containers)} containers: the lab runs one per pod",
                  "keep one container")
    volumes: dict[str, str] = {}
    for i, v in enumerate(r.typed("spec.template.spec.volumes", pspec.get("volumes"), list, [])):
        path = f"spec.template.spec.volumes[{i}]"
        entry = r.section(path, v, {"name", "secret"}, set(), {"name", "secret"})
        sec = r.section(f"{path}.secret", entry.get("secret"), {"secretName"}, {"defaultMode", "optional", "items"},
                        {"secretName"})
        volumes[str(entry.get("name", ""))] = str(sec.get("secretName", ""))
    for c in containers:
        for m in c.mounts:
            if m.name not in volumes:
                r.problem("spec.template.spec.volumes", f"volumeMount {m.name!r} has no volume",
                          f"add a volume named {m.name}")
    generation = (doc.body.get("metadata") or {}).get("generation", 1)
    return Deployment(doc.namespace, doc.name, replicas, match, labels, containers, volumes,
                      dict(tmpl) if isinstance(tmpl, dict) else {},
                      generation if isinstance(generation, int) else 1)


def parse_secret(doc: Document, r: FieldReader) -> Secret:
    _meta(doc, r, {"type", "data", "stringData", "immutable"})
    kind = r.typed("type", doc.body.get("type"), str, "Opaque")
    data: dict[str, bytes] = {}
    for key, value in _str_map(r, "data", doc.body.get("data")).items():
        try:
            data[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            r.problem(f"data.{key}", "not valid base64", "base64-encode the value, or put it under stringData")
    for key, value in _str_map(r, "stringData", doc.body.get("stringData")).items():
        data[key] = value.encode()
    if kind == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                r.problem(f"data.{key}", "a kubernetes.io/tls Secret needs it", f"add {key}")
    return Secret(doc.namespace, doc.name, kind, data)


def parse_gateway_api(doc: Document, r: FieldReader) -> GatewayAPI:
    _meta(doc, r, {"spec"})
    r.section("spec", doc.body.get("spec"), set(),
              {"gatewayClasses", "envoyGatewayConfigRef", "gatewayControllerDeployment",
               "gatewayCertgenJob", "gatewayDeployment", "crdManagement"})
    if doc.name != "tigera-secure":
        r.problem("metadata.name", f"{doc.name!r}: the operator reconciles only tigera-secure",
                  "name it tigera-secure")
    return GatewayAPI(doc.name)

