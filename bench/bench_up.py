#!/usr/bin/env python3
"""Bench: nothing -> BGP verified, and teardown, at several lab sizes, beside a Mininet build of the
same BGP lab (bench/mininet_bgp.py: the same BIRD configs, rendered by gwlab's templates).

For each size the runs alternate, gwlab then Mininet, so both meet the same machine. A gwlab run is
the CLI as a user runs it: `gwlab up --bgp-only --json`, then `gwlab down`, each timed as a whole
process from outside. `up` is split into every phase from the process's start: the start itself
(launch to up's code running: interpreter, imports, arguments), up's own phases from its JSON, and
its output and exit; the bench prints what the named phases leave unexplained (the remainder).
Topologies and pod pools come from orchestrator.topology_gen; labs are named bench-<size>.

    sudo .venv/bin/python bench/bench_up.py [--sizes 3 20 50 100 200] [--runs 5 [5 ...]] [--no-mininet]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator import topology_gen  # noqa: E402

from benchlib import gwlab, summarize, timed_up  # noqa: E402

UP, DOWN, BOTH, REMAINDER = "up (whole command)", "down (whole command)", "up + down", "  remainder (whole - phases)"
MININET = "Mininet (whole command)"


@dataclass
class Size:
    nodes: int
    gwlab: list[dict[str, float]] = field(default_factory=list)
    mininet: list[dict[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def gwlab_run(size: int, topo: Path, timeout: float) -> dict[str, float]:
    lab = f"bench-{size}"
    _, whole, phases = timed_up(lab, ["-t", str(topo), "-f", str(topology_gen.manifests_for(topo)), "--bgp-only"],
                                timeout)
    t = time.perf_counter()
    down = gwlab("down", "--lab", lab, timeout=timeout)
    teardown = time.perf_counter() - t
    if down.returncode != 0:
        raise RuntimeError(f"down failed: {down.stderr.strip()}")
    return {UP: whole, **{f"  {k}": v for k, v in phases.items()},
            REMAINDER: whole - sum(phases.values()), DOWN: teardown, BOTH: whole + teardown}


def mininet_spec(size: int, topo_path: Path, work: Path) -> Path:
    """Configs rendered by gwlab's own templates, for the same lab built by Mininet."""
    from dataclasses import replace
    from ipaddress import IPv4Network

    from orchestrator import cluster, topology
    from orchestrator.bird.config import bastion_config
    from orchestrator.runbook import bastion_accepts

    topo = topology.load(topo_path)
    plan = cluster.plan(topo, [], cluster.base_documents([topology_gen.manifests_for(topo_path)]))
    d = work / f"mininet-{size}"
    d.mkdir(exist_ok=True)
    lb = IPv4Network("10.10.10.0/26")
    accepted = bastion_accepts(plan) + (lb,)  # the bastion's filter after up's push: Mininet skips the push
    bastion = replace(bastion_config(topo, str(d / "bastion.log"), "1", accepted), interface="h0-eth0")
    (d / "bastion.conf").write_text(bastion.render())
    hosts = [{"name": "h0", "ip": str(topo.bastion.address), "config": str(d / "bastion.conf"),
              "socket": str(d / "h0.ctl")}]
    for i, node in enumerate(topo.k8s_nodes, start=1):
        nd = d / f"h{i}"
        nd.mkdir(exist_ok=True)
        for name, text in plan.speakers[node.name].render(nd).items():
            (nd / name).write_text(text)
        hosts.append({"name": f"h{i}", "ip": str(node.address), "config": str(nd / "bird.cfg"),
                      "socket": str(nd / "bird.ctl")})
    spec = d / "spec.json"
    spec.write_text(json.dumps({"hosts": hosts, "lb": str(lb), "nexthops": len(topo.k8s_nodes)}))
    return spec


def mininet_run(spec: Path, timeout: float) -> dict[str, float]:
    t = time.perf_counter()
    out = subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "mininet_bgp.py"), "--spec", str(spec),
                          "--wait", str(timeout / 2)], capture_output=True, text=True, timeout=timeout)
    whole = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"Mininet run failed: {(out.stderr or out.stdout).strip()[-600:]}")
    inside = json.loads(out.stdout.strip().splitlines()[-1])
    return {MININET: whole, **{f"  {k}": v for k, v in inside.items()}}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 ** 2
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores ({cpu}), "
            f"{mem} GB, Linux {platform.release()}, Python {platform.python_version()}")


def median(runs: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def side_by_side(sizes: list[Size], when: str) -> list[str]:
    def f(v: float | None) -> str:
        return f"{v:.2f}" if v is not None else "-"
    lines = [f"Medians, seconds ({when}):", "",
             "| nodes | runs | `gwlab up --bgp-only` | `gwlab down` | up + down | Mininet build + verify + teardown "
             "| ratio gwlab/Mininet |", "|---|---|---|---|---|---|---|"]
    for s in sizes:
        both, mn = median(s.gwlab, BOTH), median(s.mininet, MININET)
        ratio = f"{both / mn:.2f}" if both is not None and mn else "-"
        lines.append(f"| {s.nodes} | {len(s.gwlab)}/{len(s.mininet)} | {f(median(s.gwlab, UP))} | "
                     f"{f(median(s.gwlab, DOWN))} | {f(both)} | {f(mn)} | {ratio} |")
    for s in sizes:
        lines += [f"{s.nodes} nodes: {x}" for x in s.failures]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[3, 20, 50, 100, 200], help="nodes in the cluster")
    ap.add_argument("--runs", type=int, nargs="+", default=[5],
                    help="runs per size: one number for all, or one per size (e.g. 5 5 5 5 3)")
    ap.add_argument("--mininet-runs", type=int, nargs="+",
                    help="Mininet's runs per size, as --runs (default: the same); its static ARP is slow at 200")
    ap.add_argument("--no-mininet", action="store_true", help="time gwlab alone")
    ap.add_argument("--mininet", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old calls
    ap.add_argument("--no-mesh", action="store_true", help="Calico's node-to-node mesh off (nodes peer with the bastion)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds one command may take")
    ap.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = ap.parse_args()
    def per_size(values: list[int], option: str) -> dict[int, int]:
        if len(values) not in (1, len(args.sizes)):
            ap.error(f"{option} takes one number, or one per size")
        return dict(zip(args.sizes, values * len(args.sizes) if len(values) == 1 else values))
    runs_of = per_size(args.runs, "--runs")
    mininet_runs_of = per_size(args.mininet_runs or args.runs, "--mininet-runs")
    when = machine()
    print(f"bench_up: {when}; runs per size: gwlab {runs_of}, Mininet {mininet_runs_of}, alternating",
          flush=True)
    sizes: list[Size] = []
    with tempfile.TemporaryDirectory(prefix="gwlab-bench-") as tmp:
        work = Path(tmp)
        for n in args.sizes:
            size = Size(n)
            sizes.append(size)
            topo = topology_gen.write_resized(work / f"n{n}", n - 1, mesh=not args.no_mesh)
            spec = None if args.no_mininet else mininet_spec(n, topo, work)
            for i in range(max(runs_of[n], mininet_runs_of[n])):
                for name, runs, run in (("gwlab", size.gwlab, lambda: gwlab_run(n, topo, args.timeout)
                                         if i < runs_of[n] else None),
                                        ("Mininet", size.mininet, lambda: mininet_run(spec, args.timeout)
                                         if spec and i < mininet_runs_of[n] else None)):
                    try:
                        figures = run()
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        size.failures.append(f"{name} run {i + 1}: {exc}")
                        print(f"  {n} nodes, {name} run {i + 1} failed: {exc}", flush=True)
                        continue
                    if figures is not None:
                        runs.append(figures)
                        total = figures.get(BOTH, figures.get(MININET, 0.0))
                        print(f"  {n} nodes, {name} run {i + 1}: {total:.2f} s", flush=True)
            for title, runs in ((f"gwlab, {n} nodes (seconds)", size.gwlab),
                                (f"Mininet, same BGP lab, {n} nodes (seconds)", size.mininet)):
                if runs:
                    print("\n".join(summarize(title, runs, width=52)), flush=True)
    print("\n" + "\n".join(side_by_side(sizes, when)))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": when, "sizes": {
            s.nodes: {"gwlab": s.gwlab, "mininet": s.mininet, "failures": s.failures} for s in sizes}}, indent=1))
    return 1 if any(s.failures for s in sizes) else 0


if __name__ == "__main__":
    sys.exit(main())
