"""gwlab verify: run the lab's checks on its live state; exit code 0 only if all hold."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("verify", help="check the running lab")
    common(p)
    p.add_argument("--wait", type=float, default=0.0, metavar="S", help="keep trying up to S seconds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from orchestrator import lab, repair, report, verification

    running = lab.open_lab(args.topo, args.lab)
    if running.state.engine == "netns" and (line := repair.revive_control_plane(running.topo, running.state)):
        print(line, file=sys.stderr)  # stdout stays the table (or the JSON)
    results = verification.verify(running, args.wait)
    ok = all(r.ok for r in results)
    if args.json:
        report.print_json({"ok": ok, "checks": [r.as_dict() for r in results]})
    else:
        print(report.results_table(results))
    return 0 if ok else 1
