"""What the lab tests share: running the CLI, and proving a lab left nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestrator import PROJECT_ROOT, topology_gen
from orchestrator.engines.netns import namespaces as netns
from orchestrator.rundir import netns_etc_dirs
from orchestrator.state import lab_of_ns, run_dir

TOPO = PROJECT_ROOT / "topology.clab.yml"


def gwlab(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True, text=True,
                         timeout=timeout, cwd=PROJECT_ROOT)
    if check and out.returncode != 0:
        raise AssertionError(f"gwlab {' '.join(args)} exited {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out


def leftovers(lab: str) -> list[str]:
    """Namespaces, processes and files of the lab still on the host."""
    found = [f"namespace {n}" for n in netns.list_names() if lab_of_ns(n) == lab]
    if run_dir(lab).exists():
        found.append(f"directory {run_dir(lab)}")
    found += [f"directory {d}" for d in netns_etc_dirs(lab)]
    marker = f"/gwlab/{lab}/"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"process {pid}: {cmdline.strip()}")
    return found


def sized_topology(tmp: Path, workers: int) -> Path:
    """The project's topology with `workers` worker nodes (addresses 10.0.1.12 onwards)."""
    return topology_gen.write_resized(tmp, workers)
