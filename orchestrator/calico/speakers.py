"""What each node's BIRD must say, derived from the Calico resources as calico-node's confd does."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from orchestrator import templates
from orchestrator.calico import ipam
from orchestrator.calico.models import BGPConfiguration, BGPPeer, IPPool
from orchestrator.errors import Problem, ValidationFailed
from orchestrator.topology import Topology

CONFIG_FILES = ("bird.cfg", "bird_aggr.cfg", "bird_ipam.cfg")
DEFAULT_BGP = BGPConfiguration("default", 64512, True, 120, "Info", (), (), (), 179, "None")


@dataclass(frozen=True)
class Peering:
    protocol: str  # Mesh_10_0_1_12 / Global_10_0_1_10, as confd names them
    ip: IPv4Address
    asn: int
    passive: bool
    restart_time: int
    peer_node: str = ""


@dataclass(frozen=True)
class SpeakerConfig:
    node: str
    router_id: IPv4Address
    asn: int
    bind: IPv4Address | None
    debug: str
    blocks: tuple[IPv4Network, ...]
    service_cidrs: tuple[IPv4Network, ...]
    pool_cidrs: tuple[IPv4Network, ...]
    mesh: tuple[Peering, ...]
    global_peers: tuple[Peering, ...]
    # LoadBalancer addresses (/32) of externalTrafficPolicy Local Services with a ready endpoint on
    # this node: calico-node advertises them besides the CIDR, from exactly those nodes.
    local_services: tuple[IPv4Network, ...] = ()

    def with_local_services(self, addresses: list[str]) -> SpeakerConfig:
        nets = [_slash32(a) for a in addresses]
        nets.sort(key=lambda n: int(n.network_address))
        return replace(self, local_services=tuple(nets))

    def render(self, directory: Path, timers: str = "fast") -> dict[str, str]:
        """timers: fast (the lab's) or calico (confd's: connect delay 2, retry 5, error wait 5,30,
        BIRD's hold and keepalive)."""
        return {name: templates.render(f"calico/{name}.j2", s=self, dir=str(directory), timers=timers)
                for name in CONFIG_FILES}


@functools.lru_cache(maxsize=1 << 16)
def _slash32(address: str) -> IPv4Network:
    # Parsed once per address: a pass with 10,000 Local Services asks for every one on every node, twice.
    return IPv4Network(f"{address}/32")


@dataclass(frozen=True)
class CalicoObjects:
    pools: list[IPPool]
    bgp: BGPConfiguration | None
    peers: list[BGPPeer]


def _ip_name(prefix: str, ip: IPv4Address) -> str:
    return f"{prefix}_{str(ip).replace('.', '_')}"


def speaker_configs(topo: Topology, objs: CalicoObjects, where: str = "calico manifests") -> dict[str, SpeakerConfig]:
    problems: list[Problem] = []
    bgp = objs.bgp or DEFAULT_BGP
    node_ips = {n.name: n.ip for n in topo.k8s_nodes}
    for peer in objs.peers:
        if peer.node and peer.node not in node_ips:
            problems.append(Problem(where, f"BGPPeer {peer.name} spec.node",
                                    f"{peer.node!r} is not a node of the cluster",
                                    "use one of " + ", ".join(node_ips)))
        if peer.peer_ip in node_ips.values():
            problems.append(Problem(where, f"BGPPeer {peer.name} spec.peerIP",
                                    f"{peer.peer_ip} is a cluster node", "peer with a router outside the cluster"))
        if peer.peer_ip not in topo.segment:
            problems.append(Problem(where, f"BGPPeer {peer.name} spec.peerIP",
                                    f"{peer.peer_ip} is not on the nodes' segment {topo.segment}",
                                    f"peer with the bastion, {topo.bastion.ip}"))
    if problems:
        raise ValidationFailed(problems)
    blocks = ipam.assign_blocks(list(node_ips), objs.pools, where)
    service_cidrs = bgp.service_lb_ips + bgp.service_external_ips + bgp.service_cluster_ips
    exported = tuple(p.cidr for p in ipam.workload_pools(objs.pools) if not p.disable_bgp_export)
    debug = {"Debug": "debug all;", "Info": "debug { states };"}.get(bgp.log_severity, "debug off;")
    out: dict[str, SpeakerConfig] = {}
    for node in topo.k8s_nodes:
        mesh = tuple(
            Peering(_ip_name("Mesh", other.ip), other.ip, bgp.as_number, passive=node.ip > other.ip,
                    restart_time=bgp.mesh_max_restart_time, peer_node=other.name)
            for other in topo.k8s_nodes if other is not node) if bgp.node_to_node_mesh else ()
        global_peers = tuple(
            Peering(_ip_name("Global", p.peer_ip), p.peer_ip, p.as_number, passive=False,
                    restart_time=p.max_restart_time)
            for p in sorted(objs.peers, key=lambda p: p.peer_ip) if p.node in ("", node.name))
        out[node.name] = SpeakerConfig(
            node.name, node.ip, bgp.as_number, node.ip if bgp.bind_mode == "NodeIP" else None, debug,
            (blocks[node.name],),
            service_cidrs, exported, mesh, global_peers)
    return out
