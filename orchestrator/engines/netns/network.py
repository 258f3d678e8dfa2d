"""The lab's network on this host: one namespace per node, the segment a bridge in a namespace of its
own, a veth from each node to it, addresses and permanent neighbour entries.

Links, addresses, routes and neighbour entries are made over netlink (pyroute2) from inside each
namespace; nothing is ever created in the root namespace and no namespace gets a default route.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Address
from typing import Any, Callable

from orchestrator.engines.netns import namespaces, neighbours
from orchestrator.engines.netns.host import NodeHost
from orchestrator.engines.netns.rtnl import IPRoute
from orchestrator.state import ns_name
from orchestrator.timing import phase
from orchestrator.topology import LabNode

# Every lab namespace forwards (nodes and the bastion are routers) and checks no reverse path:
# new namespaces inherit the root's conf/all values, which we must not rely on nor change.
ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
LINKS = "links (bridge, veths, addresses)"
SEGMENT_SYSCTLS = {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.disable_ipv6": "1",
                   "net.ipv6.conf.default.disable_ipv6": "1"}


def mac_for(ip: IPv4Address) -> str:
    """A locally administered MAC that spells the address: easy to read in captures."""
    return "02:00:" + ":".join(f"{b:02x}" for b in ip.packed)


def new_namespace(host: NodeHost, name: str, sysctls: dict[str, str], keep: bool = True) -> Any:
    """Create `name` with its sysctls and loopback up; returns its netlink handle (kept by host
    unless `keep` is False: then the caller closes it, and `host.netlink` opens another on demand)."""
    with phase("namespaces (made, sysctls, loopback up)"), namespaces.create(name):
        namespaces.write_sysctls(sysctls)
        ipr = IPRoute()
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
    if keep:
        host.keep_netlink(name, ipr)
    return ipr


def build_network(host: NodeHost, ready: Callable[[LabNode], None] = lambda _: None) -> None:
    """Namespaces, bridge, veths, addresses; `ready(node)` runs as soon as a node is wired,
    so its daemons start (and BIRD's one-second start-up runs) while the rest is built."""
    topo = host.topo
    seg = ns_name(topo.name, topo.bridge)
    host.state.plan_namespaces([seg] + [ns_name(topo.name, n.name) for n in topo.routers])
    seg_ipr = new_namespace(host, seg, SEGMENT_SYSCTLS)
    with phase(LINKS):
        seg_ipr.link("add", ifname=topo.bridge, kind="bridge", br_forward_delay=0, br_stp_state=0)
        bridge = seg_ipr.link_lookup(ifname=topo.bridge)[0]
        seg_ipr.link("set", index=bridge, state="up")
    seg_fd = os.open(namespaces.path_of(seg), os.O_RDONLY)
    try:
        for node in topo.routers:
            ns = ns_name(topo.name, node.name)
            # A node's handle is closed once the node is wired: kept, 200 nodes would hold ~800
            # descriptors (4 a handle), most of a default limit of 1,024. The bastion's is used again.
            ipr = new_namespace(host, ns, ROUTER_SYSCTLS, keep=node is topo.bastion)
            with phase(LINKS):
                ipr.link("add", ifname=node.interface, kind="veth", address=mac_for(node.ip),
                         peer={"ifname": node.bridge_port, "net_ns_fd": seg_fd})
                index = ipr.link_lookup(ifname=node.interface)[0]
                ipr.addr("add", index=index, address=str(node.ip), prefixlen=node.address.network.prefixlen)
                ipr.link("set", index=index, state="up")
            # The kernel's neighbour table limit is shared by every namespace: a big mesh would stall
            # in ARP. The lab knows every address and MAC, so it writes them down once.
            with phase("neighbour entries (permanent)"), namespaces.inside(ns):
                neighbours.add_permanent(index, [(o.ip, mac_for(o.ip)) for o in topo.routers if o is not node])
            with phase(LINKS):
                # One RTM_GETLINK by name: link_lookup dumps every port of the bridge (O(n^2) in all).
                port = seg_ipr.link("get", ifname=node.bridge_port)[0]["index"]
                seg_ipr.link("set", index=port, master=bridge, state="up")
            if node is not topo.bastion:
                ipr.close()
            ready(node)
    finally:
        os.close(seg_fd)
