"""Where to capture: NODE[:IFACE] of a lab -> a namespace and an interface; and who is who.

Nodes come from the lab's topology (bastion, control1/worker1/... or the topology's names, and the
segment's bridge). Pods come from the pod plane, which names a pod's namespace
`gwlab-<lab>.pod-<pod>` (`pod_namespace`, the one place that knows it): a pod name resolves as
soon as that namespace exists, and its addresses are read from inside it for the decoded lines.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.engines.netns import namespaces
from orchestrator.errors import LabError
from orchestrator.state import ns_name

if TYPE_CHECKING:
    from orchestrator.lab import Lab

POD_PREFIX = "pod-"


@dataclass(frozen=True)
class Target:
    label: str  # what the user named: bastion, calico-worker, pod echo-...
    ns: str
    iface: str  # "any" for all of them
    interfaces: tuple[str, ...]  # what the namespace has


def pod_namespace(lab: str, pod: str) -> str:
    """The namespace of a pod of the pod plane."""
    return ns_name(lab, POD_PREFIX + pod)


def pods(lab: str) -> list[str]:
    """The pods of a lab, found by their namespaces."""
    prefix = ns_name(lab, POD_PREFIX)
    return [n[len(prefix):] for n in namespaces.list_names() if n.startswith(prefix)]


def interfaces(ns: str) -> tuple[str, ...]:
    with namespaces.inside(ns):
        return tuple(name for _, name in socket.if_nameindex())


def addresses(ns: str) -> list[str]:
    """The IPv4 addresses configured inside a namespace (lo excluded)."""
    from orchestrator.engines.netns.rtnl import IPRoute

    with namespaces.inside(ns):
        with IPRoute() as ipr:
            return [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=socket.AF_INET)
                    if not str(a.get_attr("IFA_ADDRESS")).startswith("127.")]


def resolve(lab: Lab, spec: str) -> Target:
    name, _, iface = spec.partition(":")
    topo = lab.topo
    if name == topo.bridge:
        label, ns = f"segment {name}", ns_name(topo.name, topo.bridge)
    elif any(name in (n.name, n.bgp_name) for n in topo.routers):
        node = topo.node(name)
        label, ns = node.name, ns_name(topo.name, node.name)
    elif namespaces.exists(pod_namespace(topo.name, name.removeprefix("pod/"))):
        label, ns = f"pod {name.removeprefix('pod/')}", pod_namespace(topo.name, name.removeprefix("pod/"))
    else:
        known = [n.bgp_name or n.name for n in topo.routers] + [topo.bridge] + [f"pod/{p}" for p in pods(topo.name)]
        raise LabError(f"no node or pod {name!r} in lab {topo.name!r}; try one of: {', '.join(known)}")
    if not namespaces.exists(ns):
        raise LabError(f"{label} of lab {topo.name!r} has no namespace {ns}: is the lab up?")
    have = interfaces(ns)
    if iface and iface != "any" and iface not in have:
        raise LabError(f"{label} has no interface {iface!r}; it has: {', '.join(have)} (or 'any')")
    return Target(label, ns, iface or "any", have)


def names(lab: Lab) -> dict[str, str]:
    """Address -> name for the decoded lines: the lab's nodes, then its pods (pod/<name>)."""
    out = {str(n.ip): (n.bgp_name or n.name) for n in lab.topo.routers}
    for pod in pods(lab.topo.name):
        try:
            for ip in addresses(pod_namespace(lab.topo.name, pod)):
                out.setdefault(str(ip), f"pod/{pod}")
        except OSError:
            continue  # the pod went away meanwhile
    return out
