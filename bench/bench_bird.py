#!/usr/bin/env python3
"""Bench: `gwlab bird validate` of the workshop's bird.conf, parse only and with the route-policy test.

Each run is the real CLI as a user runs it, timed as a whole process from outside, with validate's own
split (parse check, route-policy test) read from its JSON. The workshop's bird.conf is the bastion's
config after prerequisite 3 (accepting 10.50.0.0/24 and 10.10.10.0/26), taken from a lab brought up
for the bench (named bench-bird-<dialect>, so a user's lab is never touched) and validated against it;
the same file (plus a comment, so that it differs from the running config and both are run by the
route-policy test) is validated against the lab, and outside any lab with --routes. Goals: parse only <= 0.3 s, with the
route-policy test <= 1.5 s.

    sudo .venv/bin/python bench/bench_bird.py [--runs 7] [--bird 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import gwlab
from benchlib import summarize as table
from orchestrator.rundir import RunDir
GOALS = {"parse only": 0.3, "with route-policy test": 1.5}
ROUTES = "10.10.10.0/26\n10.50.0.0/28 control1\n10.50.0.16/28 worker1\n10.50.0.32/28 worker2\n"


def timed(*args: str) -> dict[str, float]:
    t = time.perf_counter()
    out = gwlab(*args)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"gwlab {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    inner = json.loads(out.stdout)["timings"]
    return {"whole command": wall, **{f"  {k}": v for k, v in inner.items()}}


def summarize(name: str, runs: list[dict[str, float]], goal: float | None) -> list[str]:
    lines = table(name + (f", goal <= {goal} s" if goal else ""), runs, width=22)
    if goal:
        median = statistics.median(r["whole command"] for r in runs)
        lines.append(f"  -> {'meets' if median <= goal else 'MISSES'} the goal ({median:.3f} s)")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--bird", nargs="+", default=["1", "2"], choices=["1", "2"], help="bastion dialects")
    ap.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = ap.parse_args()
    report: list[str] = []
    figures: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="gwlab-bench-") as tmp:
        work = Path(tmp)
        routes = work / "routes.txt"
        routes.write_text(ROUTES)
        for dialect in args.bird:
            lab = f"bench-bird-{dialect}"
            gwlab("down", "--lab", lab)
            up = gwlab("up", "--lab", lab, "--bastion-bird", dialect, "--json")
            try:
                if up.returncode != 0:
                    raise SystemExit(f"up failed:\n{up.stdout}\n{up.stderr}")
                conf = work / f"bird-{dialect}.conf"
                # A change (a comment), so that the running config is run in its scratch BIRD too.
                conf.write_text(RunDir(lab).node("bastion").bird_config.read_text()
                                + "# the candidate: the workshop's bird.conf after prerequisite 3\n")
                cases = {
                    "parse only": ["bird", "validate", "--lab", lab, str(conf), "--parse-only", "--json"],
                    "with route-policy test": ["bird", "validate", "--lab", lab, str(conf), "--json"],
                }
                for case, argv in cases.items():
                    timed(*argv)  # warm the page cache
                    runs = [timed(*argv) for _ in range(args.runs)]
                    name = f"BIRD {'1.6' if dialect == '1' else '2'} bastion, {case}"
                    figures[name] = runs
                    report += summarize(name, runs, GOALS[case])
                    print("\n".join(report[-(len(runs[0]) + 3):]), flush=True)
            finally:
                gwlab("down", "--lab", lab)
            argv = ["bird", "validate", str(conf), "--bird", dialect, "--routes", str(routes), "--json"]
            timed(*argv)
            runs = [timed(*argv) for _ in range(args.runs)]
            name = f"BIRD {'1.6' if dialect == '1' else '2'}, no lab, --routes"
            figures[name] = runs
            report += summarize(name, runs, GOALS["with route-policy test"])
            print("\n".join(report[-(len(runs[0]) + 3):]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print("\n" + "\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
