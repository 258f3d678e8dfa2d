#!/usr/bin/python3
"""The same BGP lab built with Mininet, for bench_up.py to compare against (Debian's python3 and
Debian's mininet package; run as root by `bench_up.py`, never by the tests).

Hosts are Mininet hosts in network namespaces, the segment a Linux bridge that also lives in a
namespace (inNamespace=True), so nothing is added to the root namespace. Mininet's init (which
raises host-wide limits and sysctls) is skipped: this machine's settings stay as they are.
Each host runs BIRD on the configs bench_up.py rendered with gwlab's templates (the bastion with
its final filter, so Mininet is spared the push). Prints one JSON line of timings by phase.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time

from mininet.net import Mininet
from mininet.nodelib import LinuxBridge


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True, help="JSON: hosts [{name, ip, config, socket}], lb, nexthops")
    ap.add_argument("--wait", type=float, default=60.0, help="seconds to wait for BGP verified")
    args = ap.parse_args()
    spec = json.load(open(args.spec))
    phases: dict[str, float] = {}
    t = t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        phases[name] = now - t
        t = now

    Mininet.inited = True  # skip Mininet.init(): fixLimits() would change the host's sysctls
    net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False)
    switch = net.addSwitch("s1", cls=LinuxBridge, inNamespace=True)
    hosts = []
    for h in spec["hosts"]:
        host = net.addHost(h["name"], ip=h["ip"])
        net.addLink(host, switch)
        hosts.append((host, h))
    net.build()
    net.start()
    lap("build (hosts, bridge, links)")
    net.staticArp()  # Mininet's answer to the kernel's shared neighbour table limit
    lap("static ARP")
    birds = []
    try:
        for host, h in hosts:
            host.cmd("sysctl -qw net.ipv4.ip_forward=1")  # the host's namespace, not the root's
            birds.append(host.popen(["bird", "-f", "-c", h["config"], "-s", h["socket"]],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        lap("BIRD started")
        bastion = hosts[0][0]
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            out = bastion.cmd(f"ip route show {spec['lb']}")
            if out.count("nexthop via") >= spec["nexthops"]:
                break
            time.sleep(0.01)
        else:
            raise SystemExit(f"Mininet lab did not verify within {args.wait:g} s")
        lap("wait for the LB route's ECMP next hops")
    finally:
        for p in birds:
            os.kill(p.pid, signal.SIGTERM)
        for p in birds:
            p.wait()
        net.stop()
        lap("teardown")
    phases["whole (inside the script)"] = time.perf_counter() - t0
    print(json.dumps(phases))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
