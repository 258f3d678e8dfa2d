"""Removing a lab: exact from its state file, and still complete without one.

Kept free of netlink imports so that `down` and `clean` start fast.
"""

from __future__ import annotations

import shutil

from orchestrator import netns, procs
from orchestrator.state import LabState, changing, lab_of_ns, run_dir


def teardown(lab: str, state: LabState | None) -> list[str]:
    """Stop the lab's processes (recorded ones by PID, then any still inside its namespaces),
    remove its namespaces and its run directory. Works with no state file at all."""
    with changing(lab):
        return _teardown(lab, state)


def _teardown(lab: str, state: LabState | None) -> list[str]:
    removed: list[str] = []
    d = run_dir(lab)  # refuses anything that is not a lab name before touching anything
    names = sorted(set((state.namespaces if state else [])
                       + [n for n in netns.list_names() if lab_of_ns(n) == lab]))
    if state:
        removed += [f"process {p.role} (pid {p.pid})" for p in procs.stop(state.processes)]
    strays = netns.pids_in([n for n in names if netns.exists(n)])
    if strays:
        procs.kill_pids(list(strays))
        removed += [f"process pid {pid} in {ns}" for pid, ns in strays.items()]
    for n in names:
        if netns.remove(n):
            removed.append(f"namespace {n}")
    if d.exists():
        shutil.rmtree(d, ignore_errors=True)
        removed.append(f"directory {d}")
    return removed
