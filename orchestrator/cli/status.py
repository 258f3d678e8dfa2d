"""gwlab status: the labs on this host, and for each whether its namespaces and daemons are alive."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

from orchestrator.cli import lab_name


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="list the labs on this host")
    p.add_argument("--lab", metavar="NAME", type=lab_name, help="only this lab")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


@dataclass(frozen=True)
class LabStatus:
    lab: str
    phase: str
    engine: str
    namespaces: int
    daemons_up: int
    daemons: int
    down: list[str]
    faults: list[str]


def run(args: argparse.Namespace) -> int:
    from orchestrator import report
    from orchestrator.engines.netns import namespaces, procs
    from orchestrator.engines.netns.teardown import labs_on_host
    from orchestrator.state import LabState, check_lab_name, lab_of_ns, run_dir

    if args.lab:
        check_lab_name(args.lab)

    rows = []
    for name in [args.lab] if args.lab else labs_on_host():
        state = LabState.load(name)
        spaces = [n for n in namespaces.list_names() if lab_of_ns(n) == name]
        if state is None and not spaces and args.lab is not None and not run_dir(name).exists():
            continue
        if state is None:
            rows.append(LabStatus(name, "leftover (no state file)", "?", len(spaces), 0, 0, [], []))
            continue
        dead = [p.role for p in state.processes if not procs.alive(p)]
        rows.append(LabStatus(name, state.phase, state.engine, len(spaces),
                              len(state.processes) - len(dead), len(state.processes), dead,
                              [f.describe() for f in state.faults]))
    if args.json:
        report.print_json([asdict(r) for r in rows])
    elif not rows:
        print("no lab on this host")
    else:
        print(report.table(("LAB", "PHASE", "ENGINE", "NAMESPACES", "DAEMONS UP", "DOWN", "FAULTS"),
                           [(r.lab, r.phase, r.engine, str(r.namespaces), f"{r.daemons_up}/{r.daemons}",
                             ", ".join(r.down) or "-",
                             ", ".join(r.faults) or "-") for r in rows]))
    return 0
