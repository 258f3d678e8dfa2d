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
