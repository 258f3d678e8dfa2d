"""gwlab netem set|show|reset: a node's interface impaired (delay, jitter, loss, rate, corruption,
duplication), with containerlab's `tools netem` semantics: a `set` replaces the interface's impairment."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("netem", help="impair a node's link (netem; tbf and nftables where the kernel has no netem): set, show, reset")
    verbs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = verbs.add_parser("set", help="replace NODE[:IFACE]'s impairment (default interface: the node's segment link)")
    s.add_argument("target", metavar="NODE[:IFACE]")
    for name, what in (("delay", "D (a bare number is ms; 100ms, 1s)"), ("jitter", "D"), ("loss", "PCT"),
                       ("rate", "KBIT"), ("corruption", "PCT"), ("duplicate", "PCT")):
        s.add_argument(f"--{name}", metavar=what.split()[0], help=what)
    sh = verbs.add_parser("show", help="what the kernel says each interface does to its packets")
    sh.add_argument("target", metavar="NODE[:IFACE]", nargs="?")
    r = verbs.add_parser("reset", help="remove NODE[:IFACE]'s impairment")
    r.add_argument("target", metavar="NODE[:IFACE]")
    for q in (s, sh, r):
        common(q)
        q.add_argument("--json", action="store_true")
        q.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import report
    from orchestrator.faults import netem_ops
    from orchestrator.impair.plan import works_here
    from orchestrator.impair.support import kernel_support
    from orchestrator.lab import open_lab

    lab = open_lab(args.topo, args.lab)
    if args.action == "set":
        rows = [netem_ops.set_(lab, args.target, delay=args.delay, jitter=args.jitter, loss=args.loss,
                               rate=args.rate, corruption=args.corruption, duplicate=args.duplicate)]
    elif args.action == "reset":
        rows = [netem_ops.reset(lab, args.target)]
    else:
        rows = netem_ops.show(lab, args.target)
    if args.json:
        report.print_json([r.as_dict() for r in rows])
    else:
        print(report.table(("NODE", "INTERFACE", "IMPAIRMENT", "VIA"),
                           [(r.node, r.interface, r.text, "; ".join(r.via) or "-") for r in rows]))
        if args.action == "show" and not kernel_support().netem:
            print(f"this kernel has no netem qdisc: {works_here(kernel_support())}")
    return 0
