"""gwlab fault: inject a fault into a lab and undo it; every fault is recorded in the lab's state."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fault", help="break the lab: link-down|link-up, isolate|rejoin, kill, clear")
    verbs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, metavar, what in (
            ("link-down", "NODE[:IFACE]", "take a node's link down (default: its segment link)"),
            ("link-up", "NODE[:IFACE]", "bring a link taken down by link-down up again"),
            ("isolate", "NODE", "take every link of a node down"),
            ("rejoin", "NODE", "bring the links isolate took down up again"),
            ("kill", "TARGET", "signal by recorded PID: bird:NODE, pod/NAME, gateway, or NODE (its BIRD and pods)")):
        q = verbs.add_parser(name, help=what)
        q.add_argument("target", metavar=metavar)
        if name == "kill":
            q.add_argument("--signal", default="TERM", choices=["TERM", "KILL"])
    verbs.add_parser("clear", help="undo every fault this lab injected; impairments back to the topology's")
    for q in verbs.choices.values():
        common(q)
        q.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator.faults import inject
    from orchestrator.lab import open_lab

    lab = open_lab(args.topo, args.lab)
    if args.action == "clear":
        done = inject.clear(lab)
        if lab.state.engine == "netns":
            from orchestrator.faults.netem_ops import restore_declared

            done += restore_declared(lab)  # `netem set` since `up` is undone too
        print("\n".join(done) if done else f"no fault injected in lab {lab.topo.name}")
        return 0
    if args.action in ("link-up", "rejoin"):
        record = inject.find(lab, args.action, args.target)
        for line in inject.undo(lab, record):
            print(f"{record.describe()} undone: {line}")
        return 0
    fault = inject.Fault.parse(f"{args.action}:{args.target}", getattr(args, "signal", "TERM"))
    record = inject.inject(lab, fault)
    what = ", ".join(f"{i} in {ns}" for ns, i in record.links) or ", ".join(record.roles)
    print(f"injected {record.describe()}: {what or 'nothing was up'} (undo: gwlab fault clear)")
    return 0
