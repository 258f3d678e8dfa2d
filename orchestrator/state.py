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


_lock_depth = 0
_lock_fd = -1


@contextmanager
def changing(wait: float = 120.0) -> Iterator[None]:
    """One gwlab command changes labs on this host at a time (`up`, `apply` and what calls it,
    `down`, `clean`): two at once would overwrite each other's state. The lock is an flock on
    the run root itself, so it leaves no file behind; nested uses in one process share it."""
    global _lock_depth, _lock_fd
    if _lock_depth == 0:
        RUN_ROOT.mkdir(parents=True, exist_ok=True)
        fd = os.open(RUN_ROOT, os.O_RDONLY)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LabError(f"another gwlab command has been changing a lab on this host for {wait:.0f} s; "
                                   "try again when it is done") from None
                time.sleep(0.05)
        _lock_fd = fd
    _lock_depth += 1
    try:
        yield
    finally:
        _lock_depth -= 1
        if _lock_depth == 0:
            os.close(_lock_fd)  # closing the descriptor releases the flock
            _lock_fd = -1


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
    phase: str = "starting"  # starting -> up (a lab left in "starting" is what a crash left behind)
    namespaces: list[str] = field(default_factory=list)
    processes: list[Proc] = field(default_factory=list)
    bastion_bird: str = "1"  # the BIRD dialect the bastion runs
    facts: Facts = field(default_factory=Facts)  # observations kept for checks, e.g. pre-push filtered
    faults: list[FaultRecord] = field(default_factory=list)  # injected by `gwlab fault`, not yet undone
    bgp_timers: str = "fast"  # the node speakers' BGP timers: fast (the lab's) or calico (Calico's own)

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
