"""What the bench scripts share: running the CLI as a user does, and min/median/max tables."""

from __future__ import annotations

import json
import os
import statistics
import time
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def gwlab(*args: str, check: bool = False, timeout: float = 300, tree: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`tree`: the source tree whose gwlab runs (another checkout of the project, to compare with)."""
    env = None if tree == ROOT else {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=tree, capture_output=True,
                         text=True, timeout=timeout, env=env)
    if check and out.returncode != 0:
        raise SystemExit(f"gwlab {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out


def timed_up(lab: str, args: list[str], timeout: float, tree: Path = ROOT) -> tuple[dict[str, Any], float, dict[str, float]]:
    """`gwlab up --lab LAB ARGS --json` from nothing, timed as a whole process from outside: its JSON,
    the whole command's seconds, and every phase from the process's start (the start itself, up's own
    phases, its output and exit). An up that fails or does not verify is taken down and raised."""
    from orchestrator.timing import PROCESS_START  # the bench scripts put the project on sys.path first

    gwlab("down", "--lab", lab, tree=tree)
    launched = time.time()
    up = gwlab("up", "--lab", lab, *args, "--json", timeout=timeout, tree=tree)
    returned = time.time()
    try:
        result: dict[str, Any] = json.loads(up.stdout)
    except ValueError:
        gwlab("down", "--lab", lab, tree=tree)
        raise RuntimeError(f"up failed: {(up.stderr or up.stdout).strip()[-600:]}") from None
    if not result["ok"]:
        gwlab("down", "--lab", lab, tree=tree)
        failed = [f"{c['check']}: {c['observed']}" for c in result["checks"] if not c["ok"]]
        raise RuntimeError(f"up did not verify ({len(failed)} checks failed): {'; '.join(failed[:5])}")
    inside = {k: v for k, v in result["phases"].items() if k != PROCESS_START}
    phases = {PROCESS_START: result["clock"]["run"] - launched, **inside,
              "output and interpreter exit": returned - result["clock"]["end"]}
    return result, returned - launched, phases


def up_and_apply(lab: str, manifests: str) -> None:
    """The workshop's lab made anew and verified, then `manifests` applied to it as a user applies a file."""
    gwlab("down", "--lab", lab)
    up = gwlab("up", "--lab", lab, "--json", timeout=300)
    if json.loads(up.stdout or "{}").get("ok") is not True:
        raise SystemExit(f"up failed: {up.stdout[-1500:]} {up.stderr[-1500:]}")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix=f"gwlab-{lab}-") as f:
        f.write(manifests)
        f.flush()
        gwlab("apply", "--lab", lab, "-f", f.name, check=True)


def summarize(title: str, runs: list[dict[str, float]], width: int = 42) -> list[str]:
    """A table of each figure's min, median and max over the runs (seconds unless named)."""
    lines = [f"{title} ({len(runs)} runs)", f"  {'figure':<{width}} {'min':>10} {'median':>10} {'max':>10}"]
    for key in runs[0]:
        values = [r[key] for r in runs if key in r]
        lines.append(f"  {key:<{width}} {min(values):10.3f} {statistics.median(values):10.3f} {max(values):10.3f}")
    return lines


def lb_pool_manifests(name: str, cidr: object) -> str:
    """An IPPool for LoadBalancer addresses and the workshop's BGPConfiguration advertising it beside
    the workshop's own range, as a user adds a second range."""
    return f"""\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: {name}
spec:
  cidr: {cidr}
  blockSize: 32
  disabled: false
  assignmentMode: Automatic
  allowedUses:
    - LoadBalancer
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: true
  nodeMeshMaxRestartTime: 120s
  asNumber: 64512
  serviceLoadBalancerIPs:
  - cidr: 10.10.10.0/26
  - cidr: {cidr}
  listenPort: 179
  bindMode: NodeIP
"""
