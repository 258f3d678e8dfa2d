"""Where a lab lives on the host (names, run directory) and the state file listing what it made.

Everything a lab creates carries its name: namespaces are `gwlab-<lab>.<node>`, files live under
/run/gwlab/<lab>/. The state file is written before each thing is created, so that `down` after
a crash or Ctrl-C knows of everything that may exist; `clean` also finds our namespaces by name.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import LabError
from orchestrator.procs import Proc

NS_PREFIX = "gwlab-"
RUN_ROOT = Path(os.environ.get("GWLAB_RUN_DIR", "/run/gwlab"))


def ns_name(lab: str, node: str) -> str:
    return f"{NS_PREFIX}{lab}.{node}"


def lab_of_ns(name: str) -> str | None:
    if not name.startswith(NS_PREFIX) or "." not in name:
        return None
    return name[len(NS_PREFIX):].split(".", 1)[0]


# A lab's name becomes part of paths and namespace names: nothing else is ever accepted.
LAB_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$")


def check_lab_name(lab: str) -> str:
    if not LAB_NAME.match(lab):
        raise LabError(f"{lab!r} is not a lab name: use 1-24 lowercase letters, digits and '-', "
                       "starting and ending with a letter or digit")
    return lab


@dataclass
class _Held:
    """The locks this process holds, shared by nested `changing()` calls."""

    root_fd: int = -1
    exclusive: bool = False  # the run root exclusively: every lab is ours
    depth: int = 0
    labs: dict[str, tuple[int, int]] = field(default_factory=dict)  # lab -> (fd of its lock, depth)


_held = _Held()
_WAIT_SLICE = 0.05


def _lab_lock(lab: str) -> Path:
    """Beside the lab's directory, not in it: `up` and `down` remove that directory while they hold
    the lock. The leading dot keeps it from being taken for a lab."""
    return RUN_ROOT / f".{lab}.lock"


def _flock(fd: int, how: int, deadline: float, wait: float) -> None:
    while True:
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LabError(f"another gwlab command has been changing a lab on this host for {wait:.0f} s; "
                               "try again when it is done") from None
            time.sleep(_WAIT_SLICE)


def _lock_lab(lab: str, deadline: float, wait: float) -> int:
    path = _lab_lock(lab)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _flock(fd, fcntl.LOCK_EX, deadline, wait)
            mine = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
        except BaseException:
            os.close(fd)
            raise
        if now is not None and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)  # the holder before us removed the file as it let go: lock the one there now


def _unlock_lab(lab: str, fd: int) -> None:
    try:
        os.unlink(_lab_lock(lab))  # removed while still held: a waiter on it sees that and retries
    except FileNotFoundError:
        pass
    os.close(fd)


@contextmanager
def changing(lab: str | None = None, wait: float = 120.0) -> Iterator[None]:
    """One gwlab command changes a lab at a time (`up`, `apply` and what calls it, `down`): two at
    once would overwrite each other's state. Different labs change side by side; `changing()` with
    no lab (`clean` of every lab) excludes all of them. The run root carries an flock, shared by
    changes of one lab and exclusive for changes of every lab; a lab's own flock is on a file
    beside its directory that the holder removes as it lets go, so nothing is left behind.
    Nested uses in one process share what is held."""
    if lab is not None:
        check_lab_name(lab)
    held = _held
    if held.depth and lab is None and not held.exclusive:
        raise RuntimeError("a change of every lab cannot start inside a change of one lab")
    deadline = time.monotonic() + wait
    root_taken = lab_taken = False
    if held.depth == 0:
        RUN_ROOT.mkdir(parents=True, exist_ok=True)
        fd = os.open(RUN_ROOT, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _flock(fd, fcntl.LOCK_SH if lab is not None else fcntl.LOCK_EX, deadline, wait)
        except BaseException:
            os.close(fd)
            raise
        held.root_fd, held.exclusive, root_taken = fd, lab is None, True
        if held.exclusive:  # no other change runs: lock files a killed command left are stale
            for stale in RUN_ROOT.glob(".*.lock"):
                stale.unlink(missing_ok=True)
    held.depth += 1
    try:
        if lab is not None and not held.exclusive:
            if lab in held.labs:
                fd, n = held.labs[lab]
                held.labs[lab] = (fd, n + 1)
            else:
                held.labs[lab] = (_lock_lab(lab, deadline, wait), 1)
            lab_taken = True
        yield
    finally:
        if lab_taken and lab is not None:
            fd, n = held.labs[lab]
            if n == 1:
                del held.labs[lab]
                _unlock_lab(lab, fd)
            else:
                held.labs[lab] = (fd, n - 1)
        held.depth -= 1
        if root_taken:
            os.close(held.root_fd)  # closing the descriptor releases the flock
            held.root_fd, held.exclusive = -1, False


def run_dir(lab: str) -> Path:
    return RUN_ROOT / check_lab_name(lab)


@dataclass
class LabState:
    lab: str
    engine: str
    topology: str
    phase: str = "starting"  # starting -> up (a lab left in "starting" is what a crash left behind)
    namespaces: list[str] = field(default_factory=list)
    processes: list[Proc] = field(default_factory=list)
    bastion_bird: str = "1"  # the BIRD dialect the bastion runs
    facts: dict[str, Any] = field(default_factory=dict)  # observations kept for checks, e.g. pre-push filtered

    @property
    def path(self) -> Path:
        return run_dir(self.lab) / "state.json"

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, self.path)

    def plan_namespaces(self, names: list[str]) -> None:
        """Written before any is made: a crash halfway leaves a list `down` can trust."""
        self.namespaces += [n for n in names if n not in self.namespaces]
        self.save()

    def add_processes(self, started: list[Proc]) -> None:
        roles = {p.role for p in started}
        self.processes = [p for p in self.processes if p.role not in roles] + started
        self.save()

    def process(self, role: str) -> Proc | None:
        return next((p for p in self.processes if p.role == role), None)

    def drop_process(self, role: str) -> None:
        self.processes = [p for p in self.processes if p.role != role]
        self.save()

    @classmethod
    def load(cls, lab: str) -> LabState | None:
        path = run_dir(lab) / "state.json"
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        raw["processes"] = [Proc(**p) for p in raw.get("processes", [])]
        return cls(**raw)


def labs_on_host() -> list[str]:
    """Labs with a run directory or a namespace of ours, running or left over."""
    from orchestrator import netns

    labs = {p.name for p in RUN_ROOT.iterdir() if p.is_dir()} if RUN_ROOT.is_dir() else set()
    labs |= {lab for n in netns.list_names() if (lab := lab_of_ns(n))}
    return sorted(lab for lab in labs if LAB_NAME.match(lab))
