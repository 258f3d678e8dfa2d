"""What `gwlab up` decides about a lab that is already there: repair it in place (same topology and
options, its build finished, its namespaces there) or build it anew, saying why."""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestrator import repair
from orchestrator.state import FaultRecord, LabState, Proc
from orchestrator.topology import DEFAULT_PATH, load_named


def _dead(role: str) -> Proc:
    return Proc(role, 2**22 + 7, 1, "/nonexistent", "")  # beyond pid_max: never alive


def test_the_digest_follows_the_topology_and_the_options(tmp_path: Path) -> None:
    topo = load_named(None, None)
    base = repair.digest(topo, ["netns", "1", "fast"], [])
    assert base == repair.digest(topo, ["netns", "1", "fast"], [])
    assert base != repair.digest(topo, ["netns", "2", "fast"], [])
    copy = tmp_path / DEFAULT_PATH.name
    (tmp_path / topo.kind_config).parent.mkdir(parents=True)
    shutil.copy(DEFAULT_PATH.parent / topo.kind_config, tmp_path / topo.kind_config)
    copy.write_text(DEFAULT_PATH.read_text() + "\n# one more line\n")
    assert repair.digest(load_named(copy, None), ["netns", "1", "fast"], []) != base
    extra = tmp_path / "extra.yaml"
    extra.write_text("kind: ConfigMap\n")
    assert repair.digest(topo, ["netns", "1", "fast"], [extra]) != base


def test_dead_daemons_are_named_but_not_a_killed_one_or_a_pod() -> None:
    state = LabState("rep-test", "netns", "t.yml", phase="up", built_from="d",
                     processes=[_dead("controlplane"), _dead("bird:calico-worker"), _dead("bird:calico-worker2"),
                                _dead("pod:default/echo")],
                     faults=[FaultRecord("kill", "bird:calico-worker2", 1.0, roles=["bird:calico-worker2"])])
    damage = repair.assess(state)
    assert [p.role for p in damage.dead] == ["controlplane", "bird:calico-worker"]
    assert damage.missing == [] and damage.why_not(state, "d") == ""


def test_why_a_lab_is_built_anew() -> None:
    state = LabState("rep-test", "netns", "t.yml", phase="up", built_from="d",
                     namespaces=["gwlab-rep-test.nowhere-1", "gwlab-rep-test.nowhere-2"])
    damage = repair.assess(state)
    assert damage.why_not(state, "d") == "its namespaces gwlab-rep-test.nowhere-1, gwlab-rep-test.nowhere-2 are gone"
    state.namespaces = []
    assert "another topology or other options" in repair.assess(state).why_not(state, "other")
    state.phase = "starting"
    assert repair.assess(state).why_not(state, "d") == "its build did not finish"
    state.phase, state.built_from = "built", "d"
    assert repair.assess(state).why_not(state, "d") == ""
