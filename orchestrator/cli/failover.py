"""gwlab failover: a fault under a bounded load of the workshop's request, measured end to end."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("failover", help="inject a fault under load and measure the outage and the healing")
    p.add_argument("fault", metavar="FAULT", nargs="?",
                   help="a fault's arguments joined by colons: link-down:NODE, isolate:NODE, kill:bird:NODE, kill:gateway")
    p.add_argument("--suite", action="store_true", help="run every fault in turn and print one table")
    p.add_argument("--signal", default="TERM", choices=["TERM", "KILL"], help="for kill faults")
    p.add_argument("--repair-after", type=float, metavar="S", help="undo the fault S seconds after injecting it")
    p.add_argument("--rate", type=float, default=20.0, metavar="N", help="requests a second (default 20)")
    p.add_argument("--duration", type=float, default=8.0, metavar="S", help="seconds of load (default 8)")
    common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator.errors import LabError

    raise LabError("not yet")
