#!/usr/bin/env python3
"""Bench: `gwlab kubectl` against a whole lab (its control plane in the control-plane node's namespace,
kubectl from the bastion), as whole commands: `gwlab kubectl apply -f` of one manifest (a changed one
each run, so it is "configured") and `gwlab kubectl get pods`; and, from `up`'s own progress, when the
API server answered relative to BIRD's start. Goals: apply <= 0.15 s, get pods <= 0.1 s.

    sudo .venv/bin/python bench/bench_kubectl_lab.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from benchlib import summarize

ROOT = Path(__file__).resolve().parent.parent
GWLAB = str(ROOT / ".venv/bin/gwlab")
GOALS = {"gwlab kubectl apply -f (one manifest)": 0.15, "gwlab kubectl get pods": 0.1}
MANIFEST = """apiVersion: v1
kind: ConfigMap
metadata:
  name: bench
data:
  run: "{run}"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    lab = f"bench{os.getpid() % 10000}"
    runs: list[dict[str, float]] = []
    try:
        start = time.monotonic()
        subprocess.run([GWLAB, "up", "--lab", lab], check=True, capture_output=True, text=True, timeout=180)
        up = time.monotonic() - start
        from orchestrator.rundir import RunDir  # noqa: E402 - after sys.path has the project

        files = RunDir(lab)
        # the API server's start: its log's first line (serving) against BIRD's start, by file times
        bird = files.node("bastion").bird_out.stat().st_ctime
        served = files.kubeconfig.stat().st_mtime
        for run in range(args.runs):
            manifest = Path(f"/tmp/gwlab-bench-{lab}.yaml")
            manifest.write_text(MANIFEST.format(run=run))
            t = time.monotonic()
            subprocess.run([GWLAB, "--lab", lab, "kubectl", "apply", "-f", str(manifest)], check=True,
                           capture_output=True)
            applied = time.monotonic() - t
            t = time.monotonic()
            subprocess.run([GWLAB, "--lab", lab, "kubectl", "get", "pods"], check=True, capture_output=True)
            runs.append({"gwlab kubectl apply -f (one manifest)": applied,
                         "gwlab kubectl get pods": time.monotonic() - t})
        print(f"up: {up:.2f} s; API server's kubeconfig written {served - bird:+.2f} s after the bastion's BIRD "
              "output file was opened")
        print("\n".join(summarize("gwlab kubectl, whole commands", runs)))
        print("goals: " + ", ".join(f"{k} <= {v} s" for k, v in GOALS.items()))
    finally:
        subprocess.run([GWLAB, "down", "--lab", lab], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
