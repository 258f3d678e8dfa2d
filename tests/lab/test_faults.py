"""Faults on real labs: links down and up, a node isolated and rejoined, BIRD killed (restarted by the
supervisor when it died by itself, left down after `fault kill`), the gateway killed, verify's wording,
one short failover judged by its counters, and netem where the kernel lacks it. Judged by state
(links, PIDs, routes, counters), never by wall-clock strings; every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from orchestrator.engines.netns import namespaces as netns
from orchestrator.engines.netns import procs
from orchestrator.engines.netns.records import PodRecords
from orchestrator.impair import tc
from orchestrator.impair.link import link_state
from orchestrator.state import LabState, lab_of_ns, ns_name

from .helpers import gwlab, leftovers, sized_topology

pytestmark = pytest.mark.lab


def until(what: Callable[[], bool], seconds: float = 8.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.05)
    return what()


def state(lab: str) -> LabState:
    s = LabState.load(lab)
    assert s is not None
    return s


def bastion_hops(lab: str) -> str:
    return gwlab("exec", "--lab", lab, "bastion", "--", "ip", "route", "show", "10.10.10.0/26").stdout


def test_link_down_up_isolate_rejoin(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name, "--bgp-only")
    w2 = ns_name(lab_name, "calico-worker2")
    out = gwlab("fault", "link-down", "--lab", lab_name, "calico-nope", check=False)
    assert out.returncode == 1 and "calico-nope" in out.stderr and "worker2" in out.stderr
    assert state(lab_name).faults == []  # nothing recorded, nothing changed

    gwlab("fault", "link-down", "--lab", lab_name, "worker2")
    assert not link_state(w2, "eth1").admin_up
    status = json.loads(gwlab("status", "--lab", lab_name, "--json").stdout)
    assert status[0]["faults"] == ["link-down calico-worker2:eth1"]
    gwlab("fault", "link-up", "--lab", lab_name, "worker2")
    assert link_state(w2, "eth1").admin_up and state(lab_name).faults == []

    w1 = ns_name(lab_name, "calico-worker")
    gwlab("fault", "isolate", "--lab", lab_name, "calico-worker")
    assert not link_state(w1, "eth1").admin_up
    gwlab("fault", "rejoin", "--lab", lab_name, "calico-worker")
    assert link_state(w1, "eth1").admin_up and state(lab_name).faults == []
    assert gwlab("verify", "--lab", lab_name, "--wait", "20", check=False).returncode == 0

    if not tc.netem_available():  # this kernel: refused before anything changes, in one message
        out = gwlab("netem", "set", "--lab", lab_name, "worker1", "--delay", "20ms", check=False)
        assert out.returncode == 1 and "CONFIG_NET_SCH_NETEM" in out.stderr and "nothing was changed" in out.stderr
    out = gwlab("netem", "set", "--lab", lab_name, "worker1", "--loss", "150", "--delay", "-1", check=False)
    assert out.returncode == 2 and "--loss" in out.stderr and "--delay" in out.stderr
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


def test_bird_dies_by_itself_is_restarted_but_fault_kill_stays_down(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name, "--bgp-only")
    role = "bird:calico-worker2"
    first = state(lab_name).process(role)
    assert first is not None
    os.kill(first.pid, signal.SIGTERM)  # dies by itself, as far as the lab knows
    assert until(lambda: (p := state(lab_name).process(role)) is not None and p.pid != first.pid and procs.alive(p))
    restarted = state(lab_name).process(role)
    assert restarted is not None and "-R" in restarted.argv

    gwlab("fault", "kill", "--lab", lab_name, "bird:worker2", "--signal", "TERM")
    assert until(lambda: "10.0.1.13" not in bastion_hops(lab_name))  # withdrawn at once by the NOTIFICATION
    time.sleep(1.0)  # ten supervisor polls: it must leave this one down
    after = state(lab_name).process(role)
    assert after is not None and after.pid == restarted.pid and not procs.alive(after)
    out = gwlab("verify", "--lab", lab_name, check=False)
    assert out.returncode == 1
    assert any("calico-worker2 stopped" in line and "worker2" in line for line in out.stdout.splitlines()), out.stdout
    assert "start Passive" not in out.stdout

    gwlab("fault", "clear", "--lab", lab_name)
    assert gwlab("verify", "--lab", lab_name, "--wait", "20", check=False).returncode == 0

    from orchestrator.faults import supervisor

    s = state(lab_name)
    supervisor.stop(s)  # with nobody to restart it, a BIRD that dies is reported dead
    bird = s.process(role)
    assert bird is not None
    os.kill(bird.pid, signal.SIGKILL)
    assert until(lambda: not procs.alive(bird))
    out = gwlab("verify", "--lab", lab_name, check=False)
    assert any("calico-worker2 dead" in line for line in out.stdout.splitlines()), out.stdout
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


def gateway_pid(lab_name: str) -> int | None:
    """The gateway proxy's process, as the control plane records it (None between two)."""
    records = PodRecords.open(state(lab_name))
    found = [p for p in records.processes if p.role.startswith("pod:tigera-gateway/") and procs.alive(p)]
    return found[0].pid if found else None


def test_kill_gateway_and_a_short_failover(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    out = gwlab("failover", "--lab", lab_name, "kill:bird:calico-control-plane", "--repair-after", "1",
                "--duration", "3", "--rate", "10", "--json", check=False)
    rep = json.loads(out.stdout)
    assert rep["requests"] == 30, rep  # every request of the bounded load was counted
    assert 0 <= rep["failed"] <= rep["requests"] and rep["timers"] == "fast"
    assert {"route_converged_s", "route_restored_s", "longest_outage_s", "timeline"} <= set(rep)
    assert any(e["source"] == "BGP" and "NOTIFICATION" in e["event"] for e in rep["timeline"]), rep["timeline"]
    assert state(lab_name).faults == []  # the run undid what it injected
    # A pod that does not exist is named, with those that do, before any load or capture starts.
    out = gwlab("failover", "--lab", lab_name, "kill:pod/no-such-pod", "--duration", "3", check=False)
    assert out.returncode == 1 and "no pod 'no-such-pod'" in out.stderr and "pod/passthrough-echoserver-" in out.stderr
    assert out.stdout == "" and state(lab_name).faults == []

    # Two echo pods for one run, on the two workers (spread as kube-scheduler spreads them), and one
    # again afterwards; the load goes on past --duration until the lab healed.
    out = gwlab("failover", "--lab", lab_name, "kill:bird:calico-worker", "--repair-after", "1", "--duration", "2",
                "--rate", "10", "--replicas", "2", "--heal-wait", "15", "--json", check=False)
    rep = json.loads(out.stdout)
    assert rep["echo_pods"] == ["calico-worker", "calico-worker2"], rep
    assert rep["route_restored_s"] is not None and rep["ok"], rep["verdict"]
    pods = gwlab("get", "--lab", lab_name, "pods", "-l", "run=passthrough-echoserver", "-o", "name").stdout
    assert len(pods.split()) == 1, pods
    assert state(lab_name).faults == []

    before = gateway_pid(lab_name)
    gwlab("fault", "kill", "--lab", lab_name, "gateway", "--signal", "KILL")
    # The control plane starts the proxy again (as the kubelet restarts a container): a new process.
    deadline = time.monotonic() + 30
    while gateway_pid(lab_name) in (before, None):
        assert time.monotonic() < deadline, "the killed gateway proxy was not started again"
        time.sleep(0.1)
    out = gwlab("verify", "--lab", lab_name, "--json", check=False)
    checks = {c["check"]: c for c in json.loads(out.stdout)["checks"]}
    # The proxy is back, so what it refuses is judged again, though the fault stays recorded.
    refused = [c for name, c in checks.items() if c["expect"].startswith("refused")]
    assert refused and all(c["judged"] and c["ok"] for c in refused), refused
    assert [f.target for f in state(lab_name).faults] == ["gateway"]
    gwlab("fault", "clear", "--lab", lab_name)
    assert state(lab_name).faults == []
    assert gwlab("verify", "--lab", lab_name, "--wait", "20", check=False).returncode == 0
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


def test_calico_timers_stay_after_the_control_planes_passes(lab_name: str) -> None:
    # The control plane re-renders the node speakers on every pass: with the lab's timers, not the
    # fast ones (it once rewrote them, so a "calico" suite ran on hold 9 s).
    gwlab("up", "--lab", lab_name, "--timers", "calico")
    gwlab("scale", "--lab", lab_name, "deployment", "passthrough-echoserver", "--replicas", "2")  # one more pass
    out = gwlab("birdc", "--lab", lab_name, "bastion", "show", "protocols", "all", "worker1").stdout
    hold = [line.split()[-1] for line in out.splitlines() if "Hold timer:" in line]
    assert hold and hold[0].endswith("/240"), out  # negotiated: BIRD's default on both sides
    cfg = (Path(os.environ.get("GWLAB_RUN_DIR", "/run/gwlab")) / lab_name / "calico-worker" / "bird.cfg").read_text()
    assert "connect delay time 2;" in cfg and "hold time 9;" not in cfg
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


@pytest.mark.skipif(tc.netem_available(), reason="this kernel has netem: up applies declared impairments")
def test_up_refuses_declared_impairments_without_netem(lab_name: str, tmp_path: Path) -> None:
    path = sized_topology(tmp_path, 2)
    raw = yaml.safe_load(path.read_text())
    raw["topology"]["links"][0]["vars"] = {"netem": {"delay": "20ms"}}
    path.write_text(yaml.safe_dump(raw))
    out = gwlab("up", "--lab", lab_name, "-t", str(path), check=False)
    assert out.returncode == 1
    assert str(path) in out.stderr and "topology.links[0]" in out.stderr and "netem" in out.stderr
    assert "nothing was made" in out.stderr
    assert [n for n in netns.list_names() if lab_of_ns(n) == lab_name] == []
