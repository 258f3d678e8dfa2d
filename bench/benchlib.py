"""What the bench scripts share: running the CLI as a user does, and min/median/max tables."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gwlab(*args: str, check: bool = False, timeout: float = 300, tree: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`tree`: the source tree whose gwlab runs (another checkout of the project, to compare with)."""
    env = None if tree == ROOT else {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=tree, capture_output=True,
                         text=True, timeout=timeout, env=env)
    if check and out.returncode != 0:
        raise SystemExit(f"gwlab {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out


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
