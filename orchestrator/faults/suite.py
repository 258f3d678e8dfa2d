"""`gwlab failover --suite`: every fault in turn on one node, each repaired so the next starts healthy."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from orchestrator.faults.failover import run
from orchestrator.faults.inject import Fault
from orchestrator.faults.report import Report

if TYPE_CHECKING:
    from orchestrator.lab import Lab

HOLD = {"fast": 9.0, "calico": 240.0}  # the hold time the bastion and the nodes agree on
# After a repair: a node reconnects after its error wait and connect delay (fast: 1 + 1 s; calico: up
# to 30 + 2 s, then retries every 5 s; the bastion, on BIRD's defaults, waits 60 s after a session error),
# and the gateway's health checks mark the backend up again.
HEAL = {"fast": 6.0, "calico": 75.0}
# How much longer a repaired row's load may go on until the lab healed (the node's reconnect, the
# gateway's health, the bastion's error wait): the bastion on BIRD's defaults
# (the workshop's bird.conf under Calico's timers) delays every start of a session that once failed by
# its error wait, 60 s doubling to 300 s while errors come within 300 s of each other.
HEAL_WAIT = {"fast": 10.0, "calico": 330.0}


def default_duration(lab: Lab, fault: Fault) -> float:
    """Long enough to see a silent failure found by the hold timer, and the repair."""
    if fault.kind in ("link-down", "isolate"):
        return HOLD.get(lab.state.bgp_timers, 9.0) + 6.0
    return 8.0 if lab.state.bgp_timers == "fast" else 20.0


@dataclass(frozen=True)
class Row:
    fault: Fault
    repair_after: float
    replicas: int | None = None  # the echo Deployment scaled to this for the row; None: as it is


def faults(lab: Lab) -> list[Row]:
    """The suite's rows; the node is the first worker. The BIRD TERM row runs with two echo pods
    (spread over the workers), so it shows what a second replica on another node saves."""
    node = next(n for n in lab.topo.k8s_nodes if n.role == "worker").name
    hold = HOLD.get(lab.state.bgp_timers, 9.0)
    return [Row(Fault("link-down", node), hold + 1.0), Row(Fault("isolate", node), hold + 1.0),
            Row(Fault("kill", f"bird:{node}", "TERM"), 3.0, replicas=2), Row(Fault("kill", f"bird:{node}", "KILL"), 3.0),
            Row(Fault("kill", "gateway", "TERM"), 3.0)]


def run_suite(lab: Lab, rate: float, echo: Callable[[str], None] = print) -> list[Report]:
    reports = []
    for row in faults(lab):
        fault, repair = row.fault, row.repair_after
        heal = HEAL.get(lab.state.bgp_timers, 6.0)
        _settle(lab, 20.0 + heal)  # every fault starts from a healthy lab
        echo(f"-- {fault.text()} ({fault.signal})" if fault.kind == "kill" else f"-- {fault.text()}")
        t = time.monotonic()
        # The load runs past the repair until the lab healed (the route on every node, requests
        # answered), the node's reconnect, the gateway's and the bastion's error wait at most.
        rep = run(lab, fault, repair, rate, max(default_duration(lab, fault), repair + 2.0),
                  replicas=row.replicas, heal_wait=HEAL_WAIT.get(lab.state.bgp_timers, 10.0))
        echo(f"   {rep.requests} requests, {rep.failed} failed, {rep.verdict} ({time.monotonic() - t:.1f} s)")
        reports.append(rep)
        if rep.error.startswith("interrupted"):
            break  # Ctrl-C ends the suite; this run undid what it injected
    return reports


def _settle(lab: Lab, wait: float) -> None:
    """Before a fault: every session Established and the workshop's request answered (bounded)."""
    from orchestrator import checks, demo

    checks.run(lab.engine, [checks.session_check(lab.topo, n.bgp_name, n.ip) for n in lab.topo.k8s_nodes]
               + [demo.passthrough_check(lab)], wait=wait, interval=0.5)
