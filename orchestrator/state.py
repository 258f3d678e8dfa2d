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
from orchestrator.fsutil import atomic_write, private_dir
# Where labs live: named in orchestrator.rundir, re-exported here where most callers look for them.
from orchestrator.rundir import LAB_NAME as LAB_NAME, RUN_ROOT as RUN_ROOT, RunDir
from orchestrator.rundir import check_lab_name as check_lab_name, run_dir as run_dir
from orchestrator.rundir import NS_PREFIX as NS_PREFIX, lab_of_ns as lab_of_ns, ns_name as ns_name


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


@dataclass(frozen=True)
class Proc:
    role: str  # what it is in the lab, e.g. "bird:bastion"
    pid: int
    start_time: int  # field 22 of /proc/PID/stat, in clock ticks since boot
    exe: str
    ns: str
    argv: list[str] = field(default_factory=list)
    log: str = ""


@dataclass(frozen=True)
class FaultRecord:
    """One fault a lab injected (`gwlab fault`), kept until it is undone: what `fault clear` undoes,
    what `status` lists and what the BIRD supervisor leaves down."""

    kind: str  # link-down | isolate | kill
    target: str  # node:iface for link-down, a node for isolate, bird:NODE | pod/NAME | gateway | NODE for kill
    at: float  # time.time() when injected
    links: list[tuple[str, str]] = field(default_factory=list)  # (namespace, interface) taken down
    roles: list[str] = field(default_factory=list)  # processes killed (their records are kept)
    signal: str = ""
    routes: list[dict[str, Any]] = field(default_factory=list)  # static routes the links took with them

    def __hash__(self) -> int:
        return hash((self.kind, self.target, self.at))

    def describe(self) -> str:
        return f"{self.kind} {self.target}" + (f" ({self.signal})" if self.signal else "")


@dataclass
class Facts:
    """What the lab observed and kept for its checks (state.json's "facts"; a key is written only
    once its fact is recorded, so a fact not recorded reads as such)."""

    # prefix -> next hops it arrived filtered from, seen by `up` before the filter push
    filtered_before_push: dict[str, list[str]] | None = None
    route_after_step4: tuple[str, str] | None = None  # the TLSRoute's Accepted (status, reason)
    route_after_step5: tuple[str, str] | None = None
    # What the bastion's import filter accepts after a push; None: a config pushed by hand (not data).
    bastion_accepts: list[str] | None = None
    bastion_pushed: bool = False  # a push recorded bastion_accepts (else: the pre-existing filter)
    clab: dict[str, Any] | None = None  # the containerlab engine's own record (what it made)

    KEYS = ("filtered_before_push", "route_after_step4", "route_after_step5", "bastion_accepts", "clab")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Facts:
        facts = cls()
        for key, value in raw.items():
            facts[key] = value
        return facts

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.filtered_before_push is not None:
            out["filtered_before_push"] = self.filtered_before_push
        for key in ("route_after_step4", "route_after_step5"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value)
        if self.bastion_pushed:
            out["bastion_accepts"] = self.bastion_accepts
        if self.clab is not None:
            out["clab"] = self.clab
        return out

    # As a mapping of state.json's keys, for code that reads the file's shape.
    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_json()

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "filtered_before_push":
            self.filtered_before_push = {str(k): [str(x) for x in v] for k, v in dict(value).items()}
        elif key in ("route_after_step4", "route_after_step5"):
            status, reason = value
            setattr(self, key, (str(status), str(reason)))
        elif key == "bastion_accepts":
            self.bastion_accepts = None if value is None else [str(x) for x in value]
            self.bastion_pushed = True
        elif key == "clab":
            self.clab = dict(value)
        else:
            raise KeyError(f"{key!r} is not a fact a lab keeps (known: {', '.join(self.KEYS)})")


@dataclass
class LabState:
    lab: str
    engine: str
    topology: str
    phase: str = "starting"  # starting -> built (namespaces, daemons, control plane) -> up; a crash leaves the earlier
    namespaces: list[str] = field(default_factory=list)
    processes: list[Proc] = field(default_factory=list)
    bastion_bird: str = "1"  # the BIRD dialect the bastion runs
    facts: Facts = field(default_factory=Facts)  # observations kept for checks, e.g. pre-push filtered
    faults: list[FaultRecord] = field(default_factory=list)  # injected by `gwlab fault`, not yet undone
    bgp_timers: str = "fast"  # the node speakers' BGP timers: fast (the lab's) or calico (Calico's own)
    built_from: str = ""  # a digest of what `up` was asked to build: another `up` of the same repairs it

    def __post_init__(self) -> None:
        if isinstance(self.facts, dict):  # as state.json holds them
            self.facts = Facts.from_json(self.facts)
        self.faults = [f if isinstance(f, FaultRecord) else
                       FaultRecord(**{**f, "links": [tuple(x) for x in f.get("links", [])]})
                       for f in self.faults]

    @property
    def path(self) -> Path:
        return RunDir(self.lab).state

    def save(self) -> None:
        private_dir(self.path.parent)
        raw = asdict(self)
        raw["facts"] = self.facts.to_json()
        atomic_write(self.path, json.dumps(raw, indent=1))

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
        path = RunDir(lab).state
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        raw["processes"] = [Proc(**p) for p in raw.get("processes", [])]
        return cls(**raw)
