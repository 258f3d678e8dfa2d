"""Calico's projectcalico.org/v3 resources that shape BGP: IPPool, BGPConfiguration, BGPPeer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from orchestrator.k8s.reader import FieldReader
from orchestrator.manifests import Document

GROUP = "projectcalico.org"
META_FIELDS = {"name", "namespace", "labels", "annotations"}
META_IGNORED = {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"}
USES = ("Workload", "Tunnel", "LoadBalancer")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")


@dataclass(frozen=True)
class IPPool:
    name: str
    cidr: IPv4Network
    block_size: int
    disabled: bool
    allowed_uses: tuple[str, ...]
    assignment_mode: str  # Automatic | Manual
    disable_bgp_export: bool


@dataclass(frozen=True)
class BGPConfiguration:
    name: str
    as_number: int
    node_to_node_mesh: bool
    mesh_max_restart_time: int  # seconds
    log_severity: str
    service_lb_ips: tuple[IPv4Network, ...]
    service_external_ips: tuple[IPv4Network, ...]
    service_cluster_ips: tuple[IPv4Network, ...]
    listen_port: int
    bind_mode: str  # None | NodeIP


@dataclass(frozen=True)
class BGPPeer:
    name: str
    peer_ip: IPv4Address
    as_number: int
    node: str  # "" = every node
    max_restart_time: int  # seconds, 0 = BIRD's default
    keep_original_next_hop: bool


def _meta(doc: Document, r: FieldReader) -> None:
    r.section("metadata", doc.body.get("metadata"), META_FIELDS, META_IGNORED)
    r.section("(top level)", {k: v for k, v in doc.body.items() if k not in ("apiVersion", "kind")},
              {"metadata", "spec"}, {"status"})


def _seconds(r: FieldReader, path: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, str) or not DURATION.match(value):
        r.problem(path, f"{value!r} is not a duration", "write it like 120s or 2m")
        return default
    total = 0.0
    for number, _, unit in re.findall(r"([0-9]+(\.[0-9]+)?)(ns|us|ms|s|m|h)", value):
        total += float(number) * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return int(total)


def _cidr(r: FieldReader, path: str, value: Any) -> IPv4Network | None:
    try:
        return IPv4Network(str(value))
    except ValueError:
        r.problem(path, f"{value!r} is not an IPv4 CIDR with its host bits zero", "write it like 10.10.10.0/26")
        return None


def _asn(r: FieldReader, path: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4294967294:
        r.problem(path, f"{value!r} is not an AS number", "use an integer such as 64512")
        return default
    return value


def _cidr_list(r: FieldReader, path: str, value: Any) -> tuple[IPv4Network, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        r.problem(path, "expected a list", "write it as a list of - cidr: A.B.C.D/N")
        return ()
    out = []
    for i, item in enumerate(value):
        entry = r.section(f"{path}[{i}]", item, {"cidr"}, set(), {"cidr"})
        if "cidr" in entry and (net := _cidr(r, f"{path}[{i}].cidr", entry["cidr"])) is not None:
            out.append(net)
    return tuple(out)


def parse_ippool(doc: Document, r: FieldReader) -> IPPool:
    _meta(doc, r)
    spec = r.section("spec", doc.body.get("spec"),
                     {"cidr", "blockSize", "disabled", "allowedUses", "assignmentMode", "disableBGPExport",
                      "nodeSelector"},
                     {"natOutgoing", "ipipMode", "vxlanMode", "ipip", "nat-outgoing", "namespaceSelector",
                      "awsSubnetID"}, {"cidr"})
    cidr = _cidr(r, "spec.cidr", spec.get("cidr")) if "cidr" in spec else None
    block = r.typed("spec.blockSize", spec.get("blockSize"), int, 26)
    if cidr is not None and not (cidr.prefixlen <= block <= 32):
        r.problem("spec.blockSize", f"{block} does not fit in {cidr}",
                  f"use a block size between {cidr.prefixlen} and 32")
    uses = r.typed("spec.allowedUses", spec.get("allowedUses"), list, ["Workload", "Tunnel"])
    for i, use in enumerate(uses):
        if use not in USES:
            r.problem(f"spec.allowedUses[{i}]", f"{use!r} is not a use Calico knows", f"use {', '.join(USES)}")
    if "LoadBalancer" in uses and len(uses) > 1:
        r.problem("spec.allowedUses", "LoadBalancer cannot be combined with other uses",
                  "make a pool of its own for LoadBalancer addresses")
    mode = r.typed("spec.assignmentMode", spec.get("assignmentMode"), str, "Automatic")
    if mode not in ("Automatic", "Manual"):
        r.problem("spec.assignmentMode", f"{mode!r} is not Automatic or Manual", "use Automatic or Manual")
    selector = spec.get("nodeSelector")
    if selector not in (None, "all()"):
        r.ignored.append("spec.nodeSelector (only all() is modelled: the pool serves every node)")
    return IPPool(doc.name, cidr or IPv4Network("0.0.0.0/32"), block,
                  bool(r.typed("spec.disabled", spec.get("disabled"), bool, False)),
                  tuple(uses), mode,
                  bool(r.typed("spec.disableBGPExport", spec.get("disableBGPExport"), bool, False)))


def parse_bgp_configuration(doc: Document, r: FieldReader) -> BGPConfiguration:
    _meta(doc, r)
    spec = r.section("spec", doc.body.get("spec"),
                     {"asNumber", "nodeToNodeMeshEnabled", "nodeMeshMaxRestartTime", "logSeverityScreen",
                      "serviceLoadBalancerIPs", "serviceExternalIPs", "serviceClusterIPs", "listenPort",
                      "bindMode"},
                     {"communities", "prefixAdvertisements", "nodeMeshPassword", "ignoredInterfaces",
                      "localWorkloadPeeringIPV4", "localWorkloadPeeringIPV6", "programClusterRoutes"})
    severity = r.typed("spec.logSeverityScreen", spec.get("logSeverityScreen"), str, "Info")
    if severity not in ("Debug", "Info", "Warning", "Error", "Fatal"):
        r.problem("spec.logSeverityScreen", f"{severity!r} is not a severity", "use Debug, Info, Warning or Error")
    port = r.typed("spec.listenPort", spec.get("listenPort"), int, 179)
    if port != 179:
        r.problem("spec.listenPort", f"port {port}: the lab's speakers listen on 179 only", "use 179")
    bind = r.typed("spec.bindMode", spec.get("bindMode"), str, "None")
    if bind not in ("None", "NodeIP"):
        r.problem("spec.bindMode", f"{bind!r} is not None or NodeIP", "use None or NodeIP")
    return BGPConfiguration(
        doc.name, _asn(r, "spec.asNumber", spec.get("asNumber"), 64512),
        bool(r.typed("spec.nodeToNodeMeshEnabled", spec.get("nodeToNodeMeshEnabled"), bool, True)),
        _seconds(r, "spec.nodeMeshMaxRestartTime", spec.get("nodeMeshMaxRestartTime"), 120),
        severity,
        _cidr_list(r, "spec.serviceLoadBalancerIPs", spec.get("serviceLoadBalancerIPs")),
        _cidr_list(r, "spec.serviceExternalIPs", spec.get("serviceExternalIPs")),
        _cidr_list(r, "spec.serviceClusterIPs", spec.get("serviceClusterIPs")),
        port, bind)


def parse_bgp_peer(doc: Document, r: FieldReader) -> BGPPeer:
    _meta(doc, r)
    spec = r.section("spec", doc.body.get("spec"),
                     {"peerIP", "asNumber", "node", "nodeSelector", "maxRestartTime", "keepOriginalNextHop"},
                     {"password", "sourceAddress", "failureDetectionMode", "restartMode", "birdGatewayMode",
                      "numAllowedLocalASNumbers", "ttlSecurity", "filters", "reachableBy", "peerSelector",
                      "localWorkloadSelector", "nextHopMode", "reversePeering"},
                     {"peerIP", "asNumber"})
    peer_ip = IPv4Address("0.0.0.0")
    if "peerIP" in spec:
        text = str(spec["peerIP"])
        host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
        try:
            peer_ip = IPv4Address(host)
        except ValueError:
            r.problem("spec.peerIP", f"{text!r} is not an IPv4 address", "write it like 10.0.1.10")
        if host != text:
            r.ignored.append("spec.peerIP port (the lab's speakers use 179)")
    selector = spec.get("nodeSelector")
    if selector not in (None, "all()"):
        r.ignored.append("spec.nodeSelector (only all() is modelled: the peer applies to every node)")
    return BGPPeer(doc.name, peer_ip, _asn(r, "spec.asNumber", spec.get("asNumber"), 0),
                   str(r.typed("spec.node", spec.get("node"), str, "")),
                   _seconds(r, "spec.maxRestartTime", spec.get("maxRestartTime"), 0),
                   bool(r.typed("spec.keepOriginalNextHop", spec.get("keepOriginalNextHop"), bool, False)))
