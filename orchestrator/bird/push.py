"""Safe push of a bird.conf to a running BIRD: parse check, atomic write, `configure timeout`, the
lab's checks, then `configure confirm`, or `configure undo` and the old file back.

The router ends either on the new config with every check passing or on the old one unchanged.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.bird import binaries
from orchestrator.checks import Result
from orchestrator.errors import LabError

UNDO_TIMEOUT = 30  # seconds BIRD waits for our confirm before undoing by itself


@dataclass(frozen=True)
class PushResult:
    confirmed: bool
    results: list[Result]
    steps: list[str]


class PushRefused(LabError):
    pass


def parse_check(text: str, dialect: str, directory: Path) -> None:
    """`bird -p -c` on the candidate; raises PushRefused with BIRD's own file:line:col message."""
    bird = binaries.bird_binaries(dialect).bird
    candidate = directory / ".bird.conf.candidate"
    candidate.write_text(text)
    try:
        out = subprocess.run([str(bird), "-p", "-c", str(candidate)], capture_output=True, text=True, check=False)
    finally:
        candidate.unlink(missing_ok=True)
    if out.returncode != 0:
        raise PushRefused(f"BIRD {dialect} rejects the config: {(out.stderr or out.stdout).strip()}")


def push(conf_path: Path, text: str, dialect: str, birdc: Callable[[str], tuple[bool, str]],
         verify: Callable[[], list[Result]], timeout: int = UNDO_TIMEOUT) -> PushResult:
    """birdc(command) -> (ok, reply text); verify() runs the checks that must hold after the change."""
    steps: list[str] = []
    parse_check(text, dialect, conf_path.parent)
    steps.append("parse check passed (bird -p)")
    previous = conf_path.read_text()
    tmp = conf_path.with_name(f".{conf_path.name}.new")
    tmp.write_text(text)
    os.replace(tmp, conf_path)
    try:
        ok, reply = birdc("configure check")
        if not ok:
            raise PushRefused(f"configure check failed: {reply}")
        steps.append("configure check: " + reply.splitlines()[-1] if reply else "configure check")
        ok, reply = birdc(f"configure timeout {timeout}")
        if not ok:
            raise PushRefused(f"configure failed: {reply}")
        steps.append(f"configure timeout {timeout}: " + " / ".join(reply.splitlines()))
    except BaseException:
        _restore(conf_path, previous)
        raise
    results = verify()
    if all(r.ok for r in results):
        ok, reply = birdc("configure confirm")
        steps.append("configure confirm: " + reply.strip())
        if ok:
            return PushResult(True, results, steps)
    ok, reply = birdc("configure undo")
    steps.append("configure undo: " + reply.strip())
    _restore(conf_path, previous)
    time.sleep(0)  # BIRD applies the undo asynchronously; callers re-check as they need
    return PushResult(False, results, steps)


def _restore(conf_path: Path, previous: str) -> None:
    tmp = conf_path.with_name(f".{conf_path.name}.old")
    tmp.write_text(previous)
    os.replace(tmp, conf_path)
