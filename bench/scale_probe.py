#!/usr/bin/env python3
"""What a big lab costs the machine, and what binds first: one `gwlab up --bgp-only` of N nodes
(orchestrator.topology_gen), then, while it stays up: every node's node-to-node mesh Established
(time after up returned), the daemons' memory, file descriptors and CPU, the neighbour entries
against the kernel's shared limit, the descriptor limits; then `gwlab down`.

    sudo .venv/bin/python bench/scale_probe.py --nodes 200 [--no-mesh] [--settle 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator import topology_gen  # noqa: E402
from orchestrator.bird import parse  # noqa: E402
from orchestrator.lab import open_lab  # noqa: E402

from benchlib import gwlab  # noqa: E402


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--no-mesh", action="store_true")
    ap.add_argument("--settle", type=float, default=10.0, help="seconds over which CPU is measured once meshed")
    ap.add_argument("--mesh-wait", type=float, default=120.0)
    args = ap.parse_args()
    lab = f"probe-{args.nodes}"
    out: dict[str, object] = {"nodes": args.nodes, "mesh": not args.no_mesh}
    with tempfile.TemporaryDirectory(prefix="gwlab-probe-") as tmp:
        topo_path = topology_gen.write_resized(Path(tmp), args.nodes - 1, mesh=not args.no_mesh)
        gwlab("down", "--lab", lab)
        t = time.perf_counter()
        up = gwlab("up", "--lab", lab, "-t", str(topo_path), "-f", str(topology_gen.manifests_for(topo_path)),
                   "--bgp-only", "--json", timeout=600)
        out["up (whole command)"] = round(time.perf_counter() - t, 2)
        try:
            result = json.loads(up.stdout)
            out["up ok"] = result["ok"]
            out["failed checks"] = [f"{c['check']}: {c['observed']}" for c in result["checks"] if not c["ok"]][:10]
            out["up phases"] = {k: round(v, 3) for k, v in result["phases"].items()}
        except ValueError:
            out["up failed"] = (up.stderr or up.stdout)[-1500:]
            print(json.dumps(out, indent=1))
            gwlab("down", "--lab", lab)
            return 1
        try:
            running = open_lab(None, lab)
            nodes = running.topo.k8s_nodes
            others = len(nodes) - 1 if not args.no_mesh else 0
            t = time.perf_counter()
            deadline = time.monotonic() + args.mesh_wait
            meshed = 0
            while time.monotonic() < deadline:
                meshed = 0
                for n in nodes:
                    text = running.engine.birdc(n.name, "show protocols").text
                    up_ = [p for p in parse.parse_protocols(text)
                           if p.name.startswith("Mesh_") and p.info.startswith("Established")]
                    meshed += len(up_)
                if meshed >= others * len(nodes):
                    break
                time.sleep(0.5)
            out["mesh sessions Established (both ends counted)"] = f"{meshed}/{others * len(nodes)}"
            out["mesh complete, seconds after up returned"] = round(time.perf_counter() - t, 2)
            pids = [p.pid for p in running.state.processes if p.role.startswith("bird:")]
            out["BIRD processes"] = len(pids)
            out["BIRD RSS total MB"] = round(sum(status_kb(p, "VmRSS") for p in pids) / 1024, 1)
            out["BIRD RSS max MB"] = round(max(status_kb(p, "VmRSS") for p in pids) / 1024, 1)
            fds = [len(os.listdir(f"/proc/{p}/fd")) for p in pids]
            out["BIRD fds max / soft limit"] = f"{max(fds)} / {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}"
            c0, w0 = cpu_ticks(pids), time.monotonic()
            time.sleep(args.settle)
            used = (cpu_ticks(pids) - c0) / os.sysconf("SC_CLK_TCK")
            out[f"BIRD CPU, steady, over {args.settle:g} s (cores)"] = round(used / (time.monotonic() - w0), 3)
            neigh = 0
            for n in [running.topo.bastion, *nodes]:
                r = running.engine.exec(n.name, ["ip", "-4", "neigh", "show", "nud", "permanent"], capture=True)
                neigh += r.stdout.decode().count("\n")
            gc3 = Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3").read_text().strip()
            out["permanent neighbour entries / gc_thresh3 (which they are exempt from)"] = f"{neigh} / {gc3}"
            out["bastion: routes in the kernel for 10.10.10.0/26, next hops"] = running.engine.exec(
                "bastion", ["ip", "route", "show", "10.10.10.0/26"], capture=True).stdout.decode().count("nexthop")
            mem = {ln.split(":")[0]: int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()}
            out["machine memory available MB"] = mem["MemAvailable"] // 1024
        finally:
            t = time.perf_counter()
            gwlab("down", "--lab", lab, timeout=600)
            out["down (whole command)"] = round(time.perf_counter() - t, 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
