"""`gwlab failover --suite`: every fault in turn on one node, each repaired so the next starts healthy."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from orchestrator.faults.failover import run
from orchestrator.faults.inject import Fault
from orchestrator.faults.report import Report

if TYPE_CHECKING:
    from orchestrator.lab import Lab

HOLD = {"fast": 9.0, "calico": 240.0}  # the hold time the bastion and the nodes agree on


def default_duration(lab: Lab, fault: Fault) -> float:
    """Long enough to see a silent failure found by the hold timer, and the repair."""
    if fault.kind in ("link-down", "isolate"):
        return HOLD.get(lab.state.bgp_timers, 9.0) + 6.0
    return 8.0


def faults(lab: Lab) -> list[tuple[Fault, float]]:
    """(fault, repair after S) for the suite; the node is the first worker."""
    node = next(n for n in lab.topo.k8s_nodes if n.role == "worker").name
    hold = HOLD.get(lab.state.bgp_timers, 9.0)
    return [(Fault("link-down", node), hold + 1.0), (Fault("isolate", node), hold + 1.0),
            (Fault("kill", f"bird:{node}", "TERM"), 3.0), (Fault("kill", f"bird:{node}", "KILL"), 3.0),
            (Fault("kill", "gateway", "TERM"), 3.0)]


def run_suite(lab: Lab, rate: float, echo: Callable[[str], None] = print) -> list[Report]:
    reports = []
    for fault, repair in faults(lab):
        echo(f"-- {fault.text()} ({fault.signal})" if fault.kind == "kill" else f"-- {fault.text()}")
        t = time.monotonic()
        rep = run(lab, fault, repair, rate, max(default_duration(lab, fault), repair + 6.0))
        echo(f"   {rep.requests} requests, {rep.failed} failed, {rep.verdict} ({time.monotonic() - t:.1f} s)")
        reports.append(rep)
        _settle(lab)
    return reports


def _settle(lab: Lab, wait: float = 20.0) -> None:
    """Before the next fault: every session Established again (bounded)."""
    from orchestrator import checks

    checks.run(lab.engine, [checks.session_check(lab.topo, n.bgp_name, n.ip) for n in lab.topo.k8s_nodes], wait=wait)
