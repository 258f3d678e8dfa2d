"""Nodes with a lifecycle on a real lab: a worker isolated by `gwlab fault isolate` stops reaching the
control plane with its heartbeat, so its Node goes Unknown (NodeStatusUnknown, the unreachable taints),
its pods Ready=False and out of the Endpoints and EndpointSlices, with Events; after `rejoin` all of
it returns; `fault kill NODE` takes the node's heartbeat with it. Judged by the API's objects through the real kubectl, every wait bounded; the heartbeat
senders are checked as processes (unprivileged, in their node's namespace, stopped by `down`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.controlplane import nodelife
from orchestrator.engines.netns import namespaces as netns
from orchestrator.engines.netns import procs
from orchestrator.state import LabState, ns_name

from .helpers import gwlab

pytestmark = pytest.mark.lab
WORKER = "calico-worker"


def until(what: str, probe: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        time.sleep(0.2)


def get(lab: str, *args: str) -> Any:
    return json.loads(gwlab("--lab", lab, "kubectl", "get", *args, "-o", "json").stdout)


def ready_status(lab: str, node: str) -> str:
    conditions = get(lab, "node", node)["status"]["conditions"]
    return str(next(c for c in conditions if c["type"] == "Ready")["status"])


def worker_pods(lab: str) -> dict[str, tuple[str, str]]:
    """name -> (pod IP, Ready status) of the pods on the worker."""
    out = {}
    for p in get(lab, "pods", "-A")["items"]:
        if p["spec"].get("nodeName") == WORKER:
            ready = next(c["status"] for c in p["status"]["conditions"] if c["type"] == "Ready")
            out[p["metadata"]["name"]] = (p["status"]["podIP"], ready)
    return out


def endpoint_ips(lab: str, ready: bool = True) -> set[str]:
    """The addresses the Endpoints and EndpointSlices list as ready (or, `ready` False, as not ready)."""
    eps = {a["ip"] for e in get(lab, "endpoints", "-A")["items"] for s in e.get("subsets") or []
           for a in s.get("addresses" if ready else "notReadyAddresses") or []}
    slices = {a for s in get(lab, "endpointslices", "-A")["items"] for e in s.get("endpoints") or []
              if e["conditions"]["ready"] is ready for a in e["addresses"]}
    return eps | slices


def events(lab: str, reason: str) -> dict[str, int]:
    """involved object name -> count of the Events with this reason."""
    return {e["involvedObject"]["name"]: int(e.get("count", 1)) for e in get(lab, "events", "-A")["items"]
            if e["reason"] == reason}


def test_an_isolated_worker_goes_not_ready_and_back(lab_name: str) -> None:
    lab = lab_name
    senders: list[procs.Proc] = []
    wait = nodelife.GRACE + 12  # the grace period, a heartbeat period, a controllers' pass, on busy cores
    try:
        gwlab("up", "--lab", lab, timeout=180)
        state = LabState.load(lab)
        assert state is not None
        senders += [p for p in state.processes if p.role.startswith("heartbeat:")]
        assert sorted(p.role for p in senders) == ["heartbeat:calico-control-plane", "heartbeat:calico-worker",
                                                   "heartbeat:calico-worker2"]
        for p in senders:
            status = Path(f"/proc/{p.pid}/status").read_text()
            assert "\nUid:\t65534\t65534\t65534\t65534\n" in status and "\nCapEff:\t0000000000000000\n" in status
            assert "\nNoNewPrivs:\t1\n" in status
            node_ns = os.stat(netns.path_of(ns_name(lab, p.role.split(":", 1)[1]))).st_ino
            assert os.stat(f"/proc/{p.pid}/ns/net").st_ino == node_ns != os.stat("/proc/self/ns/net").st_ino
        until("every node's Lease renewed", lambda: len(get(lab, "leases", "-n", "kube-node-lease")["items"]) == 3, wait)
        lease = get(lab, "lease", "-n", "kube-node-lease", WORKER)["spec"]
        assert lease["holderIdentity"] == WORKER and lease["leaseDurationSeconds"] == nodelife.LEASE_DURATION
        pods = worker_pods(lab)
        assert pods and all(ready == "True" for _, ready in pods.values())
        ips = {ip for ip, _ in pods.values()}
        until("the worker's pods in the endpoints", lambda: ips <= endpoint_ips(lab), wait)

        gwlab("fault", "isolate", "--lab", lab, WORKER)
        until("the worker's Node Ready Unknown", lambda: ready_status(lab, WORKER) == "Unknown", wait)
        node = get(lab, "node", WORKER)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == \
            {(nodelife.UNREACHABLE, "NoSchedule"), (nodelife.UNREACHABLE, "NoExecute")}
        until("the worker's pods Ready=False", lambda: all(r == "False" for _, r in worker_pods(lab).values()), wait)
        until("the worker's pods out of the endpoints", lambda: not ips & endpoint_ips(lab), wait)
        # listed as not ready instead (notReadyAddresses; ready and serving false in the slices)
        until("the worker's pods listed not ready", lambda: ips <= endpoint_ips(lab, ready=False), wait)
        # MarkPodsNotReady: only the Ready condition goes False, the kubelet's last report stays (it cannot
        # report): no reason, ContainersReady and the container's ready flag still true
        for p in get(lab, "pods", "-A")["items"]:
            if p["spec"].get("nodeName") == WORKER:
                by_type = {c["type"]: c for c in p["status"]["conditions"]}
                assert by_type["Ready"]["status"] == "False" and "reason" not in by_type["Ready"], by_type
                assert by_type["ContainersReady"]["status"] == "True"
                assert p["status"]["containerStatuses"][0]["ready"] is True
        assert events(lab, "NodeNotReady").get(WORKER) == 1
        assert set(pods) <= set(events(lab, "NodeNotReady"))  # each pod's Warning "Node is not ready"
        for other in ("calico-control-plane", "calico-worker2"):  # their heartbeats still arrive
            assert ready_status(lab, other) == "True"

        gwlab("fault", "rejoin", "--lab", lab, WORKER)
        until("the worker's Node Ready again", lambda: ready_status(lab, WORKER) == "True", wait)
        until("the worker's pods Ready again", lambda: all(r == "True" for _, r in worker_pods(lab).values()), wait)
        until("the worker's pods back in the endpoints", lambda: ips <= endpoint_ips(lab), wait)
        assert not ips & endpoint_ips(lab, ready=False)
        assert "taints" not in get(lab, "node", WORKER)["spec"]
        assert events(lab, "NodeReady").get(WORKER) == 1

        # `fault kill NODE` kills the node's heartbeat with its other processes; `clear` starts it again.
        gwlab("fault", "kill", "--lab", lab, "calico-worker2", "--signal", "KILL")
        until("calico-worker2 NotReady", lambda: ready_status(lab, "calico-worker2") == "Unknown", wait)
        assert ready_status(lab, WORKER) == "True"
        gwlab("fault", "clear", "--lab", lab)
        until("calico-worker2 Ready again", lambda: ready_status(lab, "calico-worker2") == "True", wait)
        fresh = LabState.load(lab)
        assert fresh is not None
        beat = fresh.process("heartbeat:calico-worker2")
        assert beat is not None and procs.alive(beat) and beat.pid not in {p.pid for p in senders}
        senders.append(beat)
        assert gwlab("verify", "--lab", lab, "--wait", "20", check=False).returncode == 0
    finally:
        gwlab("down", "--lab", lab, check=False)
    for p in senders:
        assert not procs.alive(p), f"{p.role} (pid {p.pid}) outlived `down`"
