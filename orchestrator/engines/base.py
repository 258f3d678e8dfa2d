"""The Engine protocol, whole: what every engine does, and the optional capabilities an engine may
know of, declared with a "not known" default (None) that an engine overrides when it knows.

Both engines subclass `Engine` explicitly, so a missing method is an error where the engine is made."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from orchestrator.bird.birdc import Reply
from orchestrator.bird.config import BastionConfig
from orchestrator.cluster import ClusterPlan
from orchestrator.errors import LabError
from orchestrator.state import LabState
from orchestrator.topology import Topology

if TYPE_CHECKING:
    from orchestrator.k8s.world import PodSpec  # the Kubernetes models load with the first pod, not with `up`

Progress = Callable[[str], None]


@dataclass(frozen=True)
class KernelRoute:
    dst: IPv4Network
    gateways: tuple[IPv4Address, ...]  # one per ECMP next hop
    kind: str  # unicast, blackhole, ...


def parse_ip_routes(output: str) -> dict[IPv4Network, list[KernelRoute]]:
    """`ip -j -4 route show` -> the routes by destination, each with its ECMP next hops and type."""
    import json

    table: dict[IPv4Network, list[KernelRoute]] = {}
    for r in json.loads(output or "[]"):
        dst = IPv4Network("0.0.0.0/0" if r.get("dst") == "default" else r["dst"])
        gws = [IPv4Address(r["gateway"])] if r.get("gateway") else []
        gws += [IPv4Address(h["gateway"]) for h in r.get("nexthops", []) if h.get("gateway")]
        table.setdefault(dst, []).append(KernelRoute(dst, tuple(sorted(gws)), str(r.get("type", "unicast"))))
    return table


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)
    kube_proxy: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)  # nodes whose BIRD was reconfigured in place
    waiting: dict[str, str] = field(default_factory=dict)  # pod -> why it was not started
    phases: dict[str, float] = field(default_factory=dict)  # the pass's named parts (timing.phase), seconds

    def lines(self) -> list[str]:
        out = [f"BIRD reconfigured in place on {', '.join(self.speakers)}"] if self.speakers else []
        out += [f"pod/{p} created" for p in self.created] + [f"pod/{p} deleted" for p in self.removed]
        out += [f"pod/{p} is not ready" + (f" ({self.waiting[p]})" if p in self.waiting else "")
                for p in self.not_ready]
        if self.reloaded:
            out.append("gateway proxy reloaded: " + ", ".join(self.reloaded))
        return out


@dataclass(frozen=True)
class HostPod:
    """A pod that is a network namespace of this host, as the engine made it."""

    spec: PodSpec
    netns: str  # gwlab-<lab>.pod-<name>
    veth: str  # the node-side end, cali<11 hex>
    ready: bool
    log: Path  # the container's output (the proxy's log for a gateway pod)


class Engine(Protocol):
    name: str
    topo: Topology
    state: LabState

    def preflight(self) -> None:
        """Raise LabError naming every missing prerequisite, before anything is made (local facts only)."""

    def up(self, bastion: BastionConfig, plan: ClusterPlan, progress: Progress) -> None:
        """Create the nodes and links, start the bastion and the node speakers, and make the cluster
        hold the plan's objects (the workshop's Calico manifests)."""

    def down(self) -> list[str]:
        """Remove everything the lab made; returns what was removed. Idempotent."""

    def apply(self, plan: ClusterPlan) -> SyncReport:
        """Make the cluster match the validated objects: node speakers reconfigured in place,
        pods, Services and gateway proxies created, changed or removed."""

    def get(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        """Objects of a kind (Pod, Gateway, ...) as the API returns them, status included;
        namespace None = every namespace."""

    def birdc(self, node: str, command: str) -> Reply:
        """The node's BIRD's reply to one command (raises BirdError if BIRD does not answer). The
        reply also holds what `birdc COMMAND` prints there, greeting included (`Reply.output()`)."""

    def stop_bird(self, node: str) -> bool:
        """Stop the node's BIRD; False if it was not running."""

    def restart_bird(self, node: str) -> None:
        """Start the node's BIRD again on the config it has."""

    def exec(self, node: str, argv: list[str], capture: bool = False,
             timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run a command inside the node."""

    def kernel_routes(self, node: str, dst: IPv4Network) -> list[KernelRoute]:
        """The node's kernel routes for exactly `dst`."""

    def kernel_table(self, node: str) -> dict[IPv4Network, list[KernelRoute]]:
        """Every IPv4 route of the node's main table, by destination: one dump by `ip -j` inside the
        node (10,000 routes: 0.07 s; pyroute2 parsed the same dump in 0.6-0.8 s)."""
        out = self.exec(node, ["ip", "-j", "-4", "route", "show", "table", "main"], capture=True)
        if out.returncode:
            raise LabError(f"ip route on {node}: {out.stderr.decode(errors='replace').strip()}")
        return parse_ip_routes(out.stdout.decode())

    # -- what an engine may know of; None: not known ---------------------------------------------
    def ipam_blocks(self) -> dict[str, IPv4Network] | None:
        """Each node's first IPAM block as the cluster's IPAM chose it; None when the lab's own
        model chose them (the cluster plan's speakers then hold them)."""
        return None

    def gateway_backend_sessions(self) -> int | None:
        """Connections the gateway proxies have passed to backends so far; None when not known."""
        return None

    def local_service_nodes(self) -> dict[IPv4Address, set[str]] | None:
        """Each LoadBalancer address of an externalTrafficPolicy Local Service -> the nodes with a
        ready endpoint of it (those that advertise its /32); None when not known."""
        return None

    def host_pods(self) -> list[HostPod] | None:
        """The pods, when they are network namespaces of this host (what traces capture in); None
        when they are not (containers of another runtime)."""
        return None
