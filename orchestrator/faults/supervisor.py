"""The lab's supervisor, one of its recorded processes (started by `up`, stopped first by `down`).

As calico-node's runit does for its BIRD, it starts a node's BIRD that died by itself again at once,
with graceful restart (`bird -R`), and records the new PID. A BIRD that a `gwlab fault kill` took
down stays down (its fault record says so) until `fault clear`; one stopped with `gwlab bird stop`
has no record any more and is left alone. Nothing can wait on a process that is not our child
(no pidfd or waitpid for those), so it polls /proc every POLL seconds: a stat read per BIRD."""

from __future__ import annotations

import os
import sys
import time
from typing import Final

from orchestrator.bird import binaries
from orchestrator.engines.netns import procs
from orchestrator.errors import LabError
from orchestrator.rundir import RunDir
from orchestrator.state import LabState, Proc, changing, ns_name

POLL: Final = 0.1
ROLE: Final = "supervisor"
MIN_GAP: Final = 1.0  # at most one restart a second per node: a BIRD that cannot start is not hammered


def start_bird(state: LabState, node: str, graceful: bool) -> Proc:
    """Start a node's BIRD on the config it has (with -R: graceful restart) and record it."""
    files = RunDir(state.lab).node(node)
    files.bird_socket.unlink(missing_ok=True)
    argv = [str(binaries.bird_binaries("1").bird), "-f", "-c", str(files.bird_config), "-s", str(files.bird_socket)]
    proc = procs.spawn(f"bird:{node}", ns_name(state.lab, node), argv + (["-R"] if graceful else []), files.bird_out,
                       caps=procs.BIRD_CAPS)
    state.add_processes([proc])
    return proc


def spawn(state: LabState, bastion: str) -> Proc:
    """Start the supervisor for a lab (in its bastion's namespace, where `clean` finds it too)."""
    log = RunDir(state.lab).supervisor_log
    return procs.spawn(ROLE, ns_name(state.lab, bastion),
                       [sys.executable, "-m", "orchestrator.faults.supervisor", state.lab, bastion], log,
                       caps=procs.SUPERVISOR_CAPS)


def stop(state: LabState) -> None:
    proc = state.process(ROLE)
    if proc is not None:
        procs.stop([proc], grace=1.0)
        state.drop_process(ROLE)


def _watched(state: LabState, bastion: str) -> list[Proc]:
    killed = {role for f in state.faults for role in f.roles}
    return [p for p in state.processes
            if p.role.startswith("bird:") and p.role != f"bird:{bastion}" and not p.role.startswith("bird:scratch")
            and p.role not in killed]


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def run(lab: str, bastion: str) -> None:
    me = os.getpid()
    suspect: dict[str, int] = {}  # role -> pid seen dead once (dead twice in a row: not a `bird stop` in flight)
    last: dict[str, float] = {}
    while True:
        _reap()
        state = LabState.load(lab)
        own = state.process(ROLE) if state else None
        if state is None or (own is not None and own.pid != me):
            return  # the lab is gone, or another supervisor is its own
        for proc in _watched(state, bastion):
            if procs.alive(proc):
                suspect.pop(proc.role, None)
                continue
            if suspect.get(proc.role) != proc.pid or time.monotonic() - last.get(proc.role, -MIN_GAP) < MIN_GAP:
                suspect[proc.role] = proc.pid
                continue
            try:
                with changing(lab, wait=2.0):
                    fresh = LabState.load(lab)
                    again = next((p for p in _watched(fresh, bastion) if p.role == proc.role), None) if fresh else None
                    if fresh is None or again is None or again.pid != proc.pid or procs.alive(again):
                        continue
                    new = start_bird(fresh, proc.role[5:], graceful=True)
            except (LabError, OSError) as exc:
                print(f"{time.time():.3f} {proc.role} pid {proc.pid} died; could not start it again: {exc}", flush=True)
                last[proc.role] = time.monotonic()
                continue
            last[proc.role] = time.monotonic()
            suspect.pop(proc.role, None)
            print(f"{time.time():.3f} {proc.role} pid {proc.pid} died by itself; started again with -R, "
                  f"pid {new.pid}", flush=True)
        time.sleep(POLL)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
