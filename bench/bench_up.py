#!/usr/bin/env python3
"""Bench: nothing -> BGP verified, and teardown, for several lab sizes; medians of several runs;
optionally against a Mininet build of the same BGP lab (bench/mininet_bgp.py).

Each run is the real CLI as a user runs it (`gwlab up --json`, then `gwlab down`), timed as a whole
process from outside, with up's own phase split (validate, build, bgp established, filter push,
verify) read from its JSON. Labs are named bench-<size> so a user's lab is never touched.

    sudo .venv/bin/python bench/bench_up.py [--sizes 3 20 50] [--runs 5] [--mininet]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator import topology_gen  # noqa: E402

from benchlib import gwlab, summarize  # noqa: E402

# Enough IPAM blocks for 50 nodes: the workshop's /24 pod pool cut into /30 blocks (64 of them).
BENCH_POOL = """apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 10.50.0.0/24
  blockSize: 30
  nodeSelector: all()
  allowedUses: [Workload, Tunnel]
"""


def one_run(size: int, topo: Path, pool: Path) -> dict[str, float]:
    lab = f"bench-{size}"
    gwlab("down", "--lab", lab)
    t = time.perf_counter()
    up = gwlab("up", "--lab", lab, "-t", str(topo), "-f", str(pool), "--bgp-only", "--json")
    total = time.perf_counter() - t
    try:
        result = json.loads(up.stdout)
    except ValueError:
        raise SystemExit(f"up failed at size {size}:\n{up.stdout}\n{up.stderr}")
    if not result["ok"]:
        failed = [c for c in result["checks"] if not c["ok"]]
        raise SystemExit(f"up at size {size} did not verify: {failed}")
    t = time.perf_counter()
    down = gwlab("down", "--lab", lab)
    teardown = time.perf_counter() - t
    if down.returncode != 0:
        raise SystemExit(f"down failed: {down.stderr}")
    return {"up (whole command)": total, **{f"  {k}": v for k, v in result["phases"].items()},
            "down (whole command)": teardown}


def mininet_spec(size: int, topo_path: Path, pool: Path, work: Path) -> Path:
    """Configs rendered by gwlab's own templates, for the same lab built by Mininet."""
    from dataclasses import replace
    from ipaddress import IPv4Network

    from orchestrator import cluster, topology
    from orchestrator.bird.config import bastion_config

    topo = topology.load(topo_path)
    plan = cluster.plan(topo, [], cluster.base_documents([pool]))
    d = work / f"mininet-{size}"
    d.mkdir(exist_ok=True)
    lb = IPv4Network("10.10.10.0/26")
    bastion = replace(bastion_config(topo, str(d / "bastion.log"), "1", (IPv4Network("10.50.0.0/24"), lb)),
                      interface="h0-eth0")
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


def mininet_run(spec: Path) -> dict[str, float]:
    t = time.perf_counter()
    out = subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "mininet_bgp.py"), "--spec", str(spec)],
                         capture_output=True, text=True, timeout=300)
    whole = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"mininet run failed:\n{out.stdout}\n{out.stderr}")
    return {"whole command (build, verify, teardown)": whole, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[3, 20, 50], help="nodes in the cluster")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mininet", action="store_true", help="also time a Mininet build of the same BGP lab")
    ap.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = ap.parse_args()
    report: list[str] = []
    figures: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="gwlab-bench-") as tmp:
        work = Path(tmp)
        pool = work / "pool.yaml"
        pool.write_text(BENCH_POOL)
        for size in args.sizes:
            topo = topology_gen.write_resized(work / f"n{size}", size - 1)
            runs = [one_run(size, topo, pool) for _ in range(args.runs)]
            figures[f"gwlab netns, {size} nodes"] = runs
            report += summarize(f"gwlab netns engine, {size} nodes (seconds)", runs)
            if args.mininet:
                spec = mininet_spec(size, topo, pool, work)
                mruns = [mininet_run(spec) for _ in range(args.runs)]
                figures[f"mininet, {size} nodes"] = mruns
                report += summarize(f"Mininet build of the same BGP lab, {size} nodes (seconds)", mruns)
            print("\n".join(report[-(len(runs[0]) + 2) * (2 if args.mininet else 1):]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print("\n" + "\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
