"""The kubelet's part of the netns engine's controllers: a pod whose process died is started again in
its own namespace (its sandbox stays), at once the first time, then after the kubelet's back-off
(10 s, doubled each time, at most 300 s; forgotten once the container has run 10 minutes), with
restartCount, lastState.terminated and the Events the kubelet writes (BackOff, Pulled, Created,
Started). The account lives in the control plane's pod records, so it survives the control plane."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Protocol

from orchestrator.engines.netns import namespaces, procs
from orchestrator.engines.netns.records import Container, PodRecords, Terminated
from orchestrator.errors import LabError
from orchestrator.k8s.world import PodSpec, World
from orchestrator.rundir import PodFiles
from orchestrator.state import LabState, Proc

BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET = 10.0, 300.0, 600.0  # the kubelet's CrashLoopBackOff


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_name(pod: PodSpec) -> str:
    return "envoy" if pod.role == "gateway" else "echoserver"


def terminated(files: PodFiles, started_at: str) -> Terminated:
    """How the container ended, from the exit status its waiting shell left (137 = 128 + SIGKILL)."""
    try:
        code = int(files.exit_status.read_text().strip())
        finished = stamp(files.exit_status.stat().st_mtime)
    except (OSError, ValueError):
        return Terminated(137, "ContainerStatusUnknown", 0, started_at, stamp(time.time()))
    signal = code - 128 if code > 128 else 0
    return Terminated(code, "Completed" if code == 0 else "Error", signal, started_at, finished)


def next_backoff(c: Container, now: float) -> float:
    """The delay before this restart, the record's back-off moved on for the next one."""
    if c.started and now - c.started >= BACKOFF_RESET:
        c.backoff = 0.0
    delay = c.backoff
    c.backoff = BACKOFF_FIRST if delay == 0 else min(2 * delay, BACKOFF_MAX)
    return delay


def records_of(state: LabState) -> dict[str, Container]:
    """The containers' records where the state keeps them (the control plane's pod records)."""
    return state.containers if isinstance(state, PodRecords) else {}


def due(state: LabState, now: float | None = None) -> bool:
    """A pod's process died and the kubelet has not yet acted, or its back-off has run out."""
    now = time.time() if now is None else now
    containers = records_of(state)
    for p in state.processes:
        if p.role.startswith("pod:") and not procs.alive(p):
            c = containers.get(p.role[4:])
            if c is None or not c.next_start or c.next_start <= now:
                return True
    return False


FAILURE_THRESHOLD = 3  # the readiness probe's failureThreshold (Kubernetes' default)


def probe_round(specs: list[PodSpec], ready: set[str], skip: set[str], probe: Callable[[PodSpec], bool],
                failures: dict[str, int], containers: dict[str, Container], now: float | None = None) -> bool:
    """One period of the kubelet's readiness prober over the running pods (`skip`: backing off, or on a
    node whose kubelet cannot report): a pod not ready that answers now, or one marked failed that
    answers again, is ready again; a ready pod that fails FAILURE_THRESHOLD probes in a row is marked
    (Container.probe_failed) with the kubelet's Unhealthy Event. `failures` counts the failures in a row
    between calls. True when a pass is due, so that its Ready condition and endpoints follow."""
    due = False
    for s in specs:
        if s.key in skip:
            continue
        c = containers.get(s.key)
        failed = c is not None and c.probe_failed
        if probe(s):
            failures.pop(s.key, None)
            if failed:
                assert c is not None
                c.probe_failed = False
            due = due or failed or s.key not in ready
            continue
        failures[s.key] = failures.get(s.key, 0) + 1
        if s.key in ready and not failed and failures[s.key] >= FAILURE_THRESHOLD:
            c = containers.setdefault(s.key, Container())
            c.probe_failed = True
            target = f"{s.ip}:{s.ports[0]}" if s.role == "echo" and s.ports else "Envoy's admin (GET /ready)"
            c.events.append(["Unhealthy", f"Readiness probe failed: no answer from {target} within the probe's "
                             f"timeout, {failures[s.key]} times in a row", "Warning"])
            due = True
    return due


def probe_failed(state: LabState) -> set[str]:
    """Pods the readiness prober holds not ready."""
    return {k for k, c in records_of(state).items() if c.probe_failed}


def backing_off(state: LabState) -> set[str]:
    return {k for k, c in records_of(state).items() if c.next_start}


class PodPlaneLike(Protocol):
    """What the kubelet needs of pods.PodPlane."""

    def paths(self, pod: PodSpec) -> PodFiles: ...

    def namespace(self, pod: PodSpec) -> str: ...

    def restart(self, pod: PodSpec, world: World) -> None: ...


class Kubelet:
    """What the kubelet does for a pass of the controllers: `plane` is the engine's PodPlane."""

    def __init__(self, state: LabState, plane: PodPlaneLike) -> None:
        self.state = state
        self.plane = plane
        self.containers = records_of(state)
        self.restarted: list[str] = []  # this pass's restarts in place

    def started(self, keys: list[str]) -> None:
        """Pods made new (their first container): restart count from nothing."""
        now = time.time()
        for key in keys:
            c = self.containers.setdefault(key, Container())
            c.started_at, c.started, c.next_start, c.delay = stamp(now), now, 0.0, 0.0
            c.probe_failed = False
        self.state.save()

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self.containers.pop(key, None)

    def restart_dead(self, running: dict[str, Proc], world: World) -> list[str]:
        """Each pod of `world` whose process died: started again in its namespace when its back-off
        allows. Returns the pods whose namespace was gone (to be made again as new ones)."""
        procs.reap_launchers()
        now = time.time()
        remake = []
        for key, proc in sorted(running.items()):
            pod = world.pods.get(key)
            if pod is None or procs.alive(proc):
                continue
            c = self.containers.setdefault(key, Container())
            name = container_name(pod)
            if not c.next_start:  # just found dead
                c.last = terminated(self.plane.paths(pod), c.started_at)
                delay = next_backoff(c, now)
                c.next_start, c.delay = now + delay, delay
                if delay:
                    c.events.append(["BackOff", f"Back-off restarting failed container {name} in pod "
                                     f"{pod.name}_{pod.namespace}", "Warning"])
            if c.next_start > now:
                continue
            c.restart_count += 1
            c.started_at, c.started, c.next_start, c.delay = stamp(now), now, 0.0, 0.0
            c.probe_failed = False
            if not namespaces.exists(self.plane.namespace(pod)):  # its sandbox went with it: made anew
                c.events.append(["SandboxChanged", "Pod sandbox changed, it will be killed and re-created.", "Normal"])
                remake.append(key)
                continue
            image = f"gwlab/{name}"
            c.events += [["Pulled", f'Container image "{image}" already present on machine', "Normal"],
                         ["Created", f"Created container: {name}", "Normal"]]
            try:
                self.plane.restart(pod, world)
            except (OSError, LabError) as exc:  # it died at once: the next pass finds it dead and backs off
                c.events.append(["Failed", f"Error: {exc}", "Warning"])
                continue
            self.restarted.append(key)
            c.events.append(["Started", f"Started container {name}", "Normal"])
        self.state.save()
        return remake


def drain_events(state: LabState) -> dict[str, list[list[str]]]:
    """The kubelet's Events not yet written, per pod key (taken off the records)."""
    out = {k: c.events for k, c in records_of(state).items() if c.events}
    for c in records_of(state).values():
        c.events = []
    if out:
        state.save()
    return out

