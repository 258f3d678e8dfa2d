#!/usr/bin/env python3
"""Bench: the TLS passthrough path.

1. nothing -> passthrough verified: `gwlab up --json` (BGP, the workshop's demo steps 1-5, the
   filter push and every check, the workshop's curl included), medians of several runs, phases
   split out; and `gwlab down`.
2. Through the gateway versus straight to an echo pod, from the same client in the bastion's
   namespace, with h2load (nghttp2-client): requests/s for small responses, bytes/s for 1 MiB
   responses (so that the path, not the echo server, is what differs), and TLS connection
   latency p50/p99 (TCP connect + handshake, measured by a client in the bastion's namespace).
   Beside each throughput run: the CPU the gateway's Envoy and the echo pods spent per MB (or per
   1,000 requests) and the host's idle share. On a busy 2-core host the paths share the CPU, and
   the ratio follows what each costs per byte rather than the path's own limits.

    sudo .venv/bin/python bench/bench_passthrough.py [--runs 5] [--duration 5] [--path-only]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import gwlab as _gwlab, summarize


def gwlab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _gwlab(*args, check=check)


HOST = "passthrough.example.com"
LAB = "bench-pt"
HANDSHAKE_CLIENT = r"""
import socket, ssl, sys, time
host, addr, port, n, ca = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["h2"])
times = []
for _ in range(n):
    t = time.perf_counter()
    with socket.create_connection((addr, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            times.append(time.perf_counter() - t)
print(" ".join(f"{x:.6f}" for x in times))
"""


def up_runs(runs: int) -> list[dict[str, float]]:
    figures = []
    for _ in range(runs):
        gwlab("down", "--lab", LAB)
        t = time.perf_counter()
        result = json.loads(gwlab("up", "--lab", LAB, "--json").stdout)
        total = time.perf_counter() - t
        if not result["ok"]:
            raise SystemExit(f"up did not verify: {[c for c in result['checks'] if not c['ok']]}")
        t = time.perf_counter()
        gwlab("down", "--lab", LAB)
        figures.append({"up, passthrough verified (whole command)": total,
                        **{f"  {k}": v for k, v in result["phases"].items()},
                        "down (whole command)": time.perf_counter() - t})
    return figures


def _pod_processes() -> dict[str, list[int]]:
    """The lab's Envoy and echo processes, found by their working directory (the pod's own)."""
    pods = str(Path(os.environ.get("GWLAB_RUN_DIR", "/run/gwlab")) / LAB / "pods") + "/"
    found: dict[str, list[int]] = {"envoy": [], "echo": []}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not os.readlink(f"/proc/{pid}/cwd").startswith(pods):
                continue
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
        found["envoy" if exe == "envoy" else "echo"].append(int(pid))
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _idle() -> tuple[int, int]:
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def h2load(target: str, path: str, duration: int, clients: int, streams: int) -> dict[str, float]:
    procs = _pod_processes()
    before = {k: _cpu_seconds(v) for k, v in procs.items()}
    idle0, all0 = _idle()
    out = gwlab("exec", "--lab", LAB, "bastion", "--", "h2load", "-D", str(duration), "-c", str(clients),
                "-m", str(streams), "--connect-to", target, f"https://{HOST}:6443{path}", check=False)
    text = out.stdout
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s, ([\d.]+)(\w+)/s", text)
    ok = re.search(r"status codes: (\d+) 2xx", text)
    if not rps or not ok or int(ok.group(1)) == 0:
        raise SystemExit(f"h2load against {target} failed:\n{text}\n{out.stderr}")
    idle1, all1 = _idle()
    spent = {k: _cpu_seconds(v) - before[k] for k, v in procs.items()}
    scale = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[rps.group(3)]
    figures = {"req/s": float(rps.group(1)), "MB/s": float(rps.group(2)) * scale / 1e6}
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", text)
    unit, amount = ("per MB", figures["MB/s"] * duration) if path.startswith("/bytes/") else \
        ("per 1k req", int(done.group(1)) / 1000 if done else figures["req/s"] * duration / 1000)
    for name, seconds in spent.items():
        figures[f"CPU ms {unit}, {name}"] = seconds * 1000 / amount if amount else 0.0
    figures["host idle share"] = (idle1 - idle0) / max(1, all1 - all0)
    return figures


def handshakes(address: str, port: int, n: int) -> dict[str, float]:
    ca = Path(gwlab("certs", "--lab", LAB).stdout.strip()) / "example.com.crt"
    out = gwlab("exec", "--lab", LAB, "bastion", "--", sys.executable, "-c", HANDSHAKE_CLIENT, HOST, address,
                str(port), str(n), str(ca))
    times = sorted(float(x) * 1000 for x in out.stdout.split())
    return {"p50 ms": times[len(times) // 2], "p99 ms": times[min(len(times) - 1, int(len(times) * 0.99))]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds per h2load run")
    ap.add_argument("--handshakes", type=int, default=1000, help="per run (a p99 of 1,000 is its 10th worst)")
    ap.add_argument("--path-only", action="store_true", help="skip part 1 (up and down, timed)")
    args = ap.parse_args()
    report = [] if args.path_only else summarize("nothing -> passthrough verified, seconds", up_runs(args.runs))
    print("\n".join(report), flush=True)

    gwlab("up", "--lab", LAB)
    try:
        gw = gwlab("get", "--lab", LAB, "gateway", "tls-passthrough-gateway", "-o",
                   "jsonpath={.status.addresses[0].value}").stdout.strip()
        pods = json.loads(gwlab("get", "--lab", LAB, "pods", "-o", "json").stdout)["items"]
        pod_ip = next(p["status"]["podIP"] for p in pods if p["metadata"]["name"].startswith("passthrough-"))
        paths = {"gateway": f"{gw}:6443", "direct to the echo pod": f"{pod_ip}:8443"}
        for label, path, clients, streams in (("small responses (/get)", "/get", 8, 8),
                                              ("1 MiB responses (/bytes/1048576)", "/bytes/1048576", 4, 1)):
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
            for _ in range(args.runs):
                for name, target in paths.items():  # interleaved, so drift hits both paths alike
                    runs[name].append(h2load(target, path, args.duration, clients, streams))
            for name in paths:
                report += summarize(f"{label}, {name}", runs[name])
            ratio = [g["req/s"] / d["req/s"] for g, d in zip(runs["gateway"], runs["direct to the echo pod"])]
            report.append(f"  gateway / direct, req/s: median {statistics.median(ratio):.3f} "
                          f"(min {min(ratio):.3f}, max {max(ratio):.3f})")
        lat: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
        for _ in range(3):
            for name, target in paths.items():  # interleaved too
                addr, port = target.rsplit(":", 1)
                lat[name].append(handshakes(addr, int(port), args.handshakes))
        for name in paths:
            report += summarize(f"TLS connection latency (connect + handshake), {name}", lat[name])
        p99 = [g["p99 ms"] / d["p99 ms"] for g, d in zip(lat["gateway"], lat["direct to the echo pod"])]
        report.append(f"  gateway / direct, p99: median {statistics.median(p99):.3f} "
                      f"(min {min(p99):.3f}, max {max(p99):.3f})")
    finally:
        gwlab("down", "--lab", LAB)
    print("\n" + "\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
