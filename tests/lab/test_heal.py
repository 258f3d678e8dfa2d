"""A lab that heals, on a real lab: a control plane killed with -9 and started again by `verify` and
by `up` (the user's objects kept, the pods adopted, the data plane forwarding meanwhile); a killed echo
pod restarted in its own namespace with the kubelet's restartCount, lastState and back-off; and what
/proc says of the lab's processes' users and capabilities, and the run directory's modes."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orchestrator.engines.netns import namespaces as netns
from orchestrator.rundir import RunDir

from .helpers import gwlab
from .test_passthrough import curl, gateway_ip

pytestmark = pytest.mark.lab
ECHO = "pod:default/passthrough-echoserver-"
BIRD_CAPS = 0x3C00  # NET_BIND_SERVICE (10), NET_BROADCAST (11), NET_ADMIN (12), NET_RAW (13)
# CHOWN (0), DAC_OVERRIDE (1), KILL (5), SETGID (6), SETUID (7), SETPCAP (8), NET_ADMIN (12), SYS_PTRACE (19),
# SYS_ADMIN (21)
CONTROLPLANE_CAPS = 0x2811E3
SUPERVISOR_CAPS = BIRD_CAPS | 1 << 8 | 1 << 21  # and SETPCAP, SYS_ADMIN


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    name = f"heal{os.getpid() % 100000}"
    try:
        gwlab("up", "--lab", name, timeout=180)
        yield name
    finally:
        gwlab("down", "--lab", name, check=False)


def eventually(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)
    return found


def records(lab: str, path: str = "pod_records") -> dict[str, Any]:
    found: dict[str, Any] = json.loads(getattr(RunDir(lab), path).read_text())
    return found


def pid_of(lab: str, prefix: str, path: str = "pod_records") -> int:
    return int(next(p["pid"] for p in records(lab, path)["processes"] if p["role"].startswith(prefix)))


def echo_pods(lab: str) -> dict[str, dict[str, Any]]:
    items = json.loads(gwlab("--lab", lab, "kubectl", "get", "pods", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in items if p["metadata"]["name"].startswith("passthrough-echoserver-")}


def proc_status(pid: int) -> dict[str, str]:
    lines = open(f"/proc/{pid}/status").read().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_control_plane_killed_then_verify_and_up_start_it_keeping_objects_and_pods(lab: str) -> None:
    gwlab("scale", "--lab", lab, "deployment", "passthrough-echoserver", "--replicas", "2")
    pods = sorted(p["pid"] for p in records(lab)["processes"] if p["role"].startswith("pod:"))
    assert len(pods) == 3  # two echo pods and the gateway's proxy
    gw = gateway_ip(lab)
    os.kill(pid_of(lab, "controlplane", "state"), signal.SIGKILL)
    # the data plane forwards while the control plane is down
    r = curl(lab, gw=gw)
    assert r.returncode == 0 and json.loads(r.stdout)["pod"].startswith("passthrough-echoserver-"), r.stderr
    out = gwlab("verify", "--lab", lab, check=False)
    assert out.returncode == 0, out.stdout
    assert "the control plane had died" in out.stderr and "started again" in out.stderr
    dead = pid_of(lab, "controlplane", "state")
    os.kill(dead, signal.SIGKILL)
    out = gwlab("up", "--lab", lab, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "repairing it in place" in out.stdout and f"the control plane had died (pid {dead})" in out.stdout
    # the pods were adopted, not started again; the user's replicas kept
    assert sorted(p["pid"] for p in records(lab)["processes"] if p["role"].startswith("pod:")) == pods
    found = echo_pods(lab)
    assert len(found) == 2 and all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in found.values())


def gone(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_up_after_an_up_that_died_after_the_build_repairs_the_lab(lab: str) -> None:
    # What an `up` killed after its build leaves (the phase it wrote), with its daemons dead besides
    path = RunDir(lab).state
    state = json.loads(path.read_text())
    state["phase"] = "built"
    path.write_text(json.dumps(state))
    for role in ("supervisor", "bird:calico-worker2", "controlplane"):  # the supervisor first: it restarts BIRD
        pid = pid_of(lab, role, "state")
        os.kill(pid, signal.SIGKILL)
        eventually(f"{role} gone", lambda: gone(pid), timeout=10)
    out = gwlab("up", "--lab", lab, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "built by an `up` that did not finish" in out.stdout, out.stdout
    for what in ("the lab's supervisor had died", "BIRD on calico-worker2 had died", "the control plane had died"):
        assert what in out.stdout, out.stdout
    assert records(lab, "state")["phase"] == "up"
    assert gwlab("verify", "--lab", lab, check=False).returncode == 0


def test_a_killed_echo_pod_restarts_in_its_namespace_then_backs_off(lab: str) -> None:
    gwlab("scale", "--lab", lab, "deployment", "passthrough-echoserver", "--replicas", "1")
    role = next(p["role"] for p in records(lab)["processes"] if p["role"].startswith(ECHO))
    name = role.split("/")[-1]
    ip = echo_pods(lab)[name]["status"]["podIP"]
    first = pid_of(lab, role)
    os.kill(first, signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        st = echo_pods(lab)[name]["status"]["containerStatuses"][0]
        return st if st["restartCount"] == 1 and st["ready"] else None
    st = eventually("the killed echo pod Ready again with restartCount 1", restarted)
    assert st["lastState"]["terminated"]["exitCode"] == 137 and st["lastState"]["terminated"]["signal"] == 9
    assert st["lastState"]["terminated"]["reason"] == "Error" and "running" in st["state"]
    # the same pod in the same sandbox: its namespace and address kept, a new process
    assert netns.exists(f"gwlab-{lab}.pod-{name}") and echo_pods(lab)[name]["status"]["podIP"] == ip
    assert pid_of(lab, role) != first
    assert curl(lab).returncode == 0

    os.kill(pid_of(lab, role), signal.SIGKILL)  # again: now the kubelet's back-off

    def backing_off() -> dict[str, Any] | None:
        st = echo_pods(lab)[name]["status"]["containerStatuses"][0]
        return st if st["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff" else None
    st = eventually("CrashLoopBackOff after the second death", backing_off)
    assert "back-off 10s restarting failed container=echoserver" in st["state"]["waiting"]["message"]
    assert st["restartCount"] == 1 and not st["ready"]
    eps = json.loads(gwlab("--lab", lab, "kubectl", "get", "endpoints", "passthrough-echoserver", "-o", "json").stdout)
    # no ready backend while it backs off: the pod is listed as not ready
    assert not any(s.get("addresses") for s in eps.get("subsets") or [])
    assert [a["ip"] for s in eps["subsets"] for a in s["notReadyAddresses"]] == [ip]
    reasons = gwlab("--lab", lab, "kubectl", "get", "events", "--field-selector", f"involvedObject.name={name}",
                    "-o", "jsonpath={.items[*].reason}").stdout.split()
    assert {"BackOff", "Pulled", "Created", "Started"} <= set(reasons), reasons
    # pods.json keeps the count for a control plane started again
    assert records(lab)["containers"][role[4:]]["restart_count"] == 1


def test_processes_hold_only_what_they_need_and_the_run_directory_is_closed(lab: str) -> None:
    for p in records(lab, "state")["processes"]:
        if p["role"].startswith("bird:"):
            st = proc_status(p["pid"])
            assert st["Uid"].split()[0] == "0" and st["NoNewPrivs"] == "1", (p["role"], st)
            assert int(st["CapEff"], 16) == int(st["CapBnd"], 16) == BIRD_CAPS, (p["role"], st)
    # the control plane and the supervisor: root with only the capabilities their work needs
    wanted = {"controlplane": CONTROLPLANE_CAPS, "supervisor": SUPERVISOR_CAPS}
    for p in records(lab, "state")["processes"]:
        if p["role"] in wanted:
            st = proc_status(p["pid"])
            assert st["Uid"].split()[0] == "0" and st["NoNewPrivs"] == "1", (p["role"], st)
            assert int(st["CapEff"], 16) == int(st["CapBnd"], 16) == wanted.pop(p["role"]), (p["role"], st)
    assert not wanted
    pods = [p for p in records(lab)["processes"] if p["role"].startswith("pod:")]
    assert any("envoy" in p["exe"] for p in pods) and any("python" in p["exe"] for p in pods)
    for p in pods:
        if not os.path.exists(f"/proc/{p['pid']}"):
            continue  # an echo pod backing off (the test above)
        st = proc_status(p["pid"])
        assert st["Uid"].split() == ["65532"] * 4 and st["NoNewPrivs"] == "1", (p["role"], st)
        assert int(st["CapEff"], 16) == int(st["CapBnd"], 16) == int(st["CapPrm"], 16) == 0, (p["role"], st)
    root = RunDir(lab).root
    assert stat.S_IMODE(root.stat().st_mode) & ~0o711 == 0
    # kubectl chmods its cache files 0660 itself (after writing them 0600): its directory is closed
    cache = RunDir(lab).kube_cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    loose = []
    for where, dirs, files in os.walk(root):
        if where.startswith(str(cache)):
            continue
        for d in dirs:
            if stat.S_IMODE(os.lstat(os.path.join(where, d)).st_mode) & 0o066:
                loose.append(os.path.join(where, d))
        for f in files:
            mode = os.lstat(os.path.join(where, f)).st_mode
            if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
                loose.append(os.path.join(where, f))
    assert loose == []
