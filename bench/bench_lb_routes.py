#!/usr/bin/env python3
"""Bench: 10,000 LoadBalancer /32s from 3 nodes into the bastion's kernel.

The workshop lab comes up (`gwlab up`, 3 nodes); then, as a user would prepare it: a LoadBalancer
IPPool big enough (10.200.0.0/18, allowedUses LoadBalancer), its CIDR in the BGPConfiguration's
serviceLoadBalancerIPs, the bastion's import filter accepting it (`gwlab bird filter add`), and a
second Deployment of the echo server (1 replica) beside the workshop's (scaled to 2): the workers
hold endpoints of both. Each run then creates N Services of type LoadBalancer with
externalTrafficPolicy Local through the lab's API server, in bulk (concurrent POSTs over several
connections, each made inside the bastion's namespace), half selecting the 2-replica Deployment
(their /32 via both workers), half the 1-replica one (via one worker), and measures:

- create: from the first POST to the last answer (the Services exist);
- routes: from the Services existing to every /32 in the bastion's kernel as an ECMP route via exactly
  the nodes with a ready local endpoint (read with `ip -o route` in the bastion's namespace);
- one more: then one more Service, to its /32 in the kernel (about one pass of the control plane);
- verify: `gwlab verify --json` as a whole command, which checks every /32 (it must say how many);
- delete: the Services deleted (one deletecollection) until their /32s have left the kernel.

    sudo .venv/bin/python bench/bench_lb_routes.py [--services 10000] [--runs 3] [--keep] [--lab NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from ipaddress import IPv4Network
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.controlplane import process  # noqa: E402
from orchestrator.controlplane.client import Client  # noqa: E402
from orchestrator.lab import Lab, open_lab  # noqa: E402

from benchlib import gwlab, lb_pool_manifests, summarize, up_and_apply  # noqa: E402

LAB = "bench-lb"
POOL = IPv4Network("10.200.0.0/18")
LABEL = "gwlab-bench"
SERVICES = "/api/v1/namespaces/default/services"
SETUP = lb_pool_manifests("bench-lb-pool", POOL) + f"""\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench-one
spec:
  selector:
    matchLabels:
      run: bench-one
  replicas: 1
  template:
    metadata:
      labels:
        run: bench-one
    spec:
      containers:
        - name: echo
          image: gcr.io/k8s-staging-gateway-api/echo-basic:v20231214-v1.0.0-140-gf544a46e
          ports:
            - containerPort: 8443
          env:
            - name: HTTPS_PORT
              value: "8443"
            - name: TLS_SERVER_CERT
              value: /etc/server-certs/tls.crt
            - name: TLS_SERVER_PRIVKEY
              value: /etc/server-certs/tls.key
          volumeMounts:
            - name: server-certs
              mountPath: /etc/server-certs
              readOnly: true
      volumes:
        - name: server-certs
          secret:
            secretName: server-certs
"""
SELECTORS = ({"run": "passthrough-echoserver"}, {"run": "bench-one"})


def service(i: int) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"bench-lb-{i:05d}", "namespace": "default", "labels": {LABEL: "lb"}},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "allocateLoadBalancerNodePorts": False, "selector": SELECTORS[i % 2],
                     "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}]}}


def client(lab: Lab) -> Client:
    return process.client(lab.topo)


def create_all(lab: Lab, count: int, connections: int) -> None:
    failures: list[str] = []

    def worker(k: int) -> None:
        c = client(lab)
        try:
            for i in range(k, count, connections):
                reply = c.request("POST", SERVICES, service(i))
                if reply.status != 201:
                    failures.append(f"{i}: {reply.status} {reply.message}")
        finally:
            c.close()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} creates failed, first: {failures[:3]}")


def delete_all(lab: Lab) -> None:
    c = client(lab)
    try:
        reply = c.request("DELETE", f"{SERVICES}?labelSelector={LABEL}%3Dlb")
        if reply.status != 200:
            raise SystemExit(f"deletecollection failed: {reply.status} {reply.message}")
    finally:
        c.close()


def kernel_32s(lab: Lab) -> dict[str, frozenset[str]]:
    """The bastion's /32s: address -> next hops (one `ip -o route` in its namespace)."""
    out = lab.engine.exec(lab.topo.bastion.name, ["ip", "-4", "-o", "route", "show", "table", "main"],
                          capture=True).stdout.decode()
    routes: dict[str, frozenset[str]] = {}
    for line in out.splitlines():
        words = line.split()
        if not words or "/" in words[0]:
            continue  # the pools' CIDRs, the pod blocks, the segment
        hops = {words[i + 1] for i, w in enumerate(words[:-1]) if w == "via"}
        routes[words[0]] = frozenset(hops)
    return routes


def expected_32s(lab: Lab) -> dict[str, frozenset[str]]:
    """What the control plane says: each Local Service's address -> the node IPs of its ready endpoints."""
    from orchestrator.engines.netns.controllers import Controllers

    local = Controllers(lab.engine.host).allocations().local_services  # type: ignore[attr-defined]
    by_addr: dict[str, set[str]] = {}
    for node, addrs in local.items():
        ip = str(lab.topo.node(node).ip)
        for a in addrs:
            by_addr.setdefault(a, set()).add(ip)
    return {a: frozenset(n) for a, n in by_addr.items()}


def wait_for(pred: object, timeout: float, interval: float = 0.05) -> float | None:
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return time.perf_counter() - t0
        time.sleep(interval)
    return None


def one_run(lab: Lab, count: int, connections: int, timeout: float) -> dict[str, float]:
    before = len(kernel_32s(lab))  # the gateway's own /32
    t0 = time.perf_counter()
    create_all(lab, count, connections)
    created = time.perf_counter()
    nodes_of = {str(n.ip) for n in lab.topo.k8s_nodes}
    last: dict[str, object] = {}

    def all_in() -> bool:
        # Every /32 there, each via exactly the nodes of its ready endpoints as the control plane placed them.
        routes = kernel_32s(lab)
        last["n"] = len(routes)
        if len(routes) < count + before or not all(h and h <= nodes_of for h in routes.values()):
            return False
        want = expected_32s(lab)
        last["wrong"] = [a for a in want if routes.get(a) != want[a]][:3]
        return len(want) == count + before and routes == want
    routes_t = wait_for(all_in, timeout)
    if routes_t is None:
        raise SystemExit(f"only {last.get('n')} of {count} /32s reached the bastion's kernel in {timeout:.0f} s "
                         f"(other next hops than expected: {last.get('wrong')})")
    # One more Service once the lab is still: about one whole pass of the control plane at this size.
    c = client(lab)
    try:
        t = time.perf_counter()
        if c.request("POST", SERVICES, service(count)).status != 201:
            raise SystemExit("the extra Service was not created")
    finally:
        c.close()
    one_t = wait_for(lambda: len(kernel_32s(lab)) >= count + before + 1, timeout)
    t = time.perf_counter()
    verify = gwlab("verify", "--lab", LAB, "--json", timeout=600)
    verify_t = time.perf_counter() - t
    results = json.loads(verify.stdout)
    failed = [c for c in results["checks"] if not c["ok"]]
    lb = [c for c in results["checks"] if "LoadBalancer /32s" in c["check"]]
    print(f"  verify: {len(results['checks'])} checks, {len(failed)} failed; "
          + "; ".join(f"{c['check']}: {c['observed']}" for c in lb), flush=True)
    if failed:
        raise SystemExit(f"verify failed: {[(c['check'], c['observed'][:300]) for c in failed]}")
    t = time.perf_counter()
    delete_all(lab)
    gone = wait_for(lambda: len(kernel_32s(lab)) <= before, timeout)
    return {"create (POSTs, all answered)": created - t0, "Services exist -> all /32s in kernel": routes_t,
            "one more Service -> its /32 in kernel": one_t if one_t is not None else float("nan"),
            "gwlab verify (whole command)": verify_t,
            "delete -> all /32s gone": (time.perf_counter() - t) if gone is not None else float("nan")}


def setup() -> Lab:
    up_and_apply(LAB, SETUP)
    gwlab("scale", "--lab", LAB, "deployment", "passthrough-echoserver", "--replicas", "2", check=True)
    gwlab("bird", "filter", "add", str(POOL), "--lab", LAB, check=True)
    return open_lab(None, LAB)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    ap.add_argument("--lab", default=LAB, help="the lab's name (another run on this host may hold bench-lb)")
    args = ap.parse_args()
    globals()["LAB"] = args.lab
    runs: list[dict[str, float]] = []
    try:
        lab = setup()
        for n in range(args.runs):
            runs.append(one_run(lab, args.services, args.connections, args.timeout))
            print(f"run {n + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in runs[-1].items()), flush=True)
    finally:
        if not args.keep:
            gwlab("down", "--lab", LAB)
    if runs:
        print("\n".join(summarize(f"{args.services} LoadBalancer /32s, 3 nodes", runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
