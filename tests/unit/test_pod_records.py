"""The control plane's pod records carry the lab's settings its engine renders with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.engines.netns.records import PodRecords
from orchestrator.state import LabState


@pytest.mark.parametrize("with_file", [False, True])
def test_pod_records_keep_the_speakers_timers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              with_file: bool) -> None:
    # Without the timers, the control plane's engine rendered the nodes' BIRD with the fast ones on a
    # lab made with `up --timers calico`, and reconfigured them on its first pass.
    monkeypatch.setattr("orchestrator.rundir.RUN_ROOT", tmp_path)
    state = LabState("recs", "netns", "topology.clab.yml", bastion_bird="2", bgp_timers="calico")
    if with_file:
        (tmp_path / "recs").mkdir()
        (tmp_path / "recs" / "pods.json").write_text(json.dumps({"namespaces": ["gwlab-recs.pod-a"], "processes": []}))
    records = PodRecords.open(state)
    assert (records.bgp_timers, records.bastion_bird) == ("calico", "2")
    assert records.namespaces == (["gwlab-recs.pod-a"] if with_file else [])
