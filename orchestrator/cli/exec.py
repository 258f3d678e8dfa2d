"""gwlab exec NODE -- CMD...: run a command inside a node's network namespace."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("exec", help="run a command inside a node")
    common(p)
    p.add_argument("node")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import lab

    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        raise SystemExit("gwlab exec: give a command after --, e.g. gwlab exec bastion -- ip route")
    running = lab.open_lab(args.topo, args.lab)
    return running.engine.exec(args.node, argv).returncode
