"""A lab on this host: its topology, its state file, the engine that runs it and the current cluster
plan (the stored objects, validated, and what they imply). Opening a lab computes the plan once;
`Lab.apply` refreshes it; every reader asks the lab for it instead of reading the store again.

Above this module: the bastion's filter push (bastion), the workshop's demo (demo), the checks of a
whole lab (verification) and `up` (runbook)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path

from orchestrator import checks, cluster, timing, topology
from orchestrator.bird.config import BastionConfig, bastion_config
from orchestrator.controlplane import process as controlplane, writes
from orchestrator.controlplane.client import Client
from orchestrator.controlplane.objects import from_file as stored_objects
from orchestrator.controlplane.marker import Marker
from orchestrator.engines import get_engine
from orchestrator.engines.base import Engine, SyncReport
from orchestrator.engines.netns import namespaces, procs
from orchestrator.errors import LabError
from orchestrator.manifests import Document
from orchestrator.rundir import RunDir
from orchestrator.state import LabState, changing, run_dir

DEFAULT_TOPOLOGY = topology.DEFAULT_PATH


@dataclass
class Lab:
    """A lab on this host: its topology, its state file, the engine that runs it, its cluster plan."""

    topo: topology.Topology
    state: LabState
    engine: Engine
    _plan: cluster.ClusterPlan | None = field(default=None, repr=False)
    # Objects validated before the API server ran (`up`'s Calico manifests): the first apply stores them.
    unstored: list[Document] = field(default_factory=list, repr=False)
    _client: Client | None = field(default=None, repr=False)

    @property
    def plan(self) -> cluster.ClusterPlan:
        """The current cluster plan: computed from the API server's objects once, then kept by `apply`."""
        if self._plan is None:
            self._plan = cluster.plan(self.topo, stored_objects(self.files.api_store) + self.unstored)
        return self._plan

    @property
    def has_api_server(self) -> bool:
        """The netns engine's cluster is emulated: its API server is the lab's control plane."""
        return self.engine.name == "netns"

    @property
    def api(self) -> Client:
        """gwlab's own client of the lab's API server (from inside the bastion's namespace)."""
        if self._client is None:
            self._client = controlplane.client(self.topo)
            self._client.wait_ready()
        return self._client

    @property
    def files(self) -> RunDir:
        return RunDir.of(self.topo, self.state.engine)

    @property
    def bastion_conf(self) -> Path:
        return self.files.node(self.topo.bastion.name).bird_config

    def lb_prefixes(self) -> list[IPv4Network]:
        bgp = cluster.calico_objects(self.plan.parsed).bgp
        return list(bgp.service_lb_ips) if bgp else []

    def blocks(self) -> dict[str, IPv4Network]:
        observed = self.engine.ipam_blocks()  # known to an engine whose IPAM is real Calico's
        if observed is not None:
            return observed
        return {node: s.blocks[0] for node, s in self.plan.speakers.items() if s.blocks}

    def apply(self, docs: list[Document], deleted: list[tuple[str, str, str]] | None = None) -> ApplyResult:
        """Validate the change whole, write it through the API, then wait for the control plane's
        controllers (the speakers, pods, proxies, statuses) to have caught up with it."""
        with changing(self.topo.name):
            # Calico's BGP objects before the pools: the control plane may reconcile between two
            # writes, and pools without the BGPPeer took the bastion's sessions down (reconfigured
            # without the peer, then with it: up waited a second more); BGP objects without pools are
            # refused whole, changing nothing.
            peering = [d for d in self.unstored if d.body.get("kind") in ("BGPConfiguration", "BGPPeer")]
            docs = peering + [d for d in self.unstored if d not in peering] + docs
            if not self.has_api_server:  # an engine whose cluster is real (kind): it is the store
                plan = cluster.plan(self.topo, self.plan.docs, docs, deleted or [])
                self._plan, self.unstored = plan, []
                return ApplyResult(plan.changes, self.engine.apply(plan))
            # The store, not the kept plan, is the base: another command may have changed it since.
            plan = cluster.plan(self.topo, stored_objects(self.files.api_store), docs, deleted or [])
            ignored = {cluster.key(c.doc): c.ignored for c in plan.changes}
            before = Marker.read(self.files.reconciled)
            rv_before = writes.store_rv(self.files)
            changes, rv = writes.write(self.api, docs, ignored, deleted or [])
            self.unstored = []
            report = writes.wait_reconciled(self.files, rv, since=rv_before)
            timing.absorb(Marker.read(self.files.reconciled).phases_since(before), "control plane: ")
            self._plan = plan  # what the store now holds, but for fields the server fills in (no reader's)
            return ApplyResult(changes, report)

    def bastion_config(self, accepted: tuple[IPv4Network, ...]) -> BastionConfig:
        return bastion_config(self.topo, str(self.files.node(self.topo.bastion.name).bird_log),
                              self.state.bastion_bird, accepted, self.state.bgp_timers)

    def bgp_checks(self) -> list[checks.Check]:
        # The Local Services' /32s are checked where the engine knows them and the lab has some.
        local = self.engine.local_service_nodes
        return checks.bgp_checks(self.topo, self.lb_prefixes(), self.blocks(), self.state.facts,
                                 local if local() else None)


@dataclass(frozen=True)
class ApplyResult:
    changes: list[cluster.Change]
    sync: SyncReport

    def lines(self) -> list[str]:
        return [c.line() for c in self.changes] + self.sync.lines()


load_topology = topology.load_named


def open_lab(path: Path | str | None, name: str | None) -> Lab:
    """A lab that is up (or half up): its topology is the one it was started from."""
    lab_name = name or load_topology(path, None).name
    state = LabState.load(lab_name)
    if state is None:
        raise LabError(f"lab {lab_name!r} is not up (no state in {run_dir(lab_name)}); start it with `gwlab up`")
    topo = load_topology(state.topology, lab_name)
    return Lab(topo, state, get_engine(state.engine, topo, state))


def is_running(state: LabState) -> bool:
    return (state.phase == "up" and all(namespaces.exists(n) for n in state.namespaces)
            and all(procs.alive(p) for p in state.processes))
