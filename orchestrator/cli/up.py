"""gwlab up: build the lab, bring BGP up, push the bastion's filter, verify; the lab stays up."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from orchestrator.cli import command_name, common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("up", help="bring the lab up and verify it")
    common(p)
    p.add_argument("--engine", default="netns", choices=["netns", "clab"],
                   help="how to run it: netns (embedded, the default) or clab (containerlab, kind, real Calico)")
    p.add_argument("--dry-run", action=_DryRun, nargs=0, default=False,
                   help="print the clab engine's plan (steps, commands, manifests) in order; run nothing")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="more manifests to apply at start (they replace the workshop's objects of the same name)")
    p.add_argument("--bastion-bird", default="1", choices=["1", "2"],
                   help="BIRD dialect on the bastion: 1 (1.6, the workshop's) or 2")
    p.add_argument("--bgp-only", action="store_true",
                   help="stop after the BGP part (prerequisites 1-3); skip the TLS passthrough demo")
    p.add_argument("--timers", default="fast", choices=["fast", "calico"],
                   help="the node speakers' BGP timers: fast (the lab's, the default) or calico (Calico's own: "
                        "connect delay 2, retry 5, error wait 5,30, BIRD's hold 240 / keepalive 80)")
    p.add_argument("--pre-workshop", action="store_true",
                   help="with --bgp-only: stop where the workshop's reader starts (cluster and node speakers "
                        "up; no LoadBalancer IPPool, BGPConfiguration or BGPPeer yet; the bastion's old filter)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


class _DryRun(argparse.Action):
    """--dry-run runs nothing, so it needs no root."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        namespace.dry_run = True
        namespace.needs_root = False


def run(args: argparse.Namespace) -> int:
    from orchestrator import timing

    entered, start = time.time(), time.perf_counter()
    before_run = timing.since_process_start()
    from orchestrator import report, runbook

    if args.dry_run:
        from orchestrator.errors import LabError

        if args.engine != "clab":
            raise LabError("--dry-run prints the containerlab engine's plan: use it with --engine clab "
                           "(the netns engine's up is quick to run and `gwlab down` undoes it)")
        from orchestrator.engines.clab import dryrun

        sys.stdout.write(dryrun.render(args.topo, args.lab, args.bastion_bird, [Path(f) for f in args.filename],
                                       demo_steps=not args.bgp_only))
        return 0
    if args.pre_workshop and not args.bgp_only:
        from orchestrator.errors import LabError

        raise LabError("--pre-workshop stands the lab before the workshop's prerequisites: use it with "
                       "--bgp-only (gwlab up --bgp-only --pre-workshop)")
    def progress(line: str) -> None:
        if not args.json:
            print(f"[{time.perf_counter() - start + before_run:5.2f}s] {line}", flush=True)

    imports = time.perf_counter() - start
    result = runbook.up(args.topo, args.lab, args.engine, bastion_bird=args.bastion_bird, progress=progress,
                    manifests=[Path(f) for f in args.filename], demo=not args.bgp_only,
                        timers=args.timers, pre_workshop=args.pre_workshop)
    ok = bool(result.results) and all(r.ok for r in result.results)
    # Every phase from the process's start: they add up to `total` (the bench adds what follows:
    # printing and the interpreter's exit, from `clock.end` on).
    phases = {timing.PROCESS_START: before_run, "imports (up's modules)": imports, **result.phases}
    total = before_run + time.perf_counter() - start
    if args.json:
        report.print_json({"lab": result.lab, "ok": ok, "phases": phases, "total": total,
                           "clock": {"run": entered, "end": time.time()},
                           "push": result.push_steps, "checks": [r.as_dict() for r in result.results]})
        return _done(0 if ok else 1)
    print()
    print(report.results_table(result.results))
    print(f"\nlab {result.lab} is up in {total:.2f} s (`up --json` lists its {len(phases)} phases)." if ok
          else f"\nlab {result.lab} is up but checks fail.")
    g = command_name()
    if args.pre_workshop:
        print(f"Next: {g} shell --lab {result.lab}, then the workshop's prerequisites as written")
    print(f"Try: {g} shell | {g} birdc bastion show protocols | {g} graph --live | {g} verify | {g} down")
    return _done(0 if ok else 1)


def _done(code: int) -> int:
    """Run as the program, exit at once: Python's finalization after `up` (freeing every object of the
    lab's plan, tearing modules down) took 70-130 ms here, and nothing is left to do but flush."""
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.argv and Path(sys.argv[0]).name in ("gwlab", "__main__.py"):
        os._exit(code)
    return code
