"""`gwlab up|down|clean --engine clab` as a user runs them, on this kind of machine (no Docker engine):
up stops at once with the prerequisite report and leaves nothing behind; --dry-run prints the plan
(compared with a golden file) and runs nothing; down and clean are idempotent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT
from orchestrator.engines.netns import namespaces as netns
from orchestrator.cli import build_parser
from orchestrator.state import lab_of_ns

GOLDEN = PROJECT_ROOT / "tests" / "fixtures" / "clab" / "dry-run.txt"
NO_DOCKER = not Path("/var/run/docker.sock").exists() and not os.environ.get("DOCKER_HOST")


def gwlab(args: list[str], run_root: Path, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GWLAB_RUN_DIR": str(run_root)}
    env.pop("GWLAB_LAB", None)
    if path_first is not None:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=120, check=False)


def recording_tools(tmp_path: Path) -> tuple[Path, Path]:
    """Stand-ins for docker, containerlab, kind and kubectl on PATH (none can run here): each only
    appends its argv to a log, so a test sees whether anything was run."""
    bin_dir, log = tmp_path / "bin", tmp_path / "tools.log"
    bin_dir.mkdir()
    for tool in ("docker", "containerlab", "kind", "kubectl"):
        script = bin_dir / tool
        script.write_text(f"#!/bin/sh\n# stand-in for {tool}, which cannot run here: records its call\n"
                          f'echo "{tool} $*" >> {log}\n')
        script.chmod(0o755)
    return bin_dir, log


def normalised(text: str, run_root: Path) -> str:
    return text.replace(str(run_root), "<run-root>").replace(str(PROJECT_ROOT), "<project>")


def test_dry_run_prints_the_golden_plan_and_runs_nothing(tmp_path: Path) -> None:
    run_root = tmp_path / "run"
    bin_dir, log = recording_tools(tmp_path)
    out = gwlab(["up", "--engine", "clab", "--dry-run"], run_root, bin_dir)
    assert out.returncode == 0, out.stderr
    text = normalised(out.stdout, run_root)
    if os.environ.get("GWLAB_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    assert not log.exists() and not run_root.exists()


def test_golden_plan_is_in_order() -> None:
    text = GOLDEN.read_text()
    order = ["build the bastion image", "create the host bridge", "$ containerlab deploy", "start BIRD",
             "tigera-operator.yaml", "kind: Installation", "tigerastatus/calico", "kind: BGPPeer",
             "kind: Secret", "crd/gateways.gateway.networking.k8s.io", "kind: TLSRoute", "mode: Passthrough",
             "show protocols", "configure check", "configure timeout 30", "configure confirm", "curl -sS -v"]
    at = [text.index(s) for s in order]
    assert at == sorted(at)
    assert "extras.k8s_kind" not in text and "wait: 0s" in text and "v3.30.5" in text


def test_dry_run_needs_no_root_and_is_for_clab() -> None:
    args = build_parser().parse_args(["up", "--engine", "clab", "--dry-run"])
    assert args.dry_run and args.needs_root is False
    assert build_parser().parse_args(["up"]).dry_run is False


def test_dry_run_with_netns_says_so(tmp_path: Path) -> None:
    out = gwlab(["up", "--dry-run"], tmp_path / "run")
    assert out.returncode == 1 and "--engine clab" in out.stderr


@pytest.mark.skipif(not NO_DOCKER, reason="this test is about a machine with no Docker engine")
@pytest.mark.skipif(os.geteuid() != 0, reason="gwlab up needs root")
def test_up_on_a_machine_without_docker_stops_at_once(tmp_path: Path) -> None:
    run_root = tmp_path / "run"
    out = gwlab(["up", "--engine", "clab", "--lab", "clabnodocker"], run_root)
    assert out.returncode == 1
    assert "nothing was made" in out.stderr and "MISSING     Docker engine" in out.stderr
    assert "systemctl start docker" in out.stderr and "docker pull kindest/node" in out.stderr
    assert out.stdout == ""  # it stopped before doing anything
    assert not (run_root / "clabnodocker").exists()
    assert not [n for n in netns.list_names() if lab_of_ns(n) == "clabnodocker"]
    assert not Path("/sys/class/net/gwlab-br").exists()


@pytest.mark.skipif(not NO_DOCKER, reason="this test is about a machine with no Docker engine")
@pytest.mark.skipif(os.geteuid() != 0, reason="gwlab down needs root")
def test_down_and_clean_are_idempotent_here(tmp_path: Path) -> None:
    run_root = tmp_path / "run"
    for _ in range(2):
        out = gwlab(["down", "--engine", "clab", "--lab", "clabidem"], run_root)
        assert (out.returncode, out.stdout.strip()) == (0, "lab clabidem: nothing to remove")
        out = gwlab(["clean", "--lab", "clabidem"], run_root)
        assert out.returncode == 0 and "removed 0 items" in out.stdout
