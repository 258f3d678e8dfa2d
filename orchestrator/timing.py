"""Where a command's time goes: named phases that add up to the whole.

A phase opened inside another is charged to itself and taken out of its parent, so the figures
never count a second twice and their sum is the time spent inside the outermost phases. Code
deep in the engine names its part with `phase(name)`, which does nothing unless a caller is
recording (`recording(clock)`): the engine takes no extra argument for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import ContextManager

PROCESS_START = "process start (interpreter, imports, arguments)"


class Clock:
    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._children: list[float] = []  # per open phase: the time its inner phases took

    def charge(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        self._children.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            inner = min(self._children.pop(), elapsed)  # absorbed phases never exceed their parent
            self.charge(name, elapsed - inner)
            if self._children:
                self._children[-1] += elapsed

    def absorb(self, phases: dict[str, float], prefix: str) -> None:
        """Phases timed by another process while this one waited for it (the control plane's pass
        that `Lab.apply` waits on): charged under `prefix`, and taken out of the open phase."""
        for name, seconds in phases.items():
            self.charge(prefix + name, seconds)
            if self._children:
                self._children[-1] += seconds


_current: ContextVar[Clock | None] = ContextVar("gwlab_clock", default=None)


@contextmanager
def recording(clock: Clock) -> Iterator[Clock]:
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


def phase(name: str) -> ContextManager[None]:
    clock = _current.get()
    return clock.phase(name) if clock is not None else nullcontext()


def absorb(phases: dict[str, float], prefix: str) -> None:
    clock = _current.get()
    if clock is not None:
        clock.absorb(phases, prefix)


def since_process_start() -> float:
    """Seconds since this process was made (the kernel's start time; 1/CLK_TCK resolution, ~10 ms)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of proc(5): starttime
    return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
