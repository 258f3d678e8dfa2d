"""NetnsEngine: the Engine protocol on this host's network namespaces (see the package's docstring).

It builds the network (network), runs BIRD on each router under the lab's process registry (procs),
and hands the Kubernetes side to the controllers, which see only the NodeHost, not the engine.
"""

from __future__ import annotations

import subprocess
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from orchestrator.bird import binaries
from orchestrator.bird.birdc import Reply, ask
from orchestrator.bird.config import BastionConfig
from orchestrator.calico.speakers import SpeakerConfig
from orchestrator.cluster import ClusterPlan
from orchestrator.engines.base import Engine, HostPod, KernelRoute, Progress, SyncReport
from orchestrator.engines.netns import procs
from orchestrator.engines.netns.host import NodeHost
from orchestrator.engines.netns.network import build_network
from orchestrator.engines.netns.teardown import teardown
from orchestrator.errors import LabError
from orchestrator.fsutil import atomic_write, private_dir
from orchestrator.state import LabState, Proc
from orchestrator.timing import phase
from orchestrator.topology import LabNode, Topology


class NetnsEngine(Engine):
    name = "netns"

    def __init__(self, topo: Topology, state: LabState) -> None:
        self.topo = topo
        self.state = state
        self.host = NodeHost(topo, state)
        self.dir = self.host.dir

    # -- names and places -------------------------------------------------------------------
    def ns(self, node: str) -> str:
        return self.host.ns(node)

    def node_dir(self, node: str) -> Path:
        return self.host.node_dir(node)

    def bird_socket(self, node: str) -> str:
        return str(self.host.files.node(self.topo.node(node).name).bird_socket)

    def close(self) -> None:
        self.host.close()

    @staticmethod
    def _write(directory: Path, files: dict[str, str]) -> None:
        for name, text in files.items():
            atomic_write(directory / name, text)

    def spawn_bird(self, node: str, dialect: str = "1") -> Proc:
        """Start the node's BIRD on its config file (written before)."""
        bird = binaries.bird_binaries(dialect).bird
        files = self.host.files.node(self.topo.node(node).name)
        files.bird_socket.unlink(missing_ok=True)
        return procs.spawn(f"bird:{self.topo.node(node).name}", self.ns(node),
                           [str(bird), "-f", "-c", str(files.bird_config), "-s", str(files.bird_socket)],
                           files.bird_out, caps=procs.BIRD_CAPS)

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
        self.state.add_processes([self.spawn_bird(name, dialect)])

    def preflight(self) -> None:
        """Nothing to check ahead: `make deps` installs what this engine runs."""

    def up(self, bastion: BastionConfig, plan: ClusterPlan, progress: Progress) -> None:
        speakers = plan.speakers
        t = time.perf_counter()
        private_dir(self.dir)
        started: list[Proc] = []

        def start(node: LabNode) -> None:
            files = self.host.files.node(node.name)
            with phase("BIRD configs (rendered, written)"):
                private_dir(files.dir)  # the bastion's config may live elsewhere (/etc/netns), its socket and log here
                if node is self.topo.bastion:
                    atomic_write(files.bird_config, bastion.render())
                else:
                    self._write(files.dir, speakers[node.name].render(files.dir, self.state.bgp_timers))
                    # In `gwlab shell NODE`, /etc/bird/ must be the node's, never the host's: it says where
                    # calico-node's config is (confd's files stay in the run directory).
                    atomic_write(self.host.files.etc(node.name) / "bird" / "bird.conf",
                                 f"# {node.name}: calico-node's BIRD reads {files.bird_config} (confd's bird.cfg)\n",
                                 0o644)
            with phase("BIRD spawn"):
                started.append(self.spawn_bird(node.name, bastion.dialect if node is self.topo.bastion else "1"))

        try:
            build_network(self.host, start)
        finally:
            self.state.add_processes(started)
        progress(f"{len(self.topo.routers) + 1} namespaces on segment {self.topo.segment}, BIRD started "
                 f"on the bastion and {len(speakers)} nodes ({time.perf_counter() - t:.2f} s)")

    def apply_speakers(self, speakers: dict[str, SpeakerConfig]) -> list[str]:
        """Each node's BIRD reconfigured in place (same PID) where its config changed; the /32s of
        Local Services come from the controllers' last sync."""
        from orchestrator.engines.netns.controllers import Controllers

        local = Controllers(self.host).allocations().local_services
        changed = []
        for node, cfg in speakers.items():
            d = self.node_dir(node)
            files = cfg.with_local_services(local.get(node, [])).render(d, self.state.bgp_timers)
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
        from orchestrator.engines.netns.controllers import Controllers  # the k8s plane loads on first use

        report = Controllers(self.host).sync(plan)
        report.speakers = sorted(set(speakers) | set(self.apply_speakers(plan.speakers)))
        return report

    def get(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        # the objects as the lab's API server stores them, status included
        from orchestrator.controlplane.objects import bodies

        return bodies(self.host.files.api_store, kind, namespace)

    def pod_host(self) -> NodeHost:
        """The host as the pods' records know it (the control plane keeps them in pods.json)."""
        from orchestrator.engines.netns.records import PodRecords

        return self.host if isinstance(self.state, PodRecords) else NodeHost(self.topo, PodRecords.open(self.state))

    def gateway_backend_sessions(self) -> int | None:
        """Connections the gateway proxies have passed to backends (None: no proxy answers)."""
        from orchestrator.engines.netns.controllers import Controllers
        from orchestrator.engines.netns.pods import PodPlane

        host = self.pod_host()
        ctl = Controllers(host)
        plane = PodPlane(host, [])
        counts = [plane.backend_sessions(p) for p in ctl.pods() if p.role == "gateway"]
        known = [c for c in counts if c is not None]
        return sum(known) if known else None

    def local_service_nodes(self) -> dict[IPv4Address, set[str]]:
        from orchestrator.engines.netns.controllers import Controllers

        out: dict[IPv4Address, set[str]] = {}
        for node, addresses in Controllers(self.host).allocations().local_services.items():
            for a in addresses:
                out.setdefault(IPv4Address(a), set()).add(node)
        return out

    def host_pods(self) -> list[HostPod]:
        from orchestrator.engines.netns.controllers import Controllers
        from orchestrator.engines.netns.pods import PodPlane, cali_name, pod_ns

        alloc = Controllers(self.host).allocations()
        plane = PodPlane(self.pod_host(), [])
        return [HostPod(spec, pod_ns(self.topo.name, spec), cali_name(spec), spec.key in alloc.ready,
                        plane.paths(spec).log) for spec in alloc.pod_specs()]

    # -- using it ----------------------------------------------------------------------------
    def birdc(self, node: str, command: str) -> Reply:
        return ask(self.bird_socket(node), command)

    def exec(self, node: str, argv: list[str], capture: bool = False,
             timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        return self.host.exec(node, argv, capture, timeout)

    def kernel_routes(self, node: str, dst: IPv4Network) -> list[KernelRoute]:
        # From one `ip -j` dump: pyroute2 took 0.6-0.8 s to parse a table of 3,000 routes, per prefix.
        return self.kernel_table(node).get(dst, [])

    # -- tearing it down ---------------------------------------------------------------------
    def down(self) -> list[str]:
        self.close()
        return teardown(self.topo.name, self.state)
