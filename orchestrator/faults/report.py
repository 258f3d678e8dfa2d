"""A failover run's report: counters, times, one timeline, the verdict; as text, JSON and a suite table.

Times are measured from the moment the fault was injected (or repaired); a time that was not reached
within the run is None and printed as such, never guessed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from orchestrator.columns import table
from orchestrator.faults.load import Outcome

TIMERS: Final = {
    "fast": "fast (the lab's: hold 9 s, keepalive 3 s, connect delay 1 s, retry 2 s, error wait 1,5)",
    "calico": "calico (Calico's confd on the nodes: hold 240 s, keepalive 80 s (BIRD's), connect delay 2 s, retry 5 s, "
              "error wait 5,30, graceful restart 120 s; the bastion on BIRD's defaults: error wait 60,300)",
}


@dataclass(frozen=True)
class Line:
    time: float  # epoch seconds
    source: str  # BGP, route, lab, supervisor
    text: str


@dataclass
class Report:
    fault: str
    timers: str
    rate: float
    duration: float
    repair_after: float | None
    requests: int
    failed: int
    errors: dict[str, int]
    longest_outage: float  # seconds
    injected: float
    repaired: float | None
    timeline: list[Line] = field(default_factory=list)
    error: str = ""
    route_converged: float | None = None  # s from injection until the kernel route held the expected hops
    route_restored: float | None = None  # s from the repair until it held every node again
    node: str = ""  # the node the fault cut off, whose heartbeats stop with it
    node_not_ready: float | None = None  # s from injection until the node lifecycle marked it NotReady
    endpoints_removed: float | None = None  # s from injection until no Endpoints address was on that node
    node_ready: float | None = None  # s from the repair until it was Ready again
    endpoints_restored: float | None = None  # s from the repair until its pods were in the Endpoints again
    ok: bool = False
    verdict: str = ""
    echo_pods: list[str] = field(default_factory=list)  # the nodes of the echo Deployment's pods during the run
    gateway_pods: list[str] = field(default_factory=list)  # the nodes of the gateway's ready proxy pods at the start
    error_waits: dict[str, float] = field(default_factory=dict)  # bastion's peer -> the error wait it was held for (s)

    def as_json(self) -> dict[str, Any]:
        return {"fault": self.fault, "timers": self.timers, "rate": self.rate, "duration": self.duration,
                "repair_after": self.repair_after, "requests": self.requests, "failed": self.failed,
                "errors": self.errors, "longest_outage_s": round(self.longest_outage, 3),
                "route_converged_s": _r(self.route_converged), "route_restored_s": _r(self.route_restored),
                "node": self.node, "node_not_ready_s": _r(self.node_not_ready),
                "endpoints_removed_s": _r(self.endpoints_removed), "node_ready_s": _r(self.node_ready),
                "endpoints_restored_s": _r(self.endpoints_restored),
                "ok": self.ok, "verdict": self.verdict, "error": self.error, "echo_pods": self.echo_pods,
                "gateway_pods": self.gateway_pods,
                "error_waits_s": self.error_waits,
                "timeline": [{"t": round(x.time - self.injected, 3), "source": x.source, "event": x.text}
                             for x in self.timeline]}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def longest_outage(outcomes: Sequence[Outcome]) -> float:
    """The longest run of consecutive failed requests: from the first one's start to the start of the
    next request that succeeded (or the last failure's end)."""
    longest, first, last_end = 0.0, None, 0.0
    for o in sorted(outcomes, key=lambda o: o.start):
        if not o.ok:
            first = o.start if first is None else first
            last_end = o.end
            continue
        if first is not None:
            longest = max(longest, o.start - first)
            first = None
    if first is not None:
        longest = max(longest, last_end - first)
    return longest


def judge(rep: Report, hops: list[tuple[float, tuple[str, ...]]], during: set[str], healthy: set[str],
          outcomes: Sequence[Outcome]) -> None:
    """The times the route took and the verdict against the expected outcome."""
    end_of_fault = rep.repaired if rep.repaired is not None else float("inf")
    if during != healthy:
        rep.route_converged = next((t - rep.injected for t, h in hops
                                    if rep.injected <= t < end_of_fault and set(h) == during), None)
    if rep.repaired is not None:
        rep.route_restored = next((t - rep.repaired for t, h in hops if t >= rep.repaired and set(h) == healthy),
                                  None)
        if rep.route_restored is None and hops and set(hops[-1][1]) == healthy and hops[-1][0] < rep.repaired:
            rep.route_restored = 0.0  # it never left
    problems = []
    if rep.error:
        problems.append(rep.error)
    if during != healthy and rep.route_converged is None:
        problems.append("the bastion's route never dropped the faulty node within the run")
    if rep.repaired is not None:
        last = sorted(outcomes, key=lambda o: o.start)[-3:]
        if rep.route_restored is None:
            problems.append("the route did not come back to every node after the repair"
                            + (f" (the bastion held {_waits(rep)} down for its error wait: give the run longer)"
                               if rep.error_waits else ""))
        if not last or not all(o.ok for o in last):
            problems.append("requests still failed at the end, after the repair")
    elif during == healthy and rep.failed == 0 and ("gateway" in rep.fault or "pod/" in rep.fault):
        problems.append("no request failed: the fault did not reach the path")
    rep.ok = not problems
    if rep.ok:
        healed = " and healed after the repair" if rep.repaired is not None else ""
        if healed and rep.error_waits:
            healed += f", once the bastion's error wait for {_waits(rep)} ran out"
        rep.verdict = f"as expected: the fault showed{healed}"
    else:
        rep.verdict = "NOT as expected: " + "; ".join(problems)


def _waits(rep: Report) -> str:
    return ", ".join(f"{peer} ({wait:g} s)" for peer, wait in sorted(rep.error_waits.items()))


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def text(rep: Report) -> str:
    out = [f"failover {rep.fault} (timers {TIMERS.get(rep.timers, rep.timers)}): {rep.rate:g} requests/s for "
           f"{rep.duration:g} s, fault at +0.000" + (f", repaired at +{rep.repair_after:g} s" if rep.repaired else "")
           + (f"; echo pods on {', '.join(rep.echo_pods)}" if rep.echo_pods else "")
           + (f"; gateway proxy on {', '.join(rep.gateway_pods)}" if rep.gateway_pods else ""), ""]
    out += [f"  {x.time - rep.injected:+8.3f} s  {x.source:<10} {x.text}" for x in rep.timeline]
    errors = ", ".join(f"{n} {e}" for e, n in sorted(rep.errors.items(), key=lambda kv: -kv[1])) or "none"
    out += ["", f"requests {rep.requests}, failed {rep.failed} ({errors})",
            f"longest outage {rep.longest_outage:.2f} s; kernel route on the expected next hops "
            f"{_s(rep.route_converged)} after the fault" + (f", every node back {_s(rep.route_restored)} after the repair"
                                                           if rep.repaired is not None else ""),
            *_lifecycle(rep),
            f"verdict: {rep.verdict}"]
    return "\n".join(out)


def _lifecycle(rep: Report) -> list[str]:
    """The two clocks of a node cut off: the bastion's hold timer drops its paths, the node lifecycle
    (its heartbeats gone for the grace period) takes its pods out of the endpoints."""
    if not rep.node:
        return []
    line = (f"{rep.node} cut off: paths dropped by the bastion {_s(rep.route_converged)} after the fault (hold timer); "
            f"node NotReady {_s(rep.node_not_ready)}, its pods' endpoints removed {_s(rep.endpoints_removed)} after "
            f"the fault (node lifecycle)")
    if rep.repaired is None:
        return [line]
    return [line, f"after the repair: node Ready {_s(rep.node_ready)}, its pods' endpoints back "
                  f"{_s(rep.endpoints_restored)}"]


def suite_table(reports: Sequence[Report]) -> str:
    """One row per fault; the headers on two lines keep the table narrow. NODE NOTREADY and ENDPOINTS
    REMOVED are the node lifecycle's clock for a fault that cuts a node off ("-" for any other)."""
    timers = {r.timers for r in reports}
    head = "timers: " + "; ".join(TIMERS.get(t, t) for t in sorted(timers))
    rows = [(r.fault + (f", {len(r.echo_pods)} echo pods" if len(r.echo_pods) > 1 else ""),
             f"{r.repair_after:g} s" if r.repair_after is not None else "-", str(r.requests), str(r.failed),
             f"{r.longest_outage:.2f} s", _s(r.route_converged), _s(r.route_restored),
             _node_s(r, r.node_not_ready), _node_s(r, r.endpoints_removed), "PASS" if r.ok else "FAIL")
            for r in reports]
    first = ("", "REPAIR", "", "", "LONGEST", "ROUTE", "ROUTE", "NODE", "ENDPOINTS", "")
    second = ("FAULT", "AFTER", "REQUESTS", "FAILED", "OUTAGE", "CONVERGED", "RESTORED", "NOTREADY", "REMOVED",
              "VERDICT")
    return head + "\n" + table(first, [second, *rows])


def _node_s(rep: Report, v: float | None) -> str:
    """A node lifecycle's time: "-" when the fault cut no node off, "not seen" when it did but the
    time was not reached within the run."""
    if not rep.node:
        return "-"
    return "not seen" if v is None else _s(v)
