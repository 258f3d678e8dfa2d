"""The newcomer's rough edges: one line and a non-zero exit, never a traceback; `gwlab` reachable."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT
from orchestrator.bird.config import bastion_config
from orchestrator.cli import build_parser, main
from orchestrator.topology import load_named


def gwlab(*args: str, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=60, cwd=PROJECT_ROOT, check=False)


@pytest.mark.parametrize("argv", [["down", "--lab", ""], ["clean", "--lab", ""], ["status", "--lab", ""],
                                  ["verify", "--lab", ""], ["shell", "--lab", ""], ["up", "--lab", ""]])
def test_an_empty_lab_name_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "an empty --lab" in capsys.readouterr().err


def test_an_empty_lab_name_after_the_node_of_exec_is_refused() -> None:
    out = gwlab("exec", "bastion", "--lab", "", "--", "true")
    assert out.returncode == 1 and "an empty --lab" in out.stderr and "Traceback" not in out.stderr


def test_exec_on_a_lab_that_is_not_up_says_so_in_one_line() -> None:
    if os.geteuid() != 0:
        pytest.skip("exec needs root")
    out = gwlab("exec", "bastion", "--lab", "nosuchlab-x", "--", "true")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"gwlab: error: lab 'nosuchlab-x' is not up (no state in {os.environ.get('GWLAB_RUN_DIR', '/run/gwlab')}"
        "/nosuchlab-x); start it with `gwlab up`"]


def test_a_closed_pipe_ends_in_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "bird.conf"
    conf.write_text(bastion_config(load_named(None, None), str(tmp_path / "bird.log")).render())
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first write: every write meets EPIPE
    try:
        out = gwlab("bird", "validate", str(conf), "--no-lab", "--parse-only", "--json", stdout=write)
    finally:
        os.close(write)
    assert out.returncode == 141 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "gwlab: output closed early (the command reading it exited); the verb's work is done"]


def test_an_unexpected_error_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: argparse.Namespace) -> int:
        raise RuntimeError("boom")
    monkeypatch.setattr("orchestrator.cli.status.run", broken)
    monkeypatch.delenv("GWLAB_DEBUG", raising=False)
    if os.geteuid() != 0:
        pytest.skip("status needs root")
    assert main(["status"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("gwlab: internal error: RuntimeError: boom") and len(err.strip().splitlines()) == 1


def test_make_link_makes_gwlab_reachable_only_where_the_path_is_free(tmp_path: Path) -> None:
    free = tmp_path / "free"
    free.mkdir()
    run = subprocess.run(["make", "-s", "link", f"BINDIR={free}"], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, check=True)
    assert (free / "gwlab").resolve() == (PROJECT_ROOT / ".venv" / "bin" / "gwlab").resolve(), run.stdout
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "gwlab").write_text("someone else's\n")
    run = subprocess.run(["make", "-s", "link", f"BINDIR={taken}"], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, check=True)
    assert (taken / "gwlab").read_text() == "someone else's\n"
    assert f"run this lab's CLI as {PROJECT_ROOT}/.venv/bin/gwlab" in run.stdout
