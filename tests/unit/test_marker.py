"""The control plane's marker: what a change's waiter is told the controllers did, when the pass that
acted on the change is followed by passes its own status writes started."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from orchestrator import rundir
from orchestrator.controlplane import writes
from orchestrator.controlplane.marker import HISTORY, Marker
from orchestrator.engines.base import SyncReport
from orchestrator.errors import LabError


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> rundir.RunDir:
    monkeypatch.setattr(rundir, "RUN_ROOT", tmp_path / "run")
    files = rundir.RunDir("marker-test")
    files.root.mkdir(parents=True)
    return files


def _pass(files: rundir.RunDir, rv: int, ran: bool = True, error: str = "", **report: object) -> None:
    Marker(rv, asdict(SyncReport(**report)) if ran else {}, error).record(files.reconciled, ran)  # type: ignore[arg-type]


def test_a_reload_is_reported_although_a_later_empty_pass_is_the_marker(files: rundir.RunDir) -> None:
    _pass(files, 7, created=["default/old"])  # before the change: not ours
    _pass(files, 10, reloaded=["tigera-gateway/envoy-x"], created=["default/echo-b"])
    _pass(files, 14)  # started by the controllers' own status writes: did nothing
    _pass(files, 15, ran=False)  # nothing modelled changed
    report = writes.wait_reconciled(files, rv=10, timeout=1, since=9)
    assert report.reloaded == ["tigera-gateway/envoy-x"]
    assert report.created == ["default/echo-b"]
    assert "gateway proxy reloaded: tigera-gateway/envoy-x" in report.lines()
    # the pass of the last marker alone would have said nothing
    assert Marker.read(files.reconciled).report == {}


def test_passes_between_the_first_and_the_last_write_are_merged(files: rundir.RunDir) -> None:
    _pass(files, 21, created=["default/a"])  # a pass that began between kubectl's writes
    _pass(files, 23, created=["default/a", "default/b"], kube_proxy=["worker1"])
    report = writes.wait_reconciled(files, rv=23, timeout=1, since=20)
    assert report.created == ["default/a", "default/b"] and report.kube_proxy == ["worker1"]
    assert writes.wait_reconciled(files, rv=23, timeout=1, since=22).created == ["default/a", "default/b"]


def test_what_is_not_ready_is_the_last_pass_that_ran(files: rundir.RunDir) -> None:
    _pass(files, 30, created=["default/a"], not_ready=["default/a"],
          waiting={"default/a": "waiting for Secret server-certs"})
    _pass(files, 31, not_ready=[])
    _pass(files, 32, ran=False)
    assert writes.wait_reconciled(files, rv=30, timeout=1, since=29).not_ready == []
    _pass(files, 33, not_ready=["default/b"])
    assert writes.wait_reconciled(files, rv=33, timeout=1, since=32).not_ready == ["default/b"]


def test_the_history_is_bounded(files: rundir.RunDir) -> None:
    for rv in range(1, HISTORY + 20):
        _pass(files, rv, created=[f"default/p{rv}"])
    marker = Marker.read(files.reconciled)
    assert len(marker.passes) == HISTORY and marker.passes[-1].rv == HISTORY + 19
    assert marker.sync_report(since=0).created[0] == "default/p20"


def test_a_failed_pass_is_the_waiters_error_and_a_waiter_gives_up(files: rundir.RunDir) -> None:
    _pass(files, 40, error="nftables refused kube-proxy's rules")
    with pytest.raises(LabError, match="nftables refused"):
        writes.wait_reconciled(files, rv=40, timeout=1)
    with pytest.raises(LabError, match="did not catch up"):
        writes.wait_reconciled(files, rv=41, timeout=0.05)


def test_a_marker_without_history_still_reports(files: rundir.RunDir) -> None:
    files.reconciled.write_text('{"rv": 5, "report": {"created": ["default/a"]}}')
    assert writes.wait_reconciled(files, rv=5, timeout=1).created == ["default/a"]
