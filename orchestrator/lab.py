"""The shared steps of a lab, whatever the engine: up, the bastion's filter push, verify, down."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import FrameType

from orchestrator import bastion, checks, cluster, netns, procs, topology
from orchestrator.bird.config import PRE_EXISTING_ACCEPT, BastionConfig, bastion_config
from orchestrator.engines import Engine, Progress, SyncReport, get_engine
from orchestrator.errors import LabError
from orchestrator.manifests import Document, read_documents
from orchestrator.state import LabState, changing, lab_of_ns, run_dir

DEFAULT_TOPOLOGY = topology.DEFAULT_PATH
ESTABLISH_WAIT = 20.0  # seconds up waits for sessions and routes before it reports failure


class AlreadyUp(LabError):
    pass


@dataclass
class Lab:
    """A lab on this host: its topology, its state file and the engine that runs it."""

    topo: topology.Topology
    state: LabState
    engine: Engine

    @property
    def bastion_conf(self) -> Path:
        return run_dir(self.topo.name) / self.topo.bastion.name / "bird.conf"

    def current_plan(self) -> cluster.ClusterPlan:
        return cluster.plan(self.topo, cluster.Store(self.topo.name).load())

    def lb_prefixes(self) -> list[IPv4Network]:
        bgp = cluster.calico_objects(self.current_plan().parsed).bgp
        return list(bgp.service_lb_ips) if bgp else []

    def blocks(self) -> dict[str, IPv4Network]:
        observed = getattr(self.engine, "ipam_blocks", None)  # an engine whose IPAM is real Calico's
        if observed is not None:
            return dict(observed())
        return {node: s.blocks[0] for node, s in self.current_plan().speakers.items() if s.blocks}

    def apply(self, docs: list[Document], deleted: list[tuple[str, str, str]] | None = None) -> ApplyResult:
        """Validate the change whole, store it, then let the speakers and controllers catch up."""
        with changing(self.topo.name):
            store = cluster.Store(self.topo.name)
            plan = cluster.plan(self.topo, store.load(), docs, deleted or [])
            store.save(plan.docs)
            return ApplyResult(plan.changes, self.engine.apply(plan))

    def bastion_config(self, accepted: tuple[IPv4Network, ...]) -> BastionConfig:
        return bastion_config(self.topo, str(run_dir(self.topo.name) / self.topo.bastion.name / "bird.log"),
                              self.state.bastion_bird, accepted)

    def bgp_checks(self) -> list[checks.Check]:
        return checks.bgp_checks(self.topo, self.lb_prefixes(), self.blocks(), self.state.facts)

    def all_checks(self) -> list[checks.Check]:
        from orchestrator import demo

        return self.bgp_checks() + (demo.passthrough_checks(self) if demo.demo_applied(self) else [])

    def verify(self, wait: float = 0.0) -> list[checks.Result]:
        return checks.run(self.engine, self.all_checks(), wait)


@dataclass(frozen=True)
class ApplyResult:
    changes: list[cluster.Change]
    sync: SyncReport

    def lines(self) -> list[str]:
        return [c.line() for c in self.changes] + self.sync.lines()


def load_topology(path: Path | str | None, name: str | None) -> topology.Topology:
    topo = topology.load(path or DEFAULT_TOPOLOGY)
    return topo.with_name(name) if name else topo


def open_lab(path: Path | str | None, name: str | None) -> Lab:
    """A lab that is up (or half up): its topology is the one it was started from."""
    lab_name = name or load_topology(path, None).name
    state = LabState.load(lab_name)
    if state is None:
        raise LabError(f"lab {lab_name!r} is not up (no state in {run_dir(lab_name)}); start it with `gwlab up`")
    topo = load_topology(state.topology, lab_name)
    return Lab(topo, state, get_engine(state.engine, topo, state))


def is_running(state: LabState) -> bool:
    return (state.phase == "up" and all(netns.exists(n) for n in state.namespaces)
            and all(procs.alive(p) for p in state.processes))


@contextmanager
def _interruptible() -> Iterator[Callable[[], None]]:
    """Ctrl-C, SIGTERM and SIGHUP during `up` unwind, so the rollback runs. A signal is remembered
    as well as raised: Python drops a KeyboardInterrupt raised inside some callbacks (an import
    lock's weakref callback, seen here), so `up` checks again between its steps (the checkpoint)."""
    received: list[int] = []

    def on_signal(signum: int, _: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    def checkpoint() -> None:
        if received:
            raise KeyboardInterrupt(f"signal {received[0]}")
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield checkpoint
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@dataclass
class UpReport:
    lab: str
    results: list[checks.Result]
    phases: dict[str, float] = field(default_factory=dict)
    push_steps: list[str] = field(default_factory=list)


def up(path: Path | str | None = None, name: str | None = None, engine_name: str = "netns",
       bastion_bird: str = "1", progress: Progress = lambda _: None,
       manifests: list[Path] | None = None, demo: bool = True) -> UpReport:
    with changing(name or load_topology(path, None).name):
        return _up(path, name, engine_name, bastion_bird, progress, manifests, demo)


def _up(path: Path | str | None, name: str | None, engine_name: str, bastion_bird: str, progress: Progress,
        manifests: list[Path] | None, demo: bool) -> UpReport:
    t0 = time.perf_counter()
    phases: dict[str, float] = {}
    topo = load_topology(path, name)
    # Everything is validated, and the engine's prerequisites checked, before anything is created.
    plan = cluster.plan(topo, [], cluster.base_documents(manifests))
    lab_name = topo.name
    state = LabState(lab_name, engine_name, str(topo.path.resolve()), bastion_bird=bastion_bird)
    engine = get_engine(engine_name, topo, state)
    engine.preflight()
    existing = LabState.load(lab_name)
    if existing is not None and is_running(existing):
        raise AlreadyUp(f"lab {lab_name!r} is already up (engine {existing.engine}, {len(existing.namespaces)} "
                        f"namespaces); `gwlab verify` checks it, `gwlab down` removes it")
    if existing is not None or any(lab_of_ns(n) == lab_name for n in netns.list_names()):
        progress(f"removing what an earlier, unfinished run of lab {lab_name!r} left behind")
        if existing is not None:
            get_engine(existing.engine, topo, existing).down()
        else:
            from orchestrator.teardown import teardown

            teardown(lab_name, None)
    phases["validate"] = time.perf_counter() - t0
    state.save()
    lab = Lab(topo, state, engine)
    try:
        with _interruptible() as checkpoint:
            def step(line: str) -> None:
                checkpoint()
                progress(line)
            t = time.perf_counter()
            lab.engine.up(lab.bastion_config(PRE_EXISTING_ACCEPT), plan, step)
            checkpoint()
            cluster.Store(lab_name).save(plan.docs)
            for change in plan.changes:
                if change.ignored:
                    progress(change.line())
            phases["build"] = time.perf_counter() - t
            report = UpReport(lab_name, [], phases)
            if demo:
                # The demo's pods, certificates and proxy are built while BGP comes up.
                from orchestrator import demo as workshop

                t = time.perf_counter()
                workshop.run(lab, step)
                phases["demo steps 1-5"] = time.perf_counter() - t
            if manifests:
                # The user's manifests come last, over the workshop's objects of the same name, and
                # whatever they hold besides Calico's kinds is reconciled like any `gwlab apply`.
                for line in lab.apply(read_documents(manifests)).lines():
                    step(line)
            checkpoint()
            _establish_and_push(lab, report, step)
            checkpoint()
            state.phase = "up"
            state.save()
    except BaseException:
        lab.engine.down()  # first: telling the user must not stand in the way (a closed pipe, SIGHUP)
        with suppress(OSError):
            progress(f"up did not finish: removed lab {lab_name!r}")
        raise
    phases["total"] = time.perf_counter() - t0
    return report


def _establish_and_push(lab: Lab, report: UpReport, progress: Progress) -> None:
    """Wait for the sessions and for the LB routes to arrive filtered, then push the filter."""
    topo, t = lab.topo, time.perf_counter()
    lb = lab.lb_prefixes()
    arrived = [checks.session_check(topo, n.bgp_name, n.ip) for n in topo.k8s_nodes]
    arrived += [_filtered_check(topo, p) for p in lb]
    results = checks.run(lab.engine, arrived, wait=ESTABLISH_WAIT)
    report.phases["bgp established"] = time.perf_counter() - t
    if not all(r.ok for r in results):
        report.results = results
        progress("BGP did not come up: " + "; ".join(f"{r.name}: {r.observed}" for r in results if not r.ok))
        return
    snap = checks.Snapshot(lab.engine)
    lab.state.facts["filtered_before_push"] = {
        str(p): sorted(str(x.gateway) for x in snap.filtered()[p].paths if x.gateway) for p in lb}
    lab.state.save()
    progress(f"BGP: {len(topo.k8s_nodes)} sessions Established; "
             f"{', '.join(map(str, lb))} filtered by the bastion's import filter, as in the workshop")
    t = time.perf_counter()
    accepted = tuple(dict.fromkeys(PRE_EXISTING_ACCEPT + tuple(lb)))
    result = bastion.push_filter(lab, accepted)
    report.push_steps = result.steps
    report.phases["filter push"] = time.perf_counter() - t
    progress(("pushed" if result.confirmed else "rolled back") + " the bastion's import filter accepting "
             + ", ".join(map(str, accepted)))
    t = time.perf_counter()
    report.results = lab.verify(wait=2.0)
    report.phases["verify"] = time.perf_counter() - t


def _filtered_check(topo: topology.Topology, prefix: IPv4Network) -> checks.Check:
    nodes = {n.ip for n in topo.k8s_nodes}

    def evaluate(s: checks.Snapshot) -> tuple[bool, str]:
        route = s.filtered().get(prefix)
        via = {IPv4Address(p.gateway) for p in route.paths if p.gateway} if route else set()
        return nodes <= via, f"filtered from {len(via)} nodes"
    return checks.Check(f"{prefix} filtered", "bastion: show route filtered", "from every node", evaluate)
