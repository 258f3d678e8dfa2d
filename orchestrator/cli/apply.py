"""gwlab apply -f FILE...: apply manifests to the running lab; speakers are reconfigured in place."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("apply", help="apply manifests (files or directories) to the running lab")
    common(p)
    p.add_argument("-f", "--filename", action="append", required=True, metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import cluster, lab, manifests

    t = time.perf_counter()
    running = lab.open_lab(args.topo, args.lab)
    docs = manifests.read_documents([Path(f) for f in args.filename])
    store = cluster.Store(running.topo.name)
    plan = cluster.plan(running.topo, store.load(), docs)
    store.save(plan.docs)
    changed = running.engine.apply_speakers(plan.speakers)
    for change in plan.changes:
        print(change.line())
    if changed:
        print(f"reconfigured BIRD in place on {', '.join(changed)} ({time.perf_counter() - t:.2f} s)")
    return 0
