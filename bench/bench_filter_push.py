#!/usr/bin/env python3
"""Bench: a bastion filter push -> the new route in the bastion's kernel.

The workshop lab comes up (`gwlab up`); a second LoadBalancer range (10.201.0.0/24: an IPPool with
allowedUses LoadBalancer, and the BGPConfiguration's serviceLoadBalancerIPs) is advertised by every
node and filtered by the bastion. Each run then accepts it as the workshop does, through gwlab's
push path (render the filter, validate with the route-policy test, `configure check`, write,
`configure timeout`, the lab's checks, `configure confirm`), and removes it again:

- in process (`bastion.push_config`, what `gwlab bird filter add` calls): from the push's start to
  the route in the kernel, and to the push's return (checks and confirm included);
- as a whole command (`gwlab bird filter add CIDR`): from its launch to the route in the kernel,
  and to its exit;
- the removal (`filter remove --force`, in process): to the route gone from the kernel.

The kernel is watched by a netlink socket made inside the bastion's namespace, subscribed to IPv4
route changes: the moment is the RTM_NEWROUTE (or RTM_DELROUTE) message for the prefix.

    sudo .venv/bin/python bench/bench_filter_push.py [--runs 7]
"""

from __future__ import annotations

import argparse
import select
import socket
import struct
import sys
import threading
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator import bastion  # noqa: E402
from orchestrator.engines.netns import namespaces  # noqa: E402
from orchestrator.lab import Lab, open_lab  # noqa: E402

from benchlib import gwlab, lb_pool_manifests, summarize, up_and_apply  # noqa: E402

LAB = "bench-push"
PREFIX = IPv4Network("10.201.0.0/24")
SETUP = lb_pool_manifests("bench-push-pool", PREFIX)
RTMGRP_IPV4_ROUTE = 0x40
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTA_DST = 1


class RouteWatch:
    """The moment the kernel of a lab namespace adds (or deletes) a route for exactly `prefix`."""

    def __init__(self, ns: str, prefix: IPv4Network) -> None:
        with namespaces.inside(ns):  # the socket keeps the namespace it was made in
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, RTMGRP_IPV4_ROUTE))
        self.prefix = prefix
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _match(self, body: bytes) -> bool:
        family, dst_len = body[0], body[1]
        if family != socket.AF_INET or dst_len != self.prefix.prefixlen:
            return False
        off = 12  # struct rtmsg
        while off + 4 <= len(body):
            length, kind = struct.unpack_from("=HH", body, off)
            if length < 4:
                return False
            if kind == RTA_DST and IPv4Address(body[off + 4:off + 8]) == self.prefix.network_address:
                return True
            off += (length + 3) & ~3
        return False

    def _run(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            data = self.sock.recv(1 << 20)
            now = time.perf_counter()
            off = 0
            while off + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, off)
                if length < 16:
                    break
                if kind in (RTM_NEWROUTE, RTM_DELROUTE) and self._match(data[off + 16:off + length]):
                    self.seen.setdefault(kind, now)
                off += (length + 3) & ~3

    def wait(self, kind: int, timeout: float = 10.0) -> float | None:
        deadline = time.monotonic() + timeout
        while kind not in self.seen and time.monotonic() < deadline:
            time.sleep(0.001)
        return self.seen.get(kind)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def in_kernel(lab: Lab) -> bool:
    return bool(lab.engine.kernel_routes(lab.topo.bastion.name, PREFIX))


def push(lab: Lab, accepted: tuple[IPv4Network, ...], force: bool = False) -> None:
    """What `gwlab bird filter add|remove [--force]` does, in this process (a removal is a loss the
    route-policy test refuses without --force)."""
    text = lab.bastion_config(accepted).render()
    out = bastion.push_config(lab, text, None, display="bench", accepted=accepted, force=force)
    if not out.confirmed:
        raise SystemExit(f"the push was not confirmed: {out.as_dict()}")


def one_run(lab: Lab) -> dict[str, float]:
    base = bastion.managed_filter(lab)
    ns = lab.engine.ns(lab.topo.bastion.name)  # type: ignore[attr-defined]
    figures: dict[str, float] = {}

    watch = RouteWatch(ns, PREFIX)
    t0 = time.perf_counter()
    push(lab, base + (PREFIX,))
    t_end = time.perf_counter()
    seen = watch.wait(RTM_NEWROUTE)
    watch.close()
    if seen is None:
        raise SystemExit(f"{PREFIX} did not reach the bastion's kernel")
    figures["push (in process) -> route in kernel"] = seen - t0
    figures["push (in process), whole"] = t_end - t0

    watch = RouteWatch(ns, PREFIX)
    t0 = time.perf_counter()
    push(lab, base, force=True)
    t_end = time.perf_counter()
    gone = watch.wait(RTM_DELROUTE)
    watch.close()
    if gone is None or in_kernel(lab):
        raise SystemExit(f"{PREFIX} did not leave the bastion's kernel")
    figures["remove (in process) -> route gone"] = gone - t0

    watch = RouteWatch(ns, PREFIX)
    t0 = time.perf_counter()
    out = gwlab("bird", "filter", "add", str(PREFIX), "--lab", LAB)
    t_end = time.perf_counter()
    seen = watch.wait(RTM_NEWROUTE)
    watch.close()
    if out.returncode != 0 or seen is None:
        raise SystemExit(f"gwlab bird filter add failed: {out.stdout[-800:]} {out.stderr[-800:]}")
    figures["gwlab bird filter add -> route in kernel"] = seen - t0
    figures["gwlab bird filter add, whole command"] = t_end - t0
    push(lab, base, force=True)
    return figures


def setup() -> Lab:
    up_and_apply(LAB, SETUP)
    lab = open_lab(None, LAB)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # every node advertises it, the bastion filters it
        filtered = lab.engine.birdc(lab.topo.bastion.name, f"show route filtered {PREFIX} all").text
        if filtered.count("via ") >= len(lab.topo.k8s_nodes):
            break
        time.sleep(0.05)
    else:
        raise SystemExit(f"{PREFIX} was not filtered from every node at the bastion")
    return lab


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = ap.parse_args()
    runs: list[dict[str, float]] = []
    try:
        lab = setup()
        for n in range(args.runs):
            runs.append(one_run(lab))
            print(f"run {n + 1}: " + ", ".join(f"{k} {v:.3f} s" for k, v in runs[-1].items()), flush=True)
    finally:
        if not args.keep:
            gwlab("down", "--lab", LAB)
    if runs:
        print("\n".join(summarize("bastion filter push -> route in kernel, 3 nodes", runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
