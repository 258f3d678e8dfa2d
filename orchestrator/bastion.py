"""Changing a lab router's BIRD config safely: validate it (parse, route-policy test, diff), then push it
(`configure check`, `configure timeout`, the lab's checks, `configure confirm` or `configure undo`).

The bastion's import filter is data (its accepted prefixes, rendered through bird/); `up`, `gwlab bird
filter` and `gwlab bird push` all go through `push_config`. `up` skips only the route-policy test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.bird import push as bird_push
from orchestrator.bird.birdc import Reply
from orchestrator.bird.validate import RoutesSpec, Target, ValidationReport, validate
from orchestrator.errors import LabError
from orchestrator.controlplane.objects import from_file as stored_objects
from orchestrator.rundir import RunDir
from orchestrator.state import LabState
from orchestrator.topology import Topology

if TYPE_CHECKING:
    from orchestrator import checks
    from orchestrator.bird.parse import ProtocolDetail
    from orchestrator.bird.policy import Feeder
    from orchestrator.cluster import ClusterPlan
    from orchestrator.calico.models import IPPool
    from orchestrator.engines.base import Engine
    from orchestrator.lab import Lab  # below this module: typing only, to keep `bird validate` light

CHECK_WAIT = 3.0  # seconds the checks may take to hold after a configure


# ---------------------------------------------------------------- what a candidate is checked against

def node_name(topo: Topology, node: str | None) -> str:
    return topo.node(node).name if node else topo.bastion.name


def config_path(topo: Topology, node: str, engine: str) -> Path:
    """The file the node's BIRD reads (as the engine writes it)."""
    return RunDir.of(topo, engine).node(node).bird_config


def dialect_of(topo: Topology, state: LabState, node: str) -> str:
    return state.bastion_bird if node == topo.bastion.name else "1"


def declared_ranges(pools: list[IPPool]) -> tuple[IPv4Network, ...]:
    """The lab's declared ranges: its pod (Workload) and LoadBalancer pools."""
    uses = {"Workload", "LoadBalancer"}
    return tuple(dict.fromkeys(p.cidr for p in pools if not p.disabled and uses & set(p.allowed_uses)))


def workshop_ranges() -> tuple[IPv4Network, ...]:
    """Without a lab: the ranges of the workshop's own manifests (lab/manifests/calico)."""
    from orchestrator import cluster
    from orchestrator.k8s import kinds

    return declared_ranges(cluster.calico_objects(kinds.parse_objects(cluster.base_documents())).pools)


def node_feeders(topo: Topology, engine: Engine, plan: ClusterPlan | None = None) -> list[Feeder]:
    """The lab's nodes as the bastion's peers, each with the routes it advertises to the bastion now:
    `show route export Global_<bastion> all` on the node (the attributes as sent); for a node whose
    BIRD cannot be asked (stopped, or an engine that does not reach it), what the bastion received
    from it (`show route all` + `show route filtered all`)."""
    from orchestrator import cluster
    from orchestrator.bird import policy

    if plan is None:  # a caller without an open lab
        plan = cluster.plan(topo, stored_objects(RunDir.of(topo).api_store))
    received: dict[str, list[policy.FedRoute]] | None = None
    found = []
    for n in topo.k8s_nodes:
        speaker = plan.speakers.get(n.name)
        peering = next((p for p in speaker.global_peers if p.ip == topo.bastion.ip), None) if speaker else None
        if speaker is None or peering is None:
            continue  # this node has no BGPPeer for the bastion: it never opens a session
        try:
            text = engine.birdc(n.name, f"show route export {peering.protocol} all").raise_for_error().text
            routes = policy.routes_from_export(text)
        except LabError:
            if received is None:
                texts = []
                for command in ("show route all", "show route filtered all"):
                    try:
                        texts.append(engine.birdc(topo.bastion.name, command).raise_for_error().text)
                    except LabError:
                        pass
                received = policy.routes_received(texts)
            routes = received.get(n.bgp_name, [])
        found.append(policy.Feeder(n.bgp_name, n.ip, speaker.asn, tuple(routes), peering.asn))
    return found


def lab_target(topo: Topology, state: LabState, engine: Engine | None, node: str | None = None,
               plan: ClusterPlan | None = None) -> Target:
    """The router `node` (default: the bastion) of a running lab. With an engine, the route-policy
    test applies to the bastion: the lab's nodes, what they advertise now, the lab's declared ranges
    (from `plan`, the lab's current cluster plan; read from the store when not given)."""
    name = node_name(topo, node)
    path = config_path(topo, name, state.engine)
    running = path.read_text() if path.is_file() else None
    base = Target(node=name, dialect=dialect_of(topo, state, name), lab=topo.name, running_path=path,
                  running_text=running)
    if engine is None or name != topo.bastion.name:
        return base
    from orchestrator import cluster
    from orchestrator.bird import policy

    if plan is None:
        plan = cluster.plan(topo, stored_objects(RunDir.of(topo).api_store))
    return replace(base, policy=True, net=policy.ScratchNet(topo.bastion.ip, topo.segment, topo.bastion.interface),
                   feeders=tuple(node_feeders(topo, engine, plan)),
                   declared=declared_ranges(cluster.calico_objects(plan.parsed).pools),
                   declared_from="the lab's IPPools", probe_extra=(topo.segment,),
                   workdir=RunDir.of(topo).scratch)


def push_checks(lab: Lab, accepted: tuple[IPv4Network, ...] | None) -> list[checks.Check]:
    """The lab's checks a pushed config must pass: every session Established, and the routes the lab
    expects on the bastion (LoadBalancer prefixes in its table and kernel, pod blocks), limited to
    what `accepted` covers when the filter is given as data."""
    from orchestrator import checks

    topo = lab.topo

    def wanted(p: IPv4Network) -> bool:
        return accepted is None or any(p.subnet_of(a) for a in accepted)
    out = [checks.session_check(topo, n.bgp_name, n.ip) for n in topo.k8s_nodes]
    for p in lab.lb_prefixes():
        if wanted(p):
            out += [checks.route_via_all_check(topo, p), checks.kernel_ecmp_check(topo, p)]
    out += [checks.block_check(topo, node, b) for node, b in lab.blocks().items() if wanted(b)]
    return out


# ---------------------------------------------------------------- the router has applied the change

SETTLE_WAIT = 3.0  # seconds for the peers to send their routes again after `reload in`
NODE_SETTLE = 0.5  # seconds given to a node's new export filter to reach the bastion


def _received(d: ProtocolDetail) -> int:
    return d.change_stats.get("Import updates", {}).get("received") or 0


def settle_bastion(engine: Engine, router: str, advertised: dict[str, int]) -> checks.Result:
    """`configure` returns before the routes already received went through the new import filter
    (BIRD 2 re-imports them asynchronously): ask every Established peer to send its routes again
    (`reload in`, a route refresh: the session stays up) and wait until BIRD has received them all.
    `advertised`: neighbour address -> how many routes it advertises."""
    from orchestrator import checks
    from orchestrator.bird import parse

    t = time.monotonic()
    name, where = "routes re-imported through the new config", f"{router}: reload in, show protocols all"
    details = parse.parse_protocols_all(engine.birdc(router, "show protocols all").text)
    want: dict[str, int] = {}
    for d in details:
        count = advertised.get(d.neighbor_address or "", 0)
        if d.proto != "BGP" or not d.established or count == 0:
            continue
        base = _received(d)
        if engine.birdc(router, f"reload in {d.name}").ok:
            want[d.name] = base + count
    expect = f"{sum(advertised.values())} routes from {len(want)} peers"
    while True:
        now = {d.name: _received(d) for d in parse.parse_protocols_all(engine.birdc(router, "show protocols all").text)}
        late = [p for p, n in want.items() if now.get(p, 0) < n]
        if not late or time.monotonic() - t > SETTLE_WAIT:
            break
        time.sleep(0.005)
    if late:
        return checks.Result(name, where, expect, "not received again from " + ", ".join(late), False)
    return checks.Result(name, where, expect, f"all received again ({time.monotonic() - t:.2f} s)", True)


def settle_node(seconds: float = NODE_SETTLE) -> checks.Result:
    from orchestrator import checks

    time.sleep(seconds)
    return checks.Result("the node's routes re-announced", "(time)", f"{seconds} s", f"waited {seconds} s", True)


# ---------------------------------------------------------------- sessions kept across a push

def _bgp_connections(pid: int) -> set[tuple[str, int, str, int]]:
    """Established TCP connections on port 179 in the namespace of process `pid` (/proc/PID/net/tcp)."""
    out: set[tuple[str, int, str, int]] = set()
    try:
        lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        f = line.split()
        if len(f) < 4 or f[3] != "01":  # 01 = ESTABLISHED
            continue
        (la, lp), (ra, rp) = (x.split(":") for x in (f[1], f[2]))
        local, remote = (str(IPv4Address(bytes.fromhex(a)[::-1])) for a in (la, ra))
        if 179 in (int(lp, 16), int(rp, 16)):
            out.add((local, int(lp, 16), remote, int(rp, 16)))
    return out


def _router_pid(lab: Lab, node: str) -> int | None:
    proc = lab.state.process(f"bird:{node}")
    return proc.pid if proc else None


# ---------------------------------------------------------------- push

@dataclass
class PushOutcome:
    """What a push did: its validation, and the push itself unless it was refused before."""

    node: str
    report: ValidationReport
    result: bird_push.PushResult[checks.Result] | None = None
    refused: str = ""  # why nothing was changed
    sessions_reset: list[str] = field(default_factory=list)  # peers whose BGP connection was re-made
    seconds: float = 0.0

    @property
    def confirmed(self) -> bool:
        return self.result is not None and self.result.confirmed

    @property
    def status(self) -> str:
        """confirmed | unchanged (nothing to push) | refused (errors) | refused-warnings | rolled-back"""
        if self.result is not None:
            return "confirmed" if self.result.confirmed else "rolled-back"
        if self.report.errors:
            return "refused"
        return "refused-warnings" if self.report.warnings else "unchanged"

    @property
    def exit_code(self) -> int:
        return {"confirmed": 0, "unchanged": 0, "refused": 1, "refused-warnings": 3, "rolled-back": 4}[self.status]

    def as_dict(self) -> dict[str, object]:
        r = self.result
        return {"node": self.node, "status": self.status, "confirmed": self.confirmed,
                "refused": self.refused or None,
                "validation": self.report.as_dict(),
                "steps": r.steps if r else [], "checks": [c.as_dict() for c in r.results] if r else [],
                "failed": [c.as_dict() for c in r.failed] if r else [],
                "restored": [c.as_dict() for c in r.restored] if r else [],
                "sessions_reset": self.sessions_reset, "seconds": self.seconds}


def push_config(lab: Lab, candidate: Path | str, node: str | None = None, *, display: str | None = None,
                force: bool = False, timeout: int = bird_push.UNDO_TIMEOUT, policy_test: bool = True,
                accepted: tuple[IPv4Network, ...] | None = None, routes: RoutesSpec | None = None,
                wait: float = CHECK_WAIT, track_sessions: bool = True) -> PushOutcome:
    """Validate, then push safely. Errors always refuse; warnings (leaks, losses) refuse unless `force`.
    `accepted`: the filter as data, when the candidate was rendered from it (the checks then expect
    only the routes it accepts)."""
    from orchestrator import checks

    t0 = time.perf_counter()
    name = node_name(lab.topo, node)
    target = lab_target(lab.topo, lab.state, lab.engine if policy_test else None, name, lab.plan)
    report = validate(candidate, target, display, routes, run_policy=policy_test)
    outcome = PushOutcome(name, report)
    if report.errors:
        outcome.refused = "the config has errors: nothing was changed"
    elif report.warnings and not force:
        found = {"leak": "leaks", "loss": "losses", "session": "sessions that would not come up"}
        kinds = ", ".join(dict.fromkeys(found.get(w.kind, w.kind) for w in report.warnings))
        outcome.refused = (f"the route-policy test found {kinds}: nothing was changed (fix: correct the config, "
                           "or push with --force to apply it anyway; the lab's checks still roll it back if "
                           "they fail)")
    if outcome.refused or report.text is None:
        outcome.seconds = time.perf_counter() - t0
        return outcome
    if report.diff == "" and not force:
        outcome.refused = "the candidate is the running config: nothing to push"
        outcome.seconds = time.perf_counter() - t0
        return outcome

    wanted = push_checks(lab, accepted)
    baseline = checks.run(lab.engine, wanted, 0)
    held_before = [c for c, r in zip(wanted, baseline) if r.ok]

    def birdc(command: str) -> Reply:
        return lab.engine.birdc(name, command)

    if name == lab.topo.bastion.name:
        feeders = list(target.feeders) if target.feeders is not None else node_feeders(lab.topo, lab.engine, lab.plan)
        advertised = {str(f.ip): len(f.routes) for f in feeders}

        def settle() -> checks.Result:
            return settle_bastion(lab.engine, name, advertised)
    else:
        def settle() -> checks.Result:
            return settle_node()

    pid = _router_pid(lab, name) if track_sessions else None
    before = _bgp_connections(pid) if pid else set()
    result = bird_push.push(config_path(lab.topo, name, lab.state.engine), report.text, birdc,
                            lambda: checks.run(lab.engine, wanted, wait), timeout,
                            lambda: checks.run(lab.engine, held_before, wait), settle)
    outcome.result = result
    if pid:
        after = _bgp_connections(pid)
        by_ip = {str(n.ip): n.bgp_name or n.name for n in lab.topo.routers}
        outcome.sessions_reset = sorted({by_ip.get(remote, remote) for (_, _, remote, _) in before - after})
    if result.confirmed and name == lab.topo.bastion.name:
        value = [str(a) for a in accepted] if accepted is not None else None
        fresh = LabState.load(lab.topo.name) or lab.state  # what other verbs saved meanwhile is kept
        for facts in (lab.state.facts, fresh.facts):
            facts.bastion_accepts, facts.bastion_pushed = value, True
        fresh.save()
    outcome.seconds = time.perf_counter() - t0
    return outcome


def push_filter(lab: Lab, accepted: tuple[IPv4Network, ...], wait: float = CHECK_WAIT
                ) -> bird_push.PushResult[checks.Result]:
    """The workshop's prerequisite 3, automated (used by `up`): render the filter, push it safely.
    The route-policy test is skipped (the checks follow at once); parse check and diff are not."""
    text = lab.bastion_config(accepted).render()
    out = push_config(lab, text, None, display="bird/" + template_name(lab), policy_test=False, accepted=accepted,
                      wait=wait, force=True, track_sessions=False)
    if out.result is None:
        raise bird_push.PushRefused(f"the bastion's filter was not pushed: {out.refused}\n" + out.report.render())
    return out.result


def template_name(lab: Lab) -> str:
    from orchestrator.bird.config import TEMPLATES

    return TEMPLATES[lab.state.bastion_bird]


# ---------------------------------------------------------------- the filter as data

def accepted_now(lab: Lab) -> tuple[IPv4Network, ...] | None:
    """The prefixes the bastion's import filter accepts, when its config is the template's; None when
    a hand-written config was pushed (its filter is not data any more)."""
    from orchestrator.bird.config import PRE_EXISTING_ACCEPT

    facts = lab.state.facts
    raw = facts.bastion_accepts if facts.bastion_pushed else [str(p) for p in PRE_EXISTING_ACCEPT]
    if raw is None:
        return None
    accepted = tuple(IPv4Network(p) for p in raw)
    on_disk = lab.bastion_conf.read_text() if lab.bastion_conf.is_file() else ""
    return accepted if lab.bastion_config(accepted).render() == on_disk else None


def parse_cidr(text: str) -> IPv4Network:
    try:
        return IPv4Network(text)
    except ValueError:
        try:
            fixed = IPv4Network(text, strict=False)
        except ValueError:
            raise LabError(f"{text!r} is not an IPv4 prefix (fix: write it like 10.10.10.0/26)") from None
        raise LabError(f"{text!r} has host bits set (fix: write {fixed})") from None


def managed_filter(lab: Lab) -> tuple[IPv4Network, ...]:
    accepted = accepted_now(lab)
    if accepted is None:
        raise LabError(f"the bastion's config ({lab.bastion_conf}) was pushed by hand: its filter is no longer "
                       "the template's data (fix: edit the file and `gwlab bird push` it)")
    return accepted

