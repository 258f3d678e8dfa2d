"""Faults and failover, the parts that need no lab: fault names, the failover report's arithmetic and
verdicts, graceful restart seen in `show protocols all`, declared impairments at load, the timers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import cluster, topology
from orchestrator.bird.config import bastion_config
from orchestrator.errors import LabError, ValidationFailed
from orchestrator.faults.daemons import graceful_restart_peers
from orchestrator.faults.inject import Fault
from orchestrator.faults.load import Outcome
from orchestrator.faults.report import Line, Report, judge, longest_outage, suite_table, text
from orchestrator.faults.setup import declared
from orchestrator.state import FaultRecord, LabState

TOPO = topology.load(topology.DEFAULT_PATH)


def test_fault_names_as_failover_takes_them() -> None:
    assert Fault.parse("link-down:calico-worker") == Fault("link-down", "calico-worker")
    assert Fault.parse("link-down:calico-worker:eth1").target == "calico-worker:eth1"
    assert Fault.parse("kill:bird:calico-worker", "KILL") == Fault("kill", "bird:calico-worker", "KILL")
    assert Fault.parse("kill:gateway").text() == "kill:gateway"
    for bad in ("explode:calico-worker", "kill", "link-up:calico-worker", "clear:x"):
        with pytest.raises(LabError):
            Fault.parse(bad)
    with pytest.raises(LabError, match="KILL or TERM"):
        Fault.parse("kill:gateway", "HUP")


def _o(i: int, start: float, ok: bool, error: str = "") -> Outcome:
    return Outcome(i, start, start + 0.05, ok, error)


def test_longest_outage_is_from_the_first_failure_to_the_next_success() -> None:
    outcomes = [_o(0, 0.0, True), _o(1, 0.1, False), _o(2, 0.2, False), _o(3, 0.3, True),
                _o(4, 0.4, False), _o(5, 0.5, True)]
    assert longest_outage(outcomes) == pytest.approx(0.2)
    assert longest_outage([_o(0, 0.0, True)]) == 0.0
    assert longest_outage([_o(0, 1.0, False), _o(1, 1.5, False)]) == pytest.approx(0.55)  # failing to the end


def _report(repaired: float | None, failed: int = 3) -> Report:
    return Report("kill:bird:calico-worker (TERM)", "fast", 10, 6, 2.0 if repaired else None, 60, failed,
                  {"TLS handshake timeout": failed}, 0.3, injected=100.0, repaired=repaired)


def test_judge_measures_route_times_from_the_fault_and_the_repair() -> None:
    every, during = {"a", "b", "c"}, {"a", "c"}
    hops = [(99.0, ("a", "b", "c")), (100.2, ("a", "c")), (103.5, ("a", "b", "c"))]
    outcomes = [_o(i, 100.0 + i, True) for i in range(5)]
    rep = _report(repaired=102.0)
    judge(rep, hops, during, every, outcomes)
    assert rep.route_converged == pytest.approx(0.2)
    assert rep.route_restored == pytest.approx(1.5)
    assert rep.ok, rep.verdict
    as_json = rep.as_json()
    assert as_json["requests"] == 60 and as_json["failed"] == 3
    assert as_json["route_converged_s"] == 0.2 and as_json["route_restored_s"] == 1.5


def test_judge_says_what_did_not_happen() -> None:
    rep = _report(repaired=102.0)
    judge(rep, [(99.0, ("a", "b", "c"))], {"a", "c"}, {"a", "b", "c"}, [_o(0, 103.0, False)])
    assert not rep.ok
    assert "never dropped the faulty node" in rep.verdict
    assert "requests still failed at the end" in rep.verdict
    # A gateway kill that no request noticed did not reach the path.
    rep = _report(repaired=None, failed=0)
    rep.fault = "kill:gateway (TERM)"
    judge(rep, [(99.0, ("a",))], {"a"}, {"a"}, [_o(0, 101.0, True)])
    assert not rep.ok and "did not reach the path" in rep.verdict


def test_report_text_and_suite_table_name_the_timers() -> None:
    rep = _report(repaired=102.0)
    rep.timeline = [Line(100.0, "lab", "fault injected: kill bird:calico-worker (TERM)"),
                    Line(100.004, "BGP", "worker1 > bastion  NOTIFICATION  Cease / Administrative Shutdown")]
    rep.echo_pods, rep.gateway_pods = ["calico-worker", "calico-worker2"], ["calico-worker2"]
    out = text(rep)
    assert out.splitlines()[0].endswith("; echo pods on calico-worker, calico-worker2; gateway proxy on calico-worker2")
    assert "+0.000 s  lab" in out and "+0.004 s  BGP" in out
    assert "timers fast" in out and "requests 60, failed 3 (3 TLS handshake timeout)" in out
    table = suite_table([rep])
    assert table.startswith("timers: fast") and "kill:bird:calico-worker (TERM), 2 echo pods" in table


SHOW_PROTOCOLS_ALL = """\
BIRD 1.6.8 ready.
name     proto    table    state  since       info
control1 BGP      master   up     20:01:06    Established
  Preference:     100
  BGP state:          Established
    Neighbor address: 10.0.1.11
worker1  BGP      master   start  20:01:51    Passive       Socket: Connection closed
  Preference:     100
  BGP state:          Passive
    Neighbor address: 10.0.1.12
    Neighbor graceful restart active
    Restart timer:    114/-
worker2  BGP      master   up     20:03:44    Established
"""


def test_graceful_restart_is_read_from_show_protocols_all() -> None:
    assert graceful_restart_peers(SHOW_PROTOCOLS_ALL) == {"worker1"}


def _with_netem(tmp_path: Path, netem: object) -> topology.Topology:
    raw = yaml.safe_load(topology.DEFAULT_PATH.read_text())
    raw["topology"]["links"][0]["vars"] = {"netem": netem}
    path = tmp_path / "topology.clab.yml"
    path.write_text(yaml.safe_dump(raw))
    return topology.Topology(**{**TOPO.__dict__, "path": path})


def test_declared_impairments_are_validated_all_at_once(tmp_path: Path) -> None:
    topo = _with_netem(tmp_path, {"delay": "-5ms", "loss": 150, "bogus": 1})
    with pytest.raises(ValidationFailed) as err:
        declared(topo)
    text = str(err.value)
    assert "topology.links[0].vars.netem.delay" in text and "negative" in text
    assert "topology.links[0].vars.netem.loss" in text and "outside 0-100%" in text
    assert "bogus" in text
    (tmp_path / "ok").mkdir()
    ok = declared(_with_netem(tmp_path / "ok", {"delay": "20ms"}))
    assert len(ok) == 2 and all(d.spec.delay_us == 20_000 for d in ok)  # both ends of the link


def test_fault_records_round_trip_through_the_state_file_shape() -> None:
    rec = FaultRecord("isolate", "calico-worker", 1.5, links=[("gwlab-x.calico-worker", "eth1")],
                      routes=[{"dst": "10.50.0.17/32", "gateway": None, "scope": 253, "proto": 3}])
    import dataclasses
    raw = dataclasses.asdict(LabState("x", "netns", "t", faults=[rec]))
    raw["faults"] = [dict(f, links=[list(x) for x in f["links"]]) for f in raw["faults"]]  # as JSON holds them
    raw["facts"] = {}
    back = LabState(**{**raw, "processes": []})
    assert back.faults == [rec] and back.faults[0].describe() == "isolate calico-worker"


def test_timers_fast_by_default_and_calico_on_request(tmp_path: Path) -> None:
    plan = cluster.plan(TOPO, [], cluster.base_documents())
    worker = plan.speakers["calico-worker"]
    fast = worker.render(tmp_path)["bird.cfg"]
    calico = worker.render(tmp_path, "calico")["bird.cfg"]
    assert "hold time 9;" in fast and "connect delay time 1;" in fast
    assert "hold time" not in calico and "keepalive time" not in calico  # BIRD's defaults (240 / 80)
    for line in ("connect delay time 2;", "connect retry time 5;", "error wait time 5,30;",
                 "graceful restart time 120;"):
        assert line in calico
    bastion = bastion_config(TOPO, "/dev/null", timers="calico").render()
    assert "hold time" not in bastion and "hold time 9;" in bastion_config(TOPO, "/dev/null").render()


@pytest.mark.skipif(not shutil.which("bird"), reason="BIRD 1.6 is not installed (make deps)")
def test_calico_timers_parse_with_real_bird(tmp_path: Path) -> None:
    plan = cluster.plan(TOPO, [], cluster.base_documents())
    speaker = plan.speakers["calico-worker"]
    for name, body in speaker.render(tmp_path, "calico").items():
        (tmp_path / name).write_text(body)
    out = subprocess.run(["bird", "-p", "-c", str(tmp_path / "bird.cfg")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (tmp_path / "bastion.conf").write_text(bastion_config(TOPO, str(tmp_path / "b.log"), timers="calico").render())
    out = subprocess.run(["bird", "-p", "-c", str(tmp_path / "bastion.conf")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_load_is_judged_healed_by_the_last_requests_after_the_repair() -> None:
    from orchestrator.faults.failover import _answered

    before = [_o(i, 100.0 + i / 10, True) for i in range(5)]
    assert not _answered(before, since=101.0)  # nothing after the repair yet
    after = before + [_o(10 + i, 101.0 + i / 10, True) for i in range(4)]
    assert not _answered(after, since=101.0)  # four are not five
    assert _answered(after + [_o(20, 101.5, True)], since=101.0)
    assert not _answered(after + [_o(20, 101.5, False)], since=101.0)


class _Reply:
    def __init__(self, text: str) -> None:
        self.text = text


class _Engine:
    def __init__(self, text: str) -> None:
        self.text, self.asked = text, []

    def birdc(self, node: str, command: str) -> _Reply:
        self.asked.append((node, command))
        return _Reply(self.text)


def test_a_session_held_down_for_birds_error_wait_is_an_event_once() -> None:
    from types import SimpleNamespace

    from orchestrator.faults.failover import _error_waits

    idle = (Path(__file__).parent.parent / "fixtures" / "bird" / "1.6" / "node-show-protocols-all-idle.txt").read_text()
    engine = _Engine(idle)
    lab: Any = SimpleNamespace(engine=engine, topo=TOPO)
    waits: dict[str, tuple[float, float]] = {}
    events: list[Line] = []
    _error_waits(lab, {"Mesh_10_0_1_16": "up Established"}, waits, events)
    assert not engine.asked and not events  # every session up: BIRD is not asked
    _error_waits(lab, {"Mesh_10_0_1_16": "start Idle BGP Error: Bad peer AS"}, waits, events)
    _error_waits(lab, {"Mesh_10_0_1_16": "start Idle BGP Error: Bad peer AS"}, waits, events)
    assert engine.asked == [("bastion", "show protocols all")] * 2
    assert [e.text for e in events] == ["session Mesh_10_0_1_16: held down for its error wait, 2 of 2 s left "
                                        "(BIRD's `error wait time`: a session error is remembered for "
                                        "`error forget time`)"]
    assert waits["Mesh_10_0_1_16"][0] == 2.0


def test_the_verdict_names_the_bastions_error_wait() -> None:
    every, during = {"a", "b", "c"}, {"a", "c"}
    rep = _report(repaired=102.0)
    rep.error_waits = {"worker1": 120.0}
    judge(rep, [(99.0, ("a", "b", "c")), (100.1, ("a", "c")), (215.0, ("a", "b", "c"))], during, every,
          [_o(i, 216.0 + i, True) for i in range(3)])
    assert rep.ok and rep.verdict.endswith("once the bastion's error wait for worker1 (120 s) ran out")
    assert rep.as_json()["error_waits_s"] == {"worker1": 120.0}
    rep = _report(repaired=102.0)
    rep.error_waits = {"worker1": 240.0}
    judge(rep, [(99.0, ("a", "b", "c")), (100.1, ("a", "c"))], during, every, [_o(0, 140.0, False)])
    assert not rep.ok and "held worker1 (240 s) down for its error wait: give the run longer" in rep.verdict
