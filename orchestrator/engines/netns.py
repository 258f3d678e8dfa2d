"""The embedded engine: one network namespace per node, the segment a bridge in a namespace of its own.

Links, addresses, routes and neighbour entries are made over netlink (pyroute2) from inside each
namespace; nothing is ever created in the root namespace and no namespace gets a default route.
"""

from __future__ import annotations

import os
import subprocess
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Callable

from orchestrator.rtnl import IPRoute

from orchestrator import neighbours, netns, procs
from orchestrator.bird import binaries
from orchestrator.bird.birdc import Reply, ask
from orchestrator.bird.config import BastionConfig
from orchestrator.calico.speakers import SpeakerConfig
from orchestrator.cluster import ClusterPlan
from orchestrator.engines.base import Engine, HostPod, KernelRoute, Progress, SyncReport
from orchestrator.errors import LabError
from orchestrator.state import LabState, ns_name, run_dir
from orchestrator.teardown import teardown
from orchestrator.topology import LabNode, Topology

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
SEGMENT_SYSCTLS = {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.disable_ipv6": "1",
                   "net.ipv6.conf.default.disable_ipv6": "1"}


def mac_for(ip: IPv4Address) -> str:
    """A locally administered MAC that spells the address: easy to read in captures."""
    return "02:00:" + ":".join(f"{b:02x}" for b in ip.packed)


class NetnsEngine(Engine):
    name = "netns"

    def __init__(self, topo: Topology, state: LabState) -> None:
        self.topo = topo
        self.state = state
        self.dir = run_dir(topo.name)
        self._ipr: dict[str, Any] = {}

    # -- names and places -------------------------------------------------------------------
    def ns(self, node: str) -> str:
        return ns_name(self.topo.name, self.topo.node(node).name if node != self.topo.bridge else node)

    def node_dir(self, node: str) -> Path:
        return self.dir / self.topo.node(node).name

    def bird_socket(self, node: str) -> str:
        return str(self.node_dir(node) / "bird.ctl")

    def _ipr_for(self, ns: str) -> Any:
        if ns not in self._ipr:
            with netns.inside(ns):
                self._ipr[ns] = IPRoute()
        return self._ipr[ns]

    def close(self) -> None:
        for ipr in self._ipr.values():
            ipr.close()
        self._ipr.clear()

    # -- bringing it up ----------------------------------------------------------------------
    def _new_ns(self, name: str, sysctls: dict[str, str]) -> None:
        with netns.create(name):
            netns.write_sysctls(sysctls)
            ipr = IPRoute()
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        self._ipr[name] = ipr

    def build_network(self, ready: Callable[[LabNode], None] = lambda _: None) -> None:
        """Namespaces, bridge, veths, addresses; `ready(node)` runs as soon as a node is wired,
        so its daemons start (and BIRD's one-second start-up runs) while the rest is built."""
        seg = ns_name(self.topo.name, self.topo.bridge)
        self.state.plan_namespaces([seg] + [ns_name(self.topo.name, n.name) for n in self.topo.routers])
        self._new_ns(seg, SEGMENT_SYSCTLS)
        seg_ipr = self._ipr[seg]
        seg_ipr.link("add", ifname=self.topo.bridge, kind="bridge", br_forward_delay=0, br_stp_state=0)
        bridge = seg_ipr.link_lookup(ifname=self.topo.bridge)[0]
        seg_ipr.link("set", index=bridge, state="up")
        seg_fd = os.open(netns.path_of(seg), os.O_RDONLY)
        try:
            for node in self.topo.routers:
                ns = ns_name(self.topo.name, node.name)
                self._new_ns(ns, ROUTER_SYSCTLS)
                ipr = self._ipr[ns]
                ipr.link("add", ifname=node.interface, kind="veth", address=mac_for(node.ip),
                         peer={"ifname": node.bridge_port, "net_ns_fd": seg_fd})
                index = ipr.link_lookup(ifname=node.interface)[0]
                ipr.addr("add", index=index, address=str(node.ip), prefixlen=node.address.network.prefixlen)
                ipr.link("set", index=index, state="up")
                self._permanent_neighbours(ns, index, node)
                port = seg_ipr.link_lookup(ifname=node.bridge_port)[0]
                seg_ipr.link("set", index=port, master=bridge, state="up")
                ready(node)
        finally:
            os.close(seg_fd)

    def _permanent_neighbours(self, ns: str, index: int, node: LabNode) -> None:
        # The kernel's neighbour table limit is shared by every namespace: a big mesh would stall
        # in ARP. The lab knows every address and MAC, so it writes them down once.
        with netns.inside(ns):
            neighbours.add_permanent(index, [(o.ip, mac_for(o.ip)) for o in self.topo.routers if o is not node])

    def _write(self, directory: Path, files: dict[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            tmp = directory / f".{name}.tmp"
            tmp.write_text(text)
            os.replace(tmp, directory / name)

    def spawn_bird(self, node: str, config_file: Path, dialect: str = "1") -> procs.Proc:
        bird = binaries.bird_binaries(dialect).bird
        sock = Path(self.bird_socket(node))
        sock.unlink(missing_ok=True)
        return procs.spawn(f"bird:{self.topo.node(node).name}", self.ns(node),
                           [str(bird), "-f", "-c", str(config_file), "-s", str(sock)],
                           self.node_dir(node) / "bird.out")

    def start_bird(self, node: str, config_file: Path, dialect: str = "1") -> None:
        self.state.add_processes([self.spawn_bird(node, config_file, dialect)])

    def bird_config_file(self, node: str) -> Path:
        name = self.topo.node(node).name
        return self.node_dir(name) / ("bird.conf" if name == self.topo.bastion.name else "bird.cfg")

    def stop_bird(self, node: str) -> bool:
        """SIGTERM the node's BIRD (it withdraws its routes at once). False if it was not running."""
        role = f"bird:{self.topo.node(node).name}"
        proc = self.state.process(role)
        stopped = bool(proc and procs.stop([proc]))
        self.state.drop_process(role)
        return stopped

    def restart_bird(self, node: str) -> None:
        """Start the node's BIRD again on the config it has on disk."""
        name = self.topo.node(node).name
        proc = self.state.process(f"bird:{name}")
        if proc and procs.alive(proc):
            raise LabError(f"BIRD on {name} is already running (pid {proc.pid})")
        dialect = self.state.bastion_bird if name == self.topo.bastion.name else "1"
        self.start_bird(name, self.bird_config_file(name), dialect)

    def preflight(self) -> None:
        """Nothing to check ahead: `make deps` installs what this engine runs."""

    def up(self, bastion: BastionConfig, plan: ClusterPlan, progress: Progress) -> None:
        speakers = plan.speakers
        t = time.perf_counter()
        self.dir.mkdir(parents=True, exist_ok=True)
        started: list[procs.Proc] = []

        def start(node: LabNode) -> None:
            d = self.node_dir(node.name)
            if node is self.topo.bastion:
                self._write(d, {"bird.conf": bastion.render()})
                started.append(self.spawn_bird(node.name, d / "bird.conf", bastion.dialect))
            else:
                self._write(d, speakers[node.name].render(d))
                started.append(self.spawn_bird(node.name, d / "bird.cfg"))

        try:
            self.build_network(start)
        finally:
            self.state.add_processes(started)
        progress(f"{len(self.topo.routers) + 1} namespaces on segment {self.topo.segment}, BIRD started "
                 f"on the bastion and {len(speakers)} nodes ({time.perf_counter() - t:.2f} s)")

    def apply_speakers(self, speakers: dict[str, SpeakerConfig]) -> list[str]:
        changed = []
        for node, cfg in speakers.items():
            d = self.node_dir(node)
            files = cfg.render(d)
            if all((d / n).is_file() and (d / n).read_text() == text for n, text in files.items()):
                continue
            self._write(d, files)
            reply = self.birdc(node, "configure")
            if not reply.ok:
                raise LabError(f"{node}: BIRD refused the new configuration: {reply.text}")
            changed.append(node)
        return changed

    def apply(self, plan: ClusterPlan) -> SyncReport:
        speakers = self.apply_speakers(plan.speakers)
        from orchestrator.engines.controllers import Controllers  # the k8s plane loads on first use

        report = Controllers(self).sync(plan)
        report.speakers = speakers
        return report

    def get(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        from orchestrator.cluster import Store
        from orchestrator.k8s import api

        from orchestrator.engines.controllers import Controllers

        found = api.views(api.kind_of(kind), Store(self.topo.name).load(), Controllers(self).allocations())
        return [v.body for v in api.select(found, None, namespace)]

    def gateway_backend_sessions(self) -> int | None:
        """Connections the gateway proxies have passed to backends (None: no proxy answers)."""
        from orchestrator.engines.controllers import Controllers
        from orchestrator.engines.pods import PodPlane

        ctl = Controllers(self)
        plane = PodPlane(self, [])
        counts = [plane.backend_sessions(p) for p in ctl.pods() if p.role == "gateway"]
        known = [c for c in counts if c is not None]
        return sum(known) if known else None

    def host_pods(self) -> list[HostPod]:
        from orchestrator.engines.controllers import Controllers
        from orchestrator.engines.pods import PodPlane, cali_name, pod_ns

        alloc = Controllers(self).allocations()
        plane = PodPlane(self, [])
        return [HostPod(spec, pod_ns(self.topo.name, spec), cali_name(spec), spec.key in alloc.ready,
                        plane.paths(spec).log) for spec in alloc.pod_specs()]

    # -- using it ----------------------------------------------------------------------------
    def birdc(self, node: str, command: str) -> Reply:
        return ask(self.bird_socket(node), command)

    def exec(self, node: str, argv: list[str], capture: bool = False,
             timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        ns = self.ns(node)
        if not netns.exists(ns):
            raise LabError(f"node {node} of lab {self.topo.name} is not up")
        return subprocess.run(argv, preexec_fn=lambda: netns.enter(ns), capture_output=capture,
                              timeout=timeout, check=False)

    def kernel_routes(self, node: str, dst: IPv4Network) -> list[KernelRoute]:
        ipr = self._ipr_for(self.ns(node))
        out = []
        # A dump filtered here: a dst given to the kernel would be a route lookup, not a match.
        for r in ipr.get_routes(family=2, table=254):
            if r.get("dst_len") != dst.prefixlen or r.get_attr("RTA_DST") != str(dst.network_address):
                continue
            gws: list[IPv4Address] = []
            if r.get_attr("RTA_GATEWAY"):
                gws.append(IPv4Address(r.get_attr("RTA_GATEWAY")))
            for hop in r.get_attr("RTA_MULTIPATH") or []:
                gws += [IPv4Address(v) for k, v in hop.get("attrs", []) if k == "RTA_GATEWAY"]
            kind = {1: "unicast", 6: "blackhole", 7: "unreachable", 8: "prohibit"}.get(r.get("type"), "other")
            out.append(KernelRoute(dst, tuple(sorted(gws)), kind))
        return out

    # -- tearing it down ---------------------------------------------------------------------
    def down(self) -> list[str]:
        self.close()
        return teardown(self.topo.name, self.state)
