"""gwlab status: the labs on this host, and for each whether its namespaces and daemons are alive."""

from __future__ import annotations

import argparse

from orchestrator import netns, procs, report
from orchestrator.state import LabState, lab_of_ns, labs_on_host


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="list the labs on this host")
    p.add_argument("--lab", metavar="NAME", help="only this lab")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in [args.lab] if args.lab else labs_on_host():
        state = LabState.load(name)
        names = [n for n in netns.list_names() if lab_of_ns(n) == name]
        procs_live = [p for p in state.processes if procs.alive(p)] if state else []
        rows.append({
            "lab": name, "phase": state.phase if state else "leftover (no state file)",
            "engine": state.engine if state else "?", "namespaces": len(names),
            "processes": f"{len(procs_live)}/{len(state.processes) if state else 0}",
            "dead": [p.role for p in state.processes if not procs.alive(p)] if state else []})
    if args.json:
        report.print_json(rows)
    elif not rows:
        print("no lab on this host")
    else:
        print(report.table(("LAB", "PHASE", "ENGINE", "NAMESPACES", "DAEMONS UP", "DOWN"),
                           [(r["lab"], r["phase"], r["engine"], str(r["namespaces"]), r["processes"],
                             ", ".join(r["dead"]) or "-") for r in rows]))
    return 0
