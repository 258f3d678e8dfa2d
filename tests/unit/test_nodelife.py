"""The node lifecycle's rules with a fake clock: a node goes NotReady exactly when its Lease was not
renewed within the grace period (as the node lifecycle controller marks it: conditions Unknown,
NodeStatusUnknown, the unreachable taints, Events) and back when it is renewed; heartbeats are taken
only from the node's own address; the controllers' file of NotReady nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator import PROJECT_ROOT, rundir
from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.registry import by_kind
from orchestrator.apiserver.store import Store
from orchestrator.controlplane import nodelife as life
from orchestrator.controlplane.heartbeat import datagram
from orchestrator.controlplane.nodemonitor import NodeLifecycle
from orchestrator.controlplane.writeback import nodes
from orchestrator.topology import Topology, load


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_monitor_marks_a_silent_node_after_the_grace_period_and_back_on_renewal() -> None:
    clock = Clock()
    mon = life.Monitor(["a", "b"], clock, grace=4.0, startup=10.0)
    clock.t += 9.9
    assert mon.tick() == []  # still within the startup grace, though nothing was ever renewed
    mon.observe("a", "r1")
    mon.observe("b", "r1")
    clock.t += 3.0
    mon.observe("a", "r2")  # a renews, b falls silent
    clock.t += 1.0
    assert mon.tick() == []  # b: 4.0 s since its renewal, not beyond the grace period
    clock.t += 0.2
    assert mon.tick() == [life.Transition("b", False)]
    assert mon.tick() == [] and mon.unready() == {"b"}  # one transition, not one per tick
    mon.observe("b", "r1")  # the same renewTime again is no renewal
    assert mon.tick() == []
    mon.observe("b", "r2")
    assert mon.tick() == [life.Transition("b", True)] and mon.unready() == set()


def test_a_node_that_never_renews_goes_not_ready_after_the_startup_grace() -> None:
    clock = Clock()
    mon = life.Monitor(["a"], clock, grace=4.0, startup=10.0)
    clock.t += 10.1
    assert mon.tick() == [life.Transition("a", False)]


def test_heartbeats_only_from_the_nodes_own_address() -> None:
    addresses = {"calico-worker": "10.0.1.12"}
    assert life.parse_beat(datagram("calico-worker", 7), "10.0.1.12", addresses) == "calico-worker"
    assert life.parse_beat(datagram("calico-worker", 7), "10.0.1.13", addresses) is None  # another node's address
    assert life.parse_beat(datagram("calico-worker9", 7), "10.0.1.12", addresses) is None
    for junk in (b"", b"\xff\xfe", b"gwlab-heartbeat 2 calico-worker 1", b"gwlab-heartbeat 1 calico-worker x",
                 b"hello 1 calico-worker 1"):
        assert life.parse_beat(junk, "10.0.1.12", addresses) is None


def test_conditions_and_taints_as_the_controller_writes_them() -> None:
    ready = life.ready_conditions([], "T0")
    assert [(c["type"], c["status"], c["reason"]) for c in ready] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"), ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"), ("Ready", "True", "KubeletReady")]
    later = life.ready_conditions(ready, "T1")
    assert later[3]["lastHeartbeatTime"] == "T1" and later[3]["lastTransitionTime"] == "T0"
    unknown = life.unknown_conditions(later, "T2")
    assert {(c["status"], c["reason"], c["message"]) for c in unknown} == \
        {("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")}
    assert unknown[3]["lastHeartbeatTime"] == "T1" and unknown[3]["lastTransitionTime"] == "T2"
    assert life.unknown_conditions(unknown, "T3")[3]["lastTransitionTime"] == "T2"
    back = life.ready_conditions(unknown, "T4")
    assert back[3]["status"] == "True" and back[3]["lastTransitionTime"] == "T4"
    other = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    tainted = life.taints([other], False, "T2")
    assert tainted == [other, {"key": life.UNREACHABLE, "effect": "NoSchedule"},
                       {"key": life.UNREACHABLE, "effect": "NoExecute", "timeAdded": "T2"}]
    assert life.taints(tainted, True, "T4") == [other]


@pytest.fixture
def topo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Topology:
    monkeypatch.setattr(rundir, "RUN_ROOT", tmp_path)
    t = load(PROJECT_ROOT / "topology.clab.yml")
    (tmp_path / t.name).mkdir()
    return t


def _get(objects: Objects, version: str, kind: str, ns: str, name: str) -> dict[str, Any]:
    r = by_kind(version, kind)
    assert r is not None
    return objects.get(r, ns, name)


def test_the_lifecycle_through_the_api_with_a_fake_clock(topo: Topology) -> None:
    objects = Objects(Store())
    nodes(objects, topo)
    pods = by_kind("v1", "Pod")
    assert pods is not None
    objects.create(pods, "default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo-1"},
                                     "spec": {"nodeName": "calico-worker", "containers": [{"name": "e", "image": "e"}]}},
                   strictness="Ignore")
    clock = Clock()
    lc = NodeLifecycle(objects, topo, clock)
    files = rundir.RunDir.of(topo)
    names = [n.name for n in topo.k8s_nodes]
    for name in names:
        lc.renew(name)
    lc.tick()
    lease = _get(objects, "coordination.k8s.io/v1", "Lease", "kube-node-lease", "calico-worker")
    assert lease["spec"]["holderIdentity"] == "calico-worker"
    assert lease["spec"]["leaseDurationSeconds"] == life.LEASE_DURATION and lease["spec"]["renewTime"]
    # the worker falls silent; the others keep renewing (renewTime has microseconds: each renewal differs)
    for _ in range(int(life.GRACE / 0.5) + 2):
        clock.t += 0.5
        for name in names:
            if name != "calico-worker":
                lc.renew(name)
        lc.tick()
    node = _get(objects, "v1", "Node", "", "calico-worker")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == \
        ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == \
        {(life.UNREACHABLE, "NoSchedule"), (life.UNREACHABLE, "NoExecute")}
    assert life.unready(files) == {"calico-worker"}
    other = _get(objects, "v1", "Node", "", "calico-worker2")
    assert next(c for c in other["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    ev = _get(objects, "v1", "Event", "default", "calico-worker.nodenotready")
    assert ev["message"] == "Node calico-worker status is now: NodeNotReady" and ev["eventTime"]
    pod_ev = _get(objects, "v1", "Event", "default", "echo-1.nodenotready")
    assert (pod_ev["type"], pod_ev["message"]) == ("Warning", "Node is not ready")
    # heartbeats come back
    clock.t += 0.5
    lc.renew("calico-worker")
    lc.tick()
    node = _get(objects, "v1", "Node", "", "calico-worker")
    assert next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    assert "taints" not in node["spec"] and life.unready(files) == set()
    assert _get(objects, "v1", "Event", "default", "calico-worker.nodeready")["source"]["component"] == "kubelet"
    # and a second cut is recorded again (count 2), not folded into the first
    for _ in range(int(life.GRACE / 0.5) + 2):
        clock.t += 0.5
        lc.tick()
    assert _get(objects, "v1", "Event", "default", "calico-worker.nodenotready")["count"] == 2


def test_the_sender_refuses_to_run_where_the_nodes_address_does_not_exist(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from orchestrator.controlplane import heartbeat

    sent: list[object] = []

    class Guarded(socket.socket):
        def sendto(self, *args: Any) -> int:
            sent.append(args)
            raise AssertionError("a heartbeat was sent from the test's (root) namespace")

    monkeypatch.setattr(socket, "socket", Guarded)  # the module the sender takes its sockets from
    # 198.51.100.7 (TEST-NET-2) is on no interface here, as a node's segment address is on none outside its namespace
    code = heartbeat.main(["--node", "calico-worker", "--source", "198.51.100.7", "--to", "192.0.2.1",
                           "--port", str(life.PORT), "--interval", "1"])
    assert code == 1 and sent == []
    assert "not inside node calico-worker's namespace" in capsys.readouterr().out


def test_lease_objects_are_written_at_a_bounded_rate(topo: Topology) -> None:
    """Every store write rewrites the store's file: the workshop's nodes renew their Lease object at
    each beat, a big lab's less often, and the decision still follows every beat."""
    assert life.lease_interval(3) == life.HEARTBEAT_INTERVAL
    assert life.lease_interval(200) == 200 / life.LEASE_WRITES
    objects = Objects(Store())
    nodes(objects, topo)
    clock = Clock()
    lc = NodeLifecycle(objects, topo, clock)
    lc.lease_every = 10.0  # as with 50 nodes
    lease = by_kind("coordination.k8s.io/v1", "Lease")
    assert lease is not None

    def renew_time() -> str:
        return str(objects.get(lease, "kube-node-lease", "calico-worker")["spec"]["renewTime"])
    lc.renew("calico-worker")
    first = renew_time()
    for _ in range(9):  # beats every second: the monitor sees each, the Lease object waits
        clock.t += 1.0
        lc.renew("calico-worker")
        assert renew_time() == first and lc.monitor.health["calico-worker"].probed == clock.t
    clock.t += 1.0
    lc.renew("calico-worker")
    assert renew_time() != first


def test_mark_pods_not_ready_sets_only_the_ready_condition_false() -> None:
    status = {"phase": "Running", "conditions": [
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": "t0"},
        {"type": "Ready", "status": "True", "lastTransitionTime": "t0"}],
        "containerStatuses": [{"name": "echoserver", "ready": True}]}
    marked = life.mark_pod_not_ready(status, "t1")
    by_type = {c["type"]: c for c in marked["conditions"]}
    assert by_type["Ready"] == {"type": "Ready", "status": "False", "lastTransitionTime": "t1"}  # no reason
    assert by_type["ContainersReady"]["status"] == "True" and marked["containerStatuses"][0]["ready"] is True
    assert status["conditions"][1]["status"] == "True"  # the input is left alone
    assert life.mark_pod_not_ready(marked, "t2") == marked  # already marked: its transition time kept
