"""The kubelet's account of a pod's container: the back-off between restarts, how a container ended,
and what the Pod's status says of it; kept in the control plane's pod records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator import rundir
from orchestrator.controlplane.writeback import _pod
from orchestrator.engines.netns import kubelet
from orchestrator.engines.netns.records import Container, PodRecords
from orchestrator.k8s.world import PodSpec, World
from orchestrator.rundir import PodFiles
from orchestrator.state import LabState, Proc
from orchestrator.topology import load_named

POD = PodSpec("default", "echo-abc", "Deployment/default/echo", "h", "calico-worker", "10.50.0.5",
              {"app": "echo"}, "echo", (8443,))


def test_the_backoff_is_at_once_then_10s_doubled_up_to_300s_and_reset_after_10_minutes() -> None:
    c = Container()
    delays = []
    for _ in range(9):
        delays.append(kubelet.next_backoff(c, now=1000.0))
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300, 300]
    c.started = 1000.0
    assert kubelet.next_backoff(c, now=1000.0 + 599) == 300
    c.started = 2000.0
    assert kubelet.next_backoff(c, now=2000.0 + 600) == 0  # ran ten minutes: forgiven


def test_how_a_container_ended(tmp_path: Path) -> None:
    files = PodFiles(tmp_path)
    files.exit_status.write_text("137\n")
    os.utime(files.exit_status, (1_700_000_000, 1_700_000_000))
    t = kubelet.terminated(files, "2026-12-04T22:00:00Z")
    assert (t.exit_code, t.reason, t.signal) == (137, "Error", 9)
    assert t.to_api() == {"exitCode": 137, "reason": "Error", "signal": 9, "startedAt": "2026-12-04T22:00:00Z",
                          "finishedAt": "2023-11-14T22:13:20Z"}
    files.exit_status.write_text("0\n")
    assert kubelet.terminated(files, "").reason == "Completed"
    files.exit_status.write_text("3\n")
    assert (kubelet.terminated(files, "").reason, kubelet.terminated(files, "").signal) == ("Error", 0)
    files.exit_status.unlink()
    unknown = kubelet.terminated(files, "")
    assert unknown.reason == "ContainerStatusUnknown" and "could not be located" in unknown.to_api()["message"]


class _Plane:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.restarts: list[str] = []

    def paths(self, pod: PodSpec) -> PodFiles:
        return PodFiles(self.root)

    def namespace(self, pod: PodSpec) -> str:
        return "gwlab-kubelet-test.pod-echo-abc"

    def restart(self, pod: PodSpec, world: World) -> None:
        self.restarts.append(pod.key)


def _dead() -> Proc:
    return Proc(f"pod:{POD.key}", 2**22 + 1, 1, "/nonexistent", "")  # beyond pid_max: never alive


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PodRecords:
    monkeypatch.setattr(rundir, "RUN_ROOT", tmp_path / "run")
    monkeypatch.setattr(kubelet.namespaces, "exists", lambda name: True)  # the pod's sandbox stands
    return PodRecords("kubelet-test", "netns", "t.yml", processes=[_dead()])


def test_a_dead_pod_restarts_at_once_then_backs_off_and_the_count_survives(
        records: PodRecords, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plane = _Plane(tmp_path)
    world = World({POD.key: POD}, {}, {}, None, {})
    (tmp_path / "exit-status").write_text("137")
    clock = [5000.0]
    monkeypatch.setattr(kubelet.time, "time", lambda: clock[0])
    kubelet.Kubelet(records, plane).started([POD.key])
    assert kubelet.due(records)
    kubelet.Kubelet(records, plane).restart_dead({POD.key: _dead()}, world)
    c = records.containers[POD.key]
    assert plane.restarts == [POD.key] and c.restart_count == 1 and not c.next_start
    assert c.last is not None and c.last.signal == 9
    assert [e[0] for e in kubelet.drain_events(records)[POD.key]] == ["Pulled", "Created", "Started"]

    clock[0] += 30  # dies again: now the back-off
    kubelet.Kubelet(records, plane).restart_dead({POD.key: _dead()}, world)
    assert plane.restarts == [POD.key] and c.restart_count == 1 and c.delay == 10
    assert kubelet.backing_off(records) == {POD.key} and not kubelet.due(records)
    assert kubelet.drain_events(records)[POD.key][0][:1] == ["BackOff"]
    status = _pod(POD, load_named(None, None), rundir.RunDir("kubelet-test"), False, "", "t0", c)["status"]
    cs = status["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and "back-off 10s" in cs["state"]["waiting"]["message"]
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 137 and not cs["started"]
    assert status["phase"] == "Running"
    assert {x["type"]: x["status"] for x in status["conditions"]}["Ready"] == "False"

    clock[0] += 10
    assert kubelet.due(records)
    kubelet.Kubelet(records, plane).restart_dead({POD.key: _dead()}, world)
    assert plane.restarts == [POD.key, POD.key] and c.restart_count == 2 and not c.next_start

    again = PodRecords.open(LabState("kubelet-test", "netns", "t.yml"))  # a control plane started anew
    kept = again.containers[POD.key]
    assert kept.restart_count == 2 and kept.last is not None and kept.last.exit_code == 137 and kept.backoff == 20


def test_a_pod_whose_namespace_went_with_it_is_made_anew_and_not_left_backing_off(
        records: PodRecords, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubelet.namespaces, "exists", lambda name: False)
    plane = _Plane(tmp_path)
    world = World({POD.key: POD}, {}, {}, None, {})
    assert kubelet.Kubelet(records, plane).restart_dead({POD.key: _dead()}, world) == [POD.key]
    c = records.containers[POD.key]
    assert plane.restarts == [] and c.restart_count == 1
    assert kubelet.backing_off(records) == set()  # its readiness is waited for with the new pods
    assert kubelet.drain_events(records)[POD.key][0][0] == "SandboxChanged"


def test_a_restart_that_fails_is_an_event_and_the_next_death_backs_off(
        records: PodRecords, tmp_path: Path) -> None:
    class Failing(_Plane):
        def restart(self, pod: PodSpec, world: World) -> None:
            raise OSError("envoy exited at once (exit code 1)")
    world = World({POD.key: POD}, {}, {}, None, {})
    kubelet.Kubelet(records, Failing(tmp_path)).restart_dead({POD.key: _dead()}, world)
    assert kubelet.drain_events(records)[POD.key][-1] == ["Failed", "Error: envoy exited at once (exit code 1)",
                                                          "Warning"]
    assert kubelet.due(records)  # still dead: the next pass sees it and backs off
    kubelet.Kubelet(records, Failing(tmp_path)).restart_dead({POD.key: _dead()}, world)
    assert kubelet.backing_off(records) == {POD.key} and records.containers[POD.key].delay == 10


def test_a_pod_left_not_ready_that_answers_now_calls_for_a_pass() -> None:
    other = PodSpec("default", "echo-def", "Deployment/default/echo", "h", "calico-worker2", "10.50.0.21",
                    {"app": "echo"}, "echo", (8443,))
    probed: list[str] = []

    def probe(pod: PodSpec) -> bool:
        probed.append(pod.key)
        return pod.key == POD.key
    assert kubelet.probe_round([POD, other], set(), set(), probe, {}, {})
    assert not kubelet.probe_round([POD, other], {POD.key}, set(), probe, {}, {})  # ready and answering: no news
    probed.clear()
    assert not kubelet.probe_round([POD, other], set(), {POD.key}, probe, {}, {})  # one backing off is skipped
    assert probed == [other.key]


def test_a_ready_pod_that_stops_answering_is_failed_after_three_probes_in_a_row_and_back_at_its_first_answer() -> None:
    answers = {POD.key: True}
    failures: dict[str, int] = {}
    containers: dict[str, Container] = {}

    def probe(pod: PodSpec) -> bool:
        return answers[pod.key]

    def round_(ready: set[str]) -> bool:
        return kubelet.probe_round([POD], ready, set(), probe, failures, containers)
    assert not round_({POD.key})
    answers[POD.key] = False  # hung (SIGSTOP): its kernel still accepts, its process never answers
    assert not round_({POD.key}) and not round_({POD.key})  # failureThreshold 3: two are not enough
    answers[POD.key] = True
    assert not round_({POD.key}) and failures == {}  # an answer resets the count
    answers[POD.key] = False
    assert [round_({POD.key}) for _ in range(3)] == [False, False, True]
    assert containers[POD.key].probe_failed
    assert containers[POD.key].events[-1][0] == "Unhealthy" and "3 times in a row" in containers[POD.key].events[-1][1]
    assert not round_(set())  # still failing, already marked: no new pass
    answers[POD.key] = True
    assert round_(set()) and not containers[POD.key].probe_failed  # answers again: ready at the next pass
