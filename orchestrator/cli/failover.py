"""gwlab failover: a fault under a bounded load of the workshop's request, measured end to end."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("failover", help="inject a fault under load and measure the outage and the healing")
    p.add_argument("fault", metavar="FAULT", nargs="?",
                   help="a fault's arguments joined by colons: link-down:NODE, isolate:NODE, kill:bird:NODE, "
                        "kill:gateway, kill:pod/NAME")
    p.add_argument("--suite", action="store_true", help="run every fault in turn and print one table")
    p.add_argument("--signal", default="TERM", choices=["TERM", "KILL"], help="for kill faults (default TERM)")
    p.add_argument("--repair-after", type=float, metavar="S", help="undo the fault S seconds after injecting it")
    p.add_argument("--rate", type=float, default=20.0, metavar="N", help="requests a second (default 20)")
    p.add_argument("--duration", type=float, metavar="S", help="seconds of load (default: 12, or 15 for link faults)")
    p.add_argument("--replicas", type=int, metavar="N",
                   help="scale the echo Deployment to N pods for the run (spread over the workers), then back")
    p.add_argument("--heal-wait", type=float, default=0.0, metavar="S",
                   help="with --repair-after: go on past --duration until the lab healed, S seconds at most")
    common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import report as out
    from orchestrator.errors import LabError
    from orchestrator.faults import failover, suite
    from orchestrator.faults.inject import Fault
    from orchestrator.faults.report import suite_table, text
    from orchestrator.lab import open_lab

    lab = open_lab(args.topo, args.lab)
    if args.suite:
        reports = suite.run_suite(lab, args.rate, echo=(lambda _: None) if args.json else print)
        if args.json:
            out.print_json([r.as_json() for r in reports])
        else:
            print(suite_table(reports))
        return 0 if all(r.ok for r in reports) else 1
    if not args.fault:
        raise LabError("name a FAULT (e.g. kill:bird:calico-worker) or give --suite")
    fault = Fault.parse(args.fault, args.signal)
    duration = args.duration or suite.default_duration(lab, fault)
    rep = failover.run(lab, fault, args.repair_after, args.rate, duration, replicas=args.replicas,
                       heal_wait=args.heal_wait)
    if args.json:
        out.print_json(rep.as_json())
    else:
        print(text(rep))
    return 0 if rep.ok else 1
