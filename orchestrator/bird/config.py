"""The bastion's bird.conf: rendered from bird/ with the import filter's accepted prefixes as data."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from orchestrator import templates
from orchestrator.topology import Topology

FILTER_NAME = "cluster_import"
# The workshop's bastion before prerequisite 3: it takes the pod pool only.
PRE_EXISTING_ACCEPT = (IPv4Network("10.50.0.0/24"),)
TEMPLATES = {"1": "bastion.conf.j2", "2": "bastion2.conf.j2"}


@dataclass(frozen=True)
class Peer:
    name: str
    ip: IPv4Address


@dataclass(frozen=True)
class BastionConfig:
    router_id: IPv4Address
    asn: int
    interface: str
    peers: tuple[Peer, ...]
    accepted: tuple[IPv4Network, ...]
    log_file: str
    dialect: str = "1"
    timers: str = "fast"  # fast: the lab's quick timers; calico: BIRD's defaults, as the workshop's bastion

    def render(self) -> str:
        return templates.render(TEMPLATES[self.dialect], router_id=self.router_id, asn=self.asn,
                                interface=self.interface, peers=self.peers, accepted=self.accepted,
                                filter_name=FILTER_NAME, log_file=self.log_file,
                                timers=self.timers)


def bastion_config(topo: Topology, log_file: str, dialect: str = "1",
                   accepted: tuple[IPv4Network, ...] = PRE_EXISTING_ACCEPT, timers: str = "fast") -> BastionConfig:
    peers = tuple(Peer(n.bgp_name, n.ip) for n in topo.k8s_nodes)
    return BastionConfig(topo.bastion.ip, topo.asn, topo.bastion.interface, peers, accepted, log_file, dialect, timers)
