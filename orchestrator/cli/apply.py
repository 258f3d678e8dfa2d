"""gwlab apply -f FILE...: apply manifests to the running lab, as kubectl apply does."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("apply", help="apply manifests (files or directories) to the running lab")
    common(p)
    p.add_argument("-f", "--filename", action="append", required=True, metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import lab, manifests

    running = lab.open_lab(args.topo, args.lab)
    result = running.apply(manifests.read_documents([Path(f) for f in args.filename]))
    for line in result.lines():
        print(line)
    return 0  # as kubectl: the objects are applied; pods still starting are listed above
