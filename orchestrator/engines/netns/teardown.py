"""Removing a lab: exact from its state file, and still complete without one.

Kept free of netlink imports so that `down` and `clean` start fast.
"""

from __future__ import annotations

import shutil

from orchestrator.engines.netns import namespaces, procs
from orchestrator.rundir import netns_etc_dirs
from orchestrator.state import LAB_NAME, RUN_ROOT, LabState, changing, lab_of_ns, run_dir


def teardown(lab: str, state: LabState | None) -> list[str]:
    """Stop the lab's processes (recorded ones by PID, then any still inside its namespaces),
    remove its namespaces and its run directory. Works with no state file at all."""
    with changing(lab):
        return _teardown(lab, state)


def _teardown(lab: str, state: LabState | None) -> list[str]:
    removed: list[str] = []
    d = run_dir(lab)  # refuses anything that is not a lab name before touching anything
    names = sorted(set((state.namespaces if state else [])
                       + [n for n in namespaces.list_names() if lab_of_ns(n) == lab]))
    if state:
        removed += [f"process {p.role} (pid {p.pid})" for p in procs.stop(state.processes)]
    strays = namespaces.pids_in([n for n in names if namespaces.exists(n)])
    if strays:
        procs.kill_pids(list(strays))
        removed += [f"process pid {pid} in {ns}" for pid, ns in strays.items()]
    for n in names:
        if namespaces.remove(n):
            removed.append(f"namespace {n}")
    # /etc/netns/gwlab-<lab>.*: found by name, after the namespaces (nothing reads them any more)
    for etc in netns_etc_dirs(lab) + [d]:
        if etc.exists():
            shutil.rmtree(etc, ignore_errors=True)
            removed.append(f"directory {etc}")
    return removed


def labs_on_host() -> list[str]:
    """Labs with a run directory or a namespace of ours, running or left over."""
    labs = {p.name for p in RUN_ROOT.iterdir() if p.is_dir()} if RUN_ROOT.is_dir() else set()
    labs |= {lab for n in namespaces.list_names() if (lab := lab_of_ns(n))}
    labs |= {lab for p in netns_etc_dirs() if (lab := lab_of_ns(p.name))}
    return sorted(lab for lab in labs if LAB_NAME.match(lab))
