"""`gwlab up`, the one code path of every engine: validate everything, build the lab, run the workshop's
demo steps while BGP comes up, wait for the sessions, push the bastion's filter, verify.

A Ctrl-C (or SIGTERM, SIGHUP) at any point removes what was made."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import FrameType

from orchestrator import bastion, checks, cluster, repair, topology
from orchestrator.controlplane import heartbeats, nodelife, process as controlplane
from orchestrator.timing import Clock, phase, recording
from orchestrator.engines.netns import namespaces
from orchestrator.bird.config import PRE_EXISTING_ACCEPT
from orchestrator.engines import get_engine
from orchestrator.engines.base import Progress
from orchestrator.errors import LabError
from orchestrator.lab import Lab, is_running, load_topology, open_lab
from orchestrator.manifests import group_of, read_documents
from orchestrator.state import LabState, changing, lab_of_ns

__all__ = ["AlreadyUp", "Lab", "UpReport", "is_running", "load_topology", "open_lab", "up"]

ESTABLISH_WAIT = 20.0  # seconds up waits for sessions and routes before it reports failure
# What the workshop's reader applies in prerequisites 1-2: `up --pre-workshop` leaves them out.
WORKSHOP_PREREQUISITES = {("IPPool", "loadbalancer-ip-pool"), ("BGPConfiguration", "default"),
                          ("BGPPeer", "my-global-peer")}


class AlreadyUp(LabError):
    pass


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
    phases: dict[str, float] = field(default_factory=dict)  # filled by `up`: where its time went
    push_steps: list[str] = field(default_factory=list)


def up(path: Path | str | None = None, name: str | None = None, engine_name: str = "netns",
       bastion_bird: str = "1", progress: Progress = lambda _: None,
       manifests: list[Path] | None = None, demo: bool = True, timers: str = "fast",
       pre_workshop: bool = False) -> UpReport:
    """`pre_workshop`: stop where the workshop's reader starts (no demo, no filter push, and without
    the workshop's LoadBalancer IPPool, BGPConfiguration and BGPPeer, so no bastion session yet)."""
    clock = Clock()
    with recording(clock), clock.phase("up: lock, progress lines, between phases"), \
            changing(name or load_topology(path, None).name):
        report = _up(path, name, engine_name, bastion_bird, progress, manifests, demo and not pre_workshop,
                     timers, pre_workshop)
    report.phases = clock.phases
    return report


def _up(path: Path | str | None, name: str | None, engine_name: str, bastion_bird: str, progress: Progress,
        manifests: list[Path] | None, demo: bool, timers: str = "fast", pre_workshop: bool = False) -> UpReport:
    with phase("validate (topology, manifests, cluster plan)"):
        topo = load_topology(path, name)
        docs = cluster.base_documents(manifests)
        if pre_workshop:
            docs = [d for d in docs if (cluster.key(d)[0], cluster.key(d)[2]) not in WORKSHOP_PREREQUISITES]
        # Everything is validated, and the engine's prerequisites checked, before anything is created.
        plan = cluster.plan(topo, [], docs)
        lab_name = topo.name
        built_from = repair.digest(topo, [engine_name, bastion_bird, timers, str(demo), str(pre_workshop)],
                                   manifests or [])
        state = LabState(lab_name, engine_name, str(topo.path.resolve()), bastion_bird=bastion_bird,
                         bgp_timers=timers, built_from=built_from)
        with phase("engine loaded (its modules, netlink), preflight"):
            engine = get_engine(engine_name, topo, state)
            engine.preflight()
        from orchestrator.faults import setup  # declared impairments: checked here, before anything is made

        impairments = setup.declared_for_up(topo)
    with phase("earlier runs (running lab, leftovers)"):
        resumed = _repairable(topo, built_from, progress)
        if resumed is None:
            _clear_earlier(topo, lab_name, progress)
    if resumed is not None:
        state, engine = resumed, get_engine(engine_name, topo, resumed)
        with phase("repair"):
            for line in repair.restart(topo, state, repair.assess(state).dead):
                progress(line)
        if state.phase == "up":  # the user's objects stand: nothing of the workshop is applied again
            lab = Lab(topo, state, engine)  # its plan read from the store: the user's objects
            with phase("verify"):
                from orchestrator import verification

                return UpReport(lab_name, verification.verify(lab, wait=2.0))
    for note in topo.notes if engine_name == "netns" and resumed is None else ():
        progress(note)
    with phase("state file"):
        state.save()
    lab = Lab(topo, state, engine, plan)
    try:
        with _interruptible() as checkpoint:
            def step(line: str) -> None:
                checkpoint()
                progress(line)
            lab.unstored = list(plan.docs)
            if resumed is None:
                with phase("build (other)"):
                    lab.engine.up(lab.bastion_config(bastion_accepts(plan)), plan, step)
                    checkpoint()
                with phase("control plane start"):
                    # The API server and controllers start beside BIRD: their start hides under BIRD's first second.
                    if lab.has_api_server:
                        controlplane.start(topo, state)
                        heartbeats.start(topo, state)
                        progress(nodelife.summary())
                for change in plan.changes:
                    if change.ignored:
                        progress(change.line())
                with phase("impairments"):
                    setup.after_build(lab, impairments, step)
                with phase("state file"):
                    state.phase = "built"  # a crash from here on leaves a lab the next `up` repairs
                    state.save()
            report = UpReport(lab_name, [])
            if demo:
                # The demo's pods, certificates and proxy are built while BGP comes up. (Its module,
                # and verification's, load here: pki's cryptography would delay BIRD's start.)
                with phase("demo steps 1-5"):
                    from orchestrator import demo as workshop

                    workshop.run(lab, step)
            if lab.unstored:
                with phase("cluster objects to the API server"):
                    lab.apply([])  # without the demo, the Calico manifests still go to the API server
            if manifests and _beyond_calico(manifests):
                # The user's manifests come last, over the workshop's objects of the same name, and
                # whatever they hold besides Calico's kinds is reconciled like any `gwlab apply`.
                # (Calico's kinds are in the plan the lab was built from: nothing to do again.)
                with phase("user manifests"):
                    for line in lab.apply(read_documents(manifests)).lines():
                        step(line)
            checkpoint()
            if pre_workshop:
                _await_speakers(lab, report, step)
            else:
                _establish_and_push(lab, report, step)
            checkpoint()
            with phase("state file"):
                state.phase = "up"
                state.save()
    except BaseException:
        lab.engine.down()  # first: telling the user must not stand in the way (a closed pipe, SIGHUP)
        with suppress(OSError):
            progress(f"up did not finish: removed lab {lab_name!r}")
        raise
    return report


def bastion_accepts(plan: cluster.ClusterPlan) -> tuple[IPv4Network, ...]:
    """The bastion's filter before the workshop's push: the workshop's pod pool, and any bigger pod
    pool the lab was given (a 200-node lab's /20 holds the workshop's /24: its first 16 blocks are
    the same), as the bastion's owner wrote it for the cluster it serves."""
    from orchestrator.calico.ipam import workload_pools

    pools = [p.cidr for p in workload_pools(cluster.calico_objects(plan.parsed).pools)]
    extra = [c for c in pools if not any(c.subnet_of(a) for a in PRE_EXISTING_ACCEPT)]
    return tuple(dict.fromkeys(PRE_EXISTING_ACCEPT + tuple(extra)))


def _beyond_calico(files: list[Path]) -> bool:
    return any(group_of(d.api_version) != "projectcalico.org" for d in read_documents(files))


def _repairable(topo: topology.Topology, built_from: str, progress: Progress) -> LabState | None:
    """The lab's state when an earlier `up` of the same topology and options built it and it stands
    (its control plane or a daemon may have died, `up` may have died after the build): `up` repairs
    it then, keeping the user's objects. None: there is nothing, or it is built anew (saying why)."""
    existing = LabState.load(topo.name)
    if existing is None or existing.engine != "netns" or is_running(existing):
        return None
    damage = repair.assess(existing)
    why = damage.why_not(existing, built_from)
    if why:
        progress(f"lab {topo.name!r} cannot be repaired ({why}): building it anew")
        return None
    what = "built by an `up` that did not finish" if existing.phase != "up" else "up"
    dead = ", ".join(p.role for p in damage.dead) or "none"
    progress(f"lab {topo.name!r} stands ({what}): repairing it in place, its namespaces and objects kept "
             f"(dead: {dead})")
    return existing


def _clear_earlier(topo: topology.Topology, lab_name: str, progress: Progress) -> None:
    existing = LabState.load(lab_name)
    if existing is not None and is_running(existing):
        raise AlreadyUp(f"lab {lab_name!r} is already up (engine {existing.engine}, {len(existing.namespaces)} "
                        f"namespaces); `gwlab verify` checks it, `gwlab down` removes it")
    if existing is not None or any(lab_of_ns(n) == lab_name for n in namespaces.list_names()):
        progress(f"removing what an earlier, unfinished run of lab {lab_name!r} left behind")
        if existing is not None:
            get_engine(existing.engine, topo, existing).down()
        else:
            from orchestrator.engines.netns.teardown import teardown

            teardown(lab_name, None)


def _establish_and_push(lab: Lab, report: UpReport, progress: Progress) -> None:
    """Wait for the sessions and for the LB routes to arrive filtered, then push the filter."""
    topo = lab.topo
    lb = lab.lb_prefixes()
    # An `up` resumed after its push began saw them filtered already: the bastion may accept them now.
    seen = lab.state.facts.filtered_before_push or {}
    with phase("wait for Established, LB routes filtered"):
        arrived = [checks.session_check(topo, n.bgp_name, n.ip) for n in topo.k8s_nodes]
        arrived += [_filtered_check(topo, p) for p in lb if str(p) not in seen]
        results = checks.run(lab.engine, arrived, wait=ESTABLISH_WAIT)
    if not all(r.ok for r in results):
        report.results = results
        progress("BGP did not come up: " + "; ".join(f"{r.name}: {r.observed}" for r in results if not r.ok))
        return
    with phase("filter push"):
        snap = checks.Snapshot(lab.engine)
        lab.state.facts.filtered_before_push = {**{
            str(p): sorted(str(x.gateway) for x in snap.filtered()[p].paths if x.gateway)
            for p in lb if str(p) not in seen}, **seen}
        lab.state.save()
        progress(f"BGP: {len(topo.k8s_nodes)} sessions Established; "
                 f"{', '.join(map(str, lb))} filtered by the bastion's import filter, as in the workshop")
        accepted = tuple(dict.fromkeys(bastion_accepts(lab.plan) + tuple(lb)))
        from orchestrator import bastion  # loaded under BIRD's first second, not before BIRD starts

        result = bastion.push_filter(lab, accepted)
        report.push_steps = result.steps
        progress(("pushed" if result.confirmed else "rolled back") + " the bastion's import filter accepting "
                 + ", ".join(map(str, accepted)))
    with phase("verify"):
        from orchestrator import verification

        report.results = verification.verify(lab, wait=2.0)


def _await_speakers(lab: Lab, report: UpReport, progress: Progress) -> None:
    """Before the workshop: every node's BIRD answers with its node-to-node mesh Established, and the
    bastion has no session (nothing peers with it until prerequisite 2's BGPPeer)."""
    topo = lab.topo
    with phase("node speakers up"):
        wanted = [checks.mesh_check(topo, n.name) for n in topo.k8s_nodes]
        wanted += [checks.session_absent_check(topo, n.bgp_name, n.ip) for n in topo.k8s_nodes]
        report.results = checks.run(lab.engine, wanted, wait=ESTABLISH_WAIT)
    progress("before the workshop: node speakers meshed; no BGPPeer, so no bastion session; the bastion on "
             "its old import filter; no GatewayAPI, no demo objects")


def _filtered_check(topo: topology.Topology, prefix: IPv4Network) -> checks.Check:
    nodes = {n.ip for n in topo.k8s_nodes}

    def evaluate(s: checks.Snapshot) -> tuple[bool, str]:
        route = s.filtered().get(prefix)
        via = {IPv4Address(p.gateway) for p in route.paths if p.gateway} if route else set()
        return nodes <= via, f"filtered from {len(via)} nodes"
    return checks.Check(f"{prefix} filtered", "bastion: show route filtered", "from every node", evaluate)
