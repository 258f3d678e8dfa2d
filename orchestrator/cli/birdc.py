"""gwlab birdc NODE CMD...: what birdc prints on that node (bastion, worker1, calico-worker, ...)."""

from __future__ import annotations

import argparse
import sys

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("birdc", help="run a birdc command on a node's BIRD")
    common(p)
    p.add_argument("node")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import lab
    from orchestrator.bird import abbrev

    running = lab.open_lab(args.topo, args.lab)
    node = running.topo.node(args.node).name
    out = running.engine.birdc(node, abbrev.expand(" ".join(args.command) or "show status")).output()
    sys.stdout.write(out.text)
    return out.status
