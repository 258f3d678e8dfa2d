"""Pods as a cluster's kubelet and controllers keep them, on a real lab, judged by the API's objects
through the real kubectl (every wait bounded, never by wall-clock strings):
- a hung echo pod (its process stopped with SIGSTOP, by the PID the control plane recorded) fails the
  kubelet's readiness probe, goes Ready=False and leaves the ready endpoints (listed under
  notReadyAddresses, `ready: false` in its slice) while its neighbour stays; SIGCONT brings it back;
  the gateway's proxy, stopped the same way, leaves its Service's ready endpoints and comes back;
- `kubectl delete pod` of a Deployment's pod: the ReplicaSet's replacement has a new name and uid, the
  old pod's process is stopped and its namespace removed."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.engines.netns import namespaces as netns
from orchestrator.rundir import RunDir

from .helpers import gwlab

pytestmark = pytest.mark.lab
SERVICE = "passthrough-echoserver"


def until(what: str, probe: Callable[[], Any], seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        time.sleep(0.2)
    return found


def get(lab: str, *args: str) -> Any:
    return json.loads(gwlab("--lab", lab, "kubectl", "get", *args, "-o", "json").stdout)


def echo_pods(lab: str) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in get(lab, "pods")["items"] if p["metadata"]["name"].startswith(SERVICE)}


def ready(pod: dict[str, Any]) -> str:
    return str(next(c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready"))


def endpoints(lab: str) -> tuple[set[str], set[str]]:
    """(ready, not ready) addresses of the echo Service's Endpoints."""
    subsets = get(lab, "endpoints", SERVICE).get("subsets") or []
    return ({a["ip"] for s in subsets for a in s.get("addresses") or []},
            {a["ip"] for s in subsets for a in s.get("notReadyAddresses") or []})


def slice_conditions(lab: str) -> dict[str, dict[str, bool]]:
    return {e["addresses"][0]: e["conditions"] for e in get(lab, "endpointslice", SERVICE)["endpoints"]}


def pid_of(lab: str, pod: str) -> int:
    found = json.loads(RunDir(lab).pod_records.read_text())["processes"]
    return int(next(p["pid"] for p in found if p["role"] == f"pod:default/{pod}"))


def test_a_hung_pod_fails_its_readiness_probe_and_leaves_the_endpoints_until_it_answers(lab_name: str) -> None:
    lab = lab_name
    stopped = 0
    try:
        gwlab("up", "--lab", lab, timeout=180)
        gwlab("--lab", lab, "scale", "deployment", SERVICE, "--replicas", "2")
        pods = until("two echo pods Ready", lambda: (p := echo_pods(lab)) and len(p) == 2
                     and all(ready(x) == "True" for x in p.values()) and p)
        hung, other = sorted(pods)
        ips = {n: p["status"]["podIP"] for n, p in pods.items()}
        until("both in the endpoints", lambda: endpoints(lab) == ({ips[hung], ips[other]}, set()))

        stopped = pid_of(lab, hung)
        os.kill(stopped, signal.SIGSTOP)  # hung: its kernel still accepts connections, it never answers
        until("the hung pod Ready=False", lambda: ready(echo_pods(lab)[hung]) == "False")
        pod = echo_pods(lab)[hung]
        conditions = {c["type"]: c for c in pod["status"]["conditions"]}
        assert conditions["ContainersReady"]["status"] == "False"
        assert conditions["Ready"]["reason"] == "ContainersNotReady"
        assert pod["status"]["containerStatuses"][0]["ready"] is False
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0  # not restarted: only not ready
        assert ready(echo_pods(lab)[other]) == "True"
        until("the hung pod listed not ready", lambda: endpoints(lab) == ({ips[other]}, {ips[hung]}))
        conds = slice_conditions(lab)
        assert conds[ips[hung]] == {"ready": False, "serving": False, "terminating": False}
        assert conds[ips[other]] == {"ready": True, "serving": True, "terminating": False}
        unhealthy = [e for e in get(lab, "events")["items"]
                     if e["reason"] == "Unhealthy" and e["involvedObject"]["name"] == hung]
        assert unhealthy and unhealthy[0]["type"] == "Warning"
        assert unhealthy[0]["message"].startswith("Readiness probe failed")

        os.kill(stopped, signal.SIGCONT)
        stopped = 0
        until("the pod Ready again", lambda: ready(echo_pods(lab)[hung]) == "True")
        until("back in the endpoints", lambda: endpoints(lab) == ({ips[hung], ips[other]}, set()))
        assert all(c["ready"] for c in slice_conditions(lab).values())

        # the gateway's proxy: Envoy Gateway's probe (/ready on its admin) goes unanswered as well
        proxy, = get(lab, "pods", "-n", "tigera-gateway")["items"]
        name = proxy["metadata"]["name"]
        found = json.loads(RunDir(lab).pod_records.read_text())["processes"]
        stopped = int(next(p["pid"] for p in found if p["role"] == f"pod:tigera-gateway/{name}"))
        os.kill(stopped, signal.SIGSTOP)

        def proxy_endpoints() -> tuple[list[str], list[str]]:
            eps = get(lab, "endpoints", "-n", "tigera-gateway")["items"][0].get("subsets") or []
            return ([a["ip"] for s in eps for a in s.get("addresses") or []],
                    [a["ip"] for s in eps for a in s.get("notReadyAddresses") or []])
        ip = proxy["status"]["podIP"]
        until("the hung proxy listed not ready", lambda: proxy_endpoints() == ([], [ip]))
        assert ready(get(lab, "pod", "-n", "tigera-gateway", name)) == "False"
        os.kill(stopped, signal.SIGCONT)
        stopped = 0
        until("the proxy back in its Service's endpoints", lambda: proxy_endpoints() == ([ip], []))
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        gwlab("down", "--lab", lab, check=False)


def test_a_deleted_pod_is_replaced_under_a_new_name_and_the_old_one_stopped(lab_name: str) -> None:
    lab = lab_name
    try:
        gwlab("up", "--lab", lab, timeout=180)
        (old, pod), = until("one echo pod Ready", lambda: (p := echo_pods(lab)) and len(p) == 1
                             and all(ready(x) == "True" for x in p.values()) and p).items()
        old_uid, old_pid = pod["metadata"]["uid"], pid_of(lab, old)
        start = open(f"/proc/{old_pid}/stat").read().rsplit(")", 1)[1].split()[19]
        gwlab("--lab", lab, "kubectl", "delete", "pod", old)

        def replacement() -> dict[str, Any] | None:
            pods = echo_pods(lab)
            fresh = [p for n, p in pods.items() if n != old and ready(p) == "True"]
            return fresh[0] if len(pods) == 1 and fresh else None
        new = until("a Ready replacement under a new name", replacement)
        assert new["metadata"]["uid"] != old_uid
        assert new["metadata"]["name"].startswith(old.rsplit("-", 1)[0] + "-")  # the same ReplicaSet's
        rs = get(lab, "replicasets")["items"]
        assert [r["status"].get("replicas") for r in rs if r["metadata"]["name"] == old.rsplit("-", 1)[0]] == [1]

        def old_gone() -> bool:
            try:
                now = open(f"/proc/{old_pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                return True
            return now[19] != start or now[0] in ("Z", "X")
        until("the old pod's process stopped", old_gone)
        assert not netns.exists(f"gwlab-{lab}.pod-{old}")
        ips = until("the replacement in the endpoints", lambda: (e := endpoints(lab))[0] and e)
        assert ips == ({new["status"]["podIP"]}, set())
        killing = [e for e in get(lab, "events")["items"]
                   if e["reason"] == "Killing" and e["involvedObject"]["name"] == old]
        assert killing
        assert gwlab("verify", "--lab", lab, "--wait", "20", check=False).returncode == 0
    finally:
        gwlab("down", "--lab", lab, check=False)
