#!/usr/bin/env python3
"""Bench: the whole workshop as one command, `gwlab up --json` at 3 nodes (BGP, the demo's steps
1-5 through the lab's API, the gateway, the filter push and every check, the workshop's curl
included), timed from outside as a user runs it, then `gwlab down`; medians of several runs and
every phase of `up` (the process's start and exit included, the remainder printed).

With `--tree DIR` (repeatable) the runs alternate between this checkout and other checkouts of the
project (e.g. `git archive BASE | tar -x -C DIR`, compiled or not), so a change is judged against
its base on the same machine in the same minutes.

    sudo .venv/bin/python bench/bench_workshop.py [--runs 7] [--tree DIR ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from benchlib import gwlab, summarize, timed_up  # noqa: E402

UP, DOWN, REMAINDER = "up, whole workshop verified (whole command)", "down (whole command)", \
    "  remainder (whole - phases)"
LAB = "bench-ws"


def run(tree: Path, timeout: float) -> dict[str, float]:
    result, whole, phases = timed_up(LAB, [], timeout, tree)
    t = time.perf_counter()
    gwlab("down", "--lab", LAB, tree=tree, check=True)
    return {UP: whole, "checks": float(len(result["checks"])), **{f"  {k}": v for k, v in phases.items()},
            REMAINDER: whole - sum(phases.values()), DOWN: time.perf_counter() - t}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tree", type=Path, action="append", default=[],
                    help="another checkout of the project, run alternately with this one")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = ap.parse_args()
    trees = [ROOT, *(t.resolve() for t in args.tree)]
    runs: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    failures: list[str] = []
    for i in range(args.runs):
        for tree in trees:  # alternating, so the machine's load meets every tree alike
            try:
                figures = run(tree, args.timeout)
            except RuntimeError as exc:
                failures.append(f"{tree} run {i + 1}: {exc}")
                print(f"  {tree} run {i + 1} failed: {exc}", flush=True)
                continue
            runs[tree].append(figures)
            print(f"  {tree} run {i + 1}: {figures[UP]:.2f} s", flush=True)
    for tree in trees:
        if runs[tree]:
            print("\n".join(summarize(f"{tree}: nothing -> the whole workshop verified, seconds", runs[tree],
                                      width=70)), flush=True)
    print("\nmedians of `gwlab up` (whole workshop, whole command):")
    for tree in trees:
        if runs[tree]:
            print(f"  {statistics.median(r[UP] for r in runs[tree]):.3f} s  {tree} ({len(runs[tree])} runs)")
    if args.json:
        Path(args.json).write_text(json.dumps({str(t): r for t, r in runs.items()} | {"failures": failures}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
