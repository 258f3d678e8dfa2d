"""`gwlab failover FAULT`: the workshop's request as a bounded load from the bastion, the fault injected
under it (and repaired, if asked), measured: requests and failures by error, the longest outage, the
time until the bastion's kernel route holds the expected next hops, the BGP messages on the bastion's
wire (the capture decoders, through `trace bgp`) and the lab's own events on one timeline, a verdict.

The load starts first; the fault follows WARMUP seconds later, so the report shows the lab healthy
before it; the capture ends SETTLE seconds after the load. What was injected is undone in a `finally`
(Ctrl-C included)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any, Callable, Final

from orchestrator.engines.netns import namespaces, procs
from orchestrator.errors import LabError
from orchestrator.faults.inject import Fault, inject, kill_roles, undo
from orchestrator.faults import load as load_mod
from orchestrator.faults.lifecycle import EndpointWatch, event_time, node_events, on_node
from orchestrator.faults.load import Outcome
from orchestrator.impair.access import iproute_in
from orchestrator.faults.report import Line, Report, judge, longest_outage
from orchestrator.rundir import RunDir
from orchestrator.state import FaultRecord, ns_name

if TYPE_CHECKING:
    from orchestrator.lab import Lab

WARMUP: Final = 1.0
SETTLE: Final = 0.3
POLL: Final = 0.02


@dataclass
class _Run:
    outcomes: list[Outcome] = field(default_factory=list)
    hops: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)  # (time, next hops) on change
    lab_events: list[Line] = field(default_factory=list)
    injected: float = 0.0
    repaired: float | None = None
    error: str = ""
    error_waits: dict[str, tuple[float, float]] = field(default_factory=dict)  # peer -> (wait s, its end)
    healed_early: float | None = None  # when the load was stopped because the lab had healed


def expected_hops(lab: Lab, fault: Fault) -> tuple[set[str], set[str]]:
    """(next hops while the fault holds, next hops once healthy) of the LoadBalancer route."""
    every = {str(n.ip) for n in lab.topo.k8s_nodes}
    if fault.target == "gateway" or fault.target.startswith("pod/"):
        return every, every
    if fault.kind == "kill" and fault.signal == "KILL":
        return every, every  # no NOTIFICATION: graceful restart keeps its routes (stale) on the bastion
    node = lab.topo.node(fault.target.removeprefix("bird:"))
    return every - {str(node.ip)}, every


def _hops(ipr: Any, prefix: IPv4Network) -> tuple[str, ...]:
    """The next hops of the bastion's kernel route for exactly `prefix` (a socket of this run's own:
    the engine's cached one belongs to the thread that made it)."""
    gws: list[str] = []
    for r in ipr.get_routes(family=2, table=254):
        if r.get("dst_len") != prefix.prefixlen or r.get_attr("RTA_DST") != str(prefix.network_address):
            continue
        if r.get_attr("RTA_GATEWAY"):
            gws.append(str(r.get_attr("RTA_GATEWAY")))
        for hop in r.get_attr("RTA_MULTIPATH") or []:
            gws += [str(v) for k, v in hop.get("attrs", []) if k == "RTA_GATEWAY"]
    return tuple(sorted(gws))


def _sessions(lab: Lab, seen: dict[str, str], events: list[Line]) -> None:
    """The bastion's BGP sessions as its BIRD reports them; a change becomes a lab event (the hold
    timer's expiry shows here: the bastion's NOTIFICATION goes to a peer that cannot hear it)."""
    from orchestrator.bird.parse import parse_protocols

    try:
        rows = parse_protocols(lab.engine.birdc(lab.topo.bastion.name, "show protocols").text)
    except Exception:  # noqa: BLE001 - a bastion that does not answer shows in the requests and routes
        return
    for p in rows:
        if p.proto != "BGP":
            continue
        now = f"{p.state} {p.info}".strip()
        if seen.get(p.name) not in (None, now):
            events.append(Line(time.time(), "bastion", f"session {p.name}: {' '.join(now.split())}"))
        seen[p.name] = now


def _error_waits(lab: Lab, seen: dict[str, str], waits: dict[str, tuple[float, float]], events: list[Line]) -> None:
    """A peer the bastion holds down for BIRD's `error wait time` (its start delayed after a session
    error: every later start of that session waits, until `error forget time` has passed without
    one) becomes a lab event, once per wait."""
    from orchestrator.bird.parse.protocols import parse_protocols_all

    down = [name for name, now in seen.items() if not now.startswith("up ")]
    if not down:
        return
    try:
        details = parse_protocols_all(lab.engine.birdc(lab.topo.bastion.name, "show protocols all").text)
    except Exception:  # noqa: BLE001 - as _sessions: what it would show is seen in the routes too
        return
    for d in details:
        wait = d.timers.get("Error wait")
        if d.name not in down or wait is None or waits.get(d.name, (0.0, 0.0))[0] == wait.total:
            continue
        waits[d.name] = (wait.total, time.time() + wait.left)
        events.append(Line(time.time(), "bastion", f"session {d.name}: held down for its error wait, "
                                                   f"{wait.left:g} of {wait.total:g} s left (BIRD's `error wait time`: "
                                                   "a session error is remembered for `error forget time`)"))


def _load(lab: Lab, rate: float, duration: float) -> subprocess.Popen[bytes]:
    from orchestrator.demo import HOST, PORT, certificates, gateway_address

    address = gateway_address(lab)
    if not any(IPv4Address(address) in p for p in lab.lb_prefixes()):
        raise LabError(f"the Gateway's address {address} is not in the lab's LoadBalancer range: refused")
    ns = ns_name(lab.topo.name, lab.topo.bastion.name)
    argv = [sys.executable, "-m", "orchestrator.faults.load", address, str(PORT), HOST,
            str(certificates(lab).ca_cert), str(rate), str(duration)]
    return subprocess.Popen([procs.NSENTER, f"--net={namespaces.path_of(ns)}", "--", *argv],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)


def run(lab: Lab, fault: Fault, repair_after: float | None, rate: float, duration: float,
        echo: Callable[[str], None] = lambda _: None, replicas: int | None = None,
        heal_wait: float = 0.0) -> Report:
    """One measured run; with `replicas`, the echo Deployment scaled to that many pods for the run
    (spread over the workers, as kube-scheduler spreads a workload's replicas) and put back after.
    With `heal_wait`, a repaired fault's load goes on past `duration` until the lab healed (the
    route on every node, the last requests answered), `heal_wait` seconds at most."""
    from orchestrator.faults.replicas import replicas as scaled

    if replicas is not None and not 1 <= replicas <= 10:
        raise LabError(f"--replicas {replicas}: give 1-10 echo pods")
    _check(lab, fault, repair_after, rate, duration + heal_wait)
    from orchestrator.demo import proxy_nodes

    with scaled(lab, replicas) as nodes:
        if replicas is not None:
            echo(f"{len(nodes)} echo pods, on " + ", ".join(nodes))
        gateway = proxy_nodes(lab)  # where the proxy is decides what a node's fault does to the requests
        report = _measure(lab, fault, repair_after, rate, duration, echo, heal_wait if repair_after is not None else 0.0)
    report.echo_pods, report.gateway_pods = nodes, gateway
    return report


def _check(lab: Lab, fault: Fault, repair_after: float | None, rate: float, duration: float) -> None:
    if not 0 < rate <= 200:
        raise LabError(f"--rate {rate}: give 1-200 requests a second")
    if not WARMUP < duration <= 600:
        raise LabError(f"--duration {duration}: give more than {WARMUP:g} s and at most 600 s")
    if repair_after is not None and not 0 <= repair_after <= duration:
        raise LabError(f"--repair-after {repair_after}: give 0 to the duration ({duration:g} s)")
    if lab.state.faults:
        raise LabError("faults are injected already (" + ", ".join(f.describe() for f in lab.state.faults)
                       + "): `gwlab fault clear` first, so the run measures one fault")
    if not lab.lb_prefixes():
        raise LabError("the lab advertises no LoadBalancer range: nothing to measure")
    if fault.kind != "kill" or fault.target.startswith("bird:"):
        lab.topo.node(fault.target.removeprefix("bird:").split(":")[0])  # a wrong node named before the load
    elif fault.target.startswith("pod/"):
        kill_roles(lab, fault.target)  # a pod that does not exist named before the load, with those that do


def _measure(lab: Lab, fault: Fault, repair_after: float | None, rate: float, duration: float,
             echo: Callable[[str], None], heal_wait: float) -> Report:
    during, healthy = expected_hops(lab, fault)
    lb = lab.lb_prefixes()
    r = _Run()
    record: list[FaultRecord] = []
    sup_log = RunDir(lab.topo.name).supervisor_log
    sup_before = sup_log.read_text().count("\n") if sup_log.is_file() else 0
    load = _load(lab, rate, duration + heal_wait)

    def reader() -> None:
        assert load.stdout is not None
        for raw in load.stdout:
            try:
                r.outcomes.append(Outcome(**json.loads(raw)))
            except (ValueError, TypeError):
                continue

    stopped, began, finished = threading.Event(), threading.Event(), threading.Event()

    def body() -> None:
        began.set()
        t0 = time.time()
        try:
            with iproute_in(ns_name(lab.topo.name, lab.topo.bastion.name)) as ipr:
                watch(ipr, t0)
        except Exception as exc:  # noqa: BLE001 - reported, and the finally below still clears
            r.error = f"{type(exc).__name__}: {exc}"
        finally:
            finished.set()

    polls = [0]
    sessions: dict[str, str] = {}
    endpoints = EndpointWatch(lab)

    def watch(ipr: Any, t0: float) -> None:
        while (load.poll() is None or time.time() - t0 < WARMUP) and not stopped.is_set():
            now = time.time()
            if not r.injected and now - t0 >= WARMUP:
                r.injected = time.time()
                record.append(inject(lab, fault))
                r.lab_events.append(Line(r.injected, "lab", f"fault injected: {record[0].describe()}"))
                echo(f"injected {record[0].describe()}")
            if record and repair_after is not None and r.repaired is None and now - r.injected >= repair_after:
                r.repaired = time.time()
                for what in undo(lab, record.pop()):
                    r.lab_events.append(Line(r.repaired, "lab", f"repair: {what}"))
                echo("repaired")
            polls[0] += 1
            if polls[0] % 5 == 0:
                _sessions(lab, sessions, r.lab_events)
                endpoints.poll(time.time())
                _error_waits(lab, sessions, r.error_waits, r.lab_events)
            hops = _hops(ipr, lb[0])
            if not r.hops or r.hops[-1][1] != hops:
                r.hops.append((time.time(), hops))
            if heal_wait and now - t0 >= duration and r.repaired is not None and set(hops) == healthy \
                    and _answered(r.outcomes, r.repaired):
                r.healed_early = time.time()
                load.send_signal(signal.SIGTERM)  # the load stops starting requests and ends
                break
            time.sleep(POLL)

    from orchestrator.capture.trace_bgp import trace_bgp

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        trace = trace_bgp(lab, during=body, settle=SETTLE, duration=duration + heal_wait + 30)
    finally:
        stopped.set()  # Ctrl-C: the watcher injects nothing more, and is waited for before the undo
        if r.healed_early is not None:
            load.wait(load_mod.TIMEOUT * 5)
        if load.poll() is None:
            r.error = "interrupted (the capture was stopped, e.g. Ctrl-C): the run was cut short; what it injected is undone"
            load.terminate()
        load.wait(5)
        if began.is_set():
            finished.wait(5)
        for rec in record:
            undo(lab, rec)  # Ctrl-C or a failure: nothing this run injected stays
        endpoints.close()
    thread.join(2)
    if not r.injected:
        r.injected = time.time()
        r.error = r.error or "the fault was never injected"
    if sup_log.is_file():
        for line in sup_log.read_text().splitlines()[sup_before:]:
            stamp, _, text = line.partition(" ")
            try:
                r.lab_events.append(Line(float(stamp), "supervisor", text))
            except ValueError:
                continue
    bgp = [Line(e.time, "BGP", f"{trace.names.get(e.flow.src.ip, e.flow.src.ip) if e.flow else '?'} > "
                               f"{trace.names.get(e.flow.dst.ip, e.flow.dst.ip) if e.flow else '?'}  "
                               f"{e.message.kind}  {e.message.describe()}")
           for p in trace.peers for e in p.events]
    names = {str(n.ip): n.bgp_name for n in lab.topo.k8s_nodes}
    routes = [Line(t, "route", f"bastion's kernel route {lb[0]} via " + (", ".join(names.get(h, h) for h in hops)
                                                                         or "nothing (no route)"))
              for t, hops in r.hops]
    outcomes = sorted(r.outcomes, key=lambda o: o.start)
    lifecycle = node_events(lab, r.injected - WARMUP)
    report = Report(
        fault=fault.text() + (f" ({fault.signal})" if fault.kind == "kill" else ""), timers=lab.state.bgp_timers,
        rate=rate, duration=duration, repair_after=repair_after, requests=len(outcomes),
        failed=sum(not o.ok for o in outcomes), errors=dict(Counter(o.error for o in outcomes if not o.ok)),
        longest_outage=longest_outage(outcomes), injected=r.injected, repaired=r.repaired,
        timeline=sorted(bgp + routes + r.lab_events + endpoints.lines + lifecycle, key=lambda x: x.time),
        error=r.error)
    node = _node_of(lab, fault)
    if node:
        end = r.repaired if r.repaired is not None else float("inf")
        report.node = node
        report.node_not_ready = _since(event_time(lifecycle, node, "NodeNotReady", r.injected), r.injected)
        report.endpoints_removed = _since(on_node(endpoints.history, node, r.injected, r.injected, end, False), r.injected)
        if r.repaired is not None:
            report.node_ready = _since(event_time(lifecycle, node, "NodeReady", r.repaired), r.repaired)
            report.endpoints_restored = _since(on_node(endpoints.history, node, r.injected, r.repaired, float("inf"),
                                                       True),
                                               r.repaired)
    # The waits that held a session down past the repair: they, not the fault, decided when it healed.
    report.error_waits = {peer: wait for peer, (wait, end) in r.error_waits.items()
                          if r.repaired is not None and end > r.repaired}
    if r.healed_early is not None:
        report.duration = round(r.healed_early - r.injected + WARMUP, 1)
    judge(report, r.hops, during, healthy, outcomes)
    return report


def _node_of(lab: Lab, fault: Fault) -> str:
    """The node a fault takes off the network (its heartbeats with it), or "" for one that does not."""
    if fault.kind in ("isolate", "link-down"):
        return lab.topo.node(fault.target.split(":")[0]).name
    if fault.kind == "kill" and fault.target != "gateway" and not fault.target.startswith(("bird:", "pod/")):
        return lab.topo.node(fault.target).name  # every process of the node, its heartbeat too
    return ""


def _since(t: float | None, start: float) -> float | None:
    return None if t is None else t - start


def _answered(outcomes: list[Outcome], since: float, last: int = 5) -> bool:
    """The last requests started after `since` all answered."""
    recent = [o for o in list(outcomes) if o.start >= since][-last:]
    return len(recent) == last and all(o.ok for o in recent)
