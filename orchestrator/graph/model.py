"""What `gwlab graph` draws: nodes and edges, from the topology (as containerlab and netlab draw a
lab: nodes named as the topology names them, links with interfaces and addresses) and, for a
running lab, what they do not draw: BGP sessions and their state, the LoadBalancer routes the
bastion holds and their next hops, the pods on their nodes, the gateway's path to its backends."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from orchestrator.topology import Topology

if TYPE_CHECKING:
    from orchestrator.capture.inventory import PodInfo
    from orchestrator.lab import Lab


@dataclass(frozen=True)
class Node:
    id: str
    lines: tuple[str, ...]  # the first is the name
    kind: str  # router | bastion | segment | route | pod | gateway
    layer: int  # 0 top: routes and the bastion; 1 the segment; 2 the k8s nodes; 3 pods


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    label: str = ""
    style: str = "link"  # link (a cable) | bgp-up | bgp-down | route (next hop) | path (the gateway's)


@dataclass
class Graph:
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> str:
        if all(n.id != node.id for n in self.nodes):
            self.nodes.append(node)
        return node.id


def node_id(name: str) -> str:
    """An identifier mermaid and dot take unquoted."""
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def static(topo: Topology) -> Graph:
    g = Graph(f"lab {topo.name}: segment {topo.segment} ({topo.bridge}), AS {topo.asn}")
    seg = g.add(Node(node_id(topo.bridge), (topo.bridge, f"bridge {topo.segment}"), "segment", 1))
    for n in topo.routers:
        bastion = n is topo.bastion
        title = n.name if bastion else f"{n.name} ({n.bgp_name})"
        role = "bastion, BIRD 1.6" if bastion else f"{n.role}, Calico BIRD"
        g.add(Node(node_id(n.name), (title, role, f"{n.interface} {n.address}"), "bastion" if bastion else "router",
                   0 if bastion else 2))
        g.edges.append(Edge(node_id(n.name), seg, f"{n.interface} - {n.bridge_port}"))
    return g


def live(lab: Lab) -> Graph:
    """The static picture plus what the running lab shows now."""
    from orchestrator import checks
    from orchestrator.capture import inventory  # same floor: the read-only pod inventory

    topo = lab.topo
    g = static(topo)
    g.title += " (live)"
    snap = checks.Snapshot(lab.engine)
    protocols = snap.protocols()
    bastion = node_id(topo.bastion.name)
    for n in topo.k8s_nodes:
        p = protocols.get(n.bgp_name)
        state = "no session" if p is None else (p.info.split()[0] if p.info else p.state)
        up = p is not None and p.info.startswith("Established")
        g.edges.append(Edge(bastion, node_id(n.name), f"iBGP {state}", "bgp-up" if up else "bgp-down"))
    by_ip = {str(n.ip): n for n in topo.k8s_nodes}
    pools = lab.lb_prefixes()
    for prefix, route in sorted(snap.routes().items(), key=lambda kv: (kv[0].prefixlen, kv[0])):
        if not any(prefix.subnet_of(pool) for pool in pools if isinstance(pool, IPv4Network)):
            continue
        rid = g.add(Node(node_id(f"route {prefix}"), (str(prefix), "LoadBalancer route on the bastion"), "route", 0))
        g.edges.append(Edge(bastion, rid, "", "route"))
        for path in route.paths:
            hops = [h.gateway for h in path.next_hops] if path.next_hops else [path.gateway]
            for gw in sorted(h for h in hops if h):
                if gw in by_ip:
                    g.edges.append(Edge(rid, node_id(by_ip[gw].name), f"next hop {gw}", "route"))
    try:
        pods = inventory.pods(lab)
    except Exception:  # an engine whose pods are not namespaces here: the picture without them
        pods = ()
    for pod in pods:
        pid = g.add(Node(node_id(f"pod {pod.key}"), (pod.name, f"{pod.ip} ({pod.role})" + ("" if pod.ready else
                                                     ", not ready")), "pod", 3))
        g.edges.append(Edge(node_id(pod.node), pid, pod.veth))
    if pods:
        _gateway(lab, g, pods)
    return g


def _gateway(lab: Lab, g: Graph, pods: tuple[PodInfo, ...]) -> None:
    from orchestrator.capture import inventory

    for gw in lab.engine.get("gateway", None):
        meta = gw.get("metadata", {})
        info = inventory.gateway(lab, pods, meta.get("namespace", "default"), meta.get("name", ""))
        if info.address is None:
            continue
        port = f":{info.tls_port}" if info.tls_port else ""
        gid = g.add(Node(node_id(f"gateway {info.key}"), (f"Gateway {info.key}", f"{info.address}{port}"),
                         "gateway", 0))
        g.edges.append(Edge(node_id(lab.topo.bastion.name), gid, "curl (client)", "path"))
        for proxy in info.pods:
            g.edges.append(Edge(gid, node_id(f"pod {proxy.key}"), "kube-proxy DNAT", "path"))
            for route in info.routes:
                for backend in route.backends:
                    for pod in backend.pods:
                        g.edges.append(Edge(node_id(f"pod {proxy.key}"), node_id(f"pod {pod.key}"),
                                            f"TLSRoute {route.key} :{backend.target_port}", "path"))
