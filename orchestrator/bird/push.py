"""Safe push of a bird.conf to a running BIRD.

1. The candidate is staged next to the config and checked by the running daemon itself
   (`configure check "STAGED"`): a refusal leaves the router and its file untouched.
2. The staged file replaces the config atomically (rename); a marker next to it keeps the old text
   until the push ends, so a push interrupted hard is recognised and finished by the next one.
3. `configure timeout N`: BIRD applies it and undoes it by itself after N s unless confirmed.
4. The lab's checks run (sessions Established, expected routes present).
5. All pass: `configure confirm`. Else (or on Ctrl-C): `configure undo`, the old file back, and the
   checks that held before are awaited again.

The router ends either on the new config with every check passing or on the old one unchanged.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from orchestrator.bird.birdc import Reply
from orchestrator.errors import LabError

UNDO_TIMEOUT = 30  # seconds BIRD waits for our confirm before undoing by itself
CONFIRMED, NOTHING_TO_DO = 18, 19  # reply codes of `configure confirm`


class Outcome(Protocol):
    """What a push needs of a check's result (the caller's checks decide the rest)."""

    @property
    def ok(self) -> bool: ...


Result = TypeVar("Result", bound=Outcome)


@dataclass(frozen=True)
class PushResult(Generic[Result]):
    confirmed: bool
    results: list[Result]
    steps: list[str]
    restored: list[Result] = field(default_factory=list)  # after an undo: the checks that held before, again

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]


class PushRefused(LabError):
    """The router was not changed."""


Birdc = Callable[[str], Reply]  # one command to the router's BIRD -> its reply


def _marker(conf: Path) -> Path:
    return conf.with_name(f".{conf.name}.pending")


@contextmanager
def _locked(conf: Path) -> Iterator[None]:
    lock = conf.with_name(f".{conf.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PushRefused(f"another push to {conf} is running; wait for it to end") from None
        yield
    finally:
        os.close(fd)


def _settle_interrupted(conf: Path, steps: list[str]) -> None:
    """An earlier push died between `configure timeout` and its end: BIRD undoes it by itself at
    its deadline, and then the old text must be put back in the file."""
    marker = _marker(conf)
    try:
        pending = json.loads(marker.read_text())
    except (OSError, ValueError):
        return
    deadline = float(pending.get("started", 0)) + float(pending.get("timeout", UNDO_TIMEOUT)) + 1
    left = deadline - time.time()
    if left > 0:
        raise PushRefused(f"an interrupted push to {conf} is still pending: BIRD undoes it by itself in "
                          f"{left:.0f} s (fix: wait, then push again)")
    _write(conf, str(pending.get("previous", "")))
    marker.unlink(missing_ok=True)
    steps.append("an interrupted earlier push was undone by BIRD: its file put back")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _last(reply: Reply) -> str:
    return reply.lines[-1].text if reply.lines else ""


def push(conf_path: Path, text: str, birdc: Birdc, verify: Callable[[], list[Result]],
         timeout: int = UNDO_TIMEOUT, restore_checks: Callable[[], list[Result]] | None = None,
         settle: Callable[[], Result] | None = None) -> PushResult[Result]:
    """Push `text` as the router's config (its daemon reads `conf_path`). `settle` waits until the
    router has run every route through the new config (a check of its own); `verify` runs the checks
    that must hold on the new config (waiting as it needs); `restore_checks`, after an undo, those
    that held before the push. Results are the caller's own type: the push reads only `ok`."""
    steps: list[str] = []
    with _locked(conf_path):
        _settle_interrupted(conf_path, steps)
        staged = conf_path.with_name(f".{conf_path.name}.new")
        staged.write_text(text)
        try:
            reply = birdc(f'configure check "{staged}"')
            if not reply.ok:
                raise PushRefused(f"BIRD refuses the config: {reply.error}")
            steps.append(f"configure check: {_last(reply)}")
            previous = conf_path.read_text()
            _marker(conf_path).write_text(json.dumps({"previous": previous, "started": time.time(),
                                                      "timeout": timeout}))
            os.replace(staged, conf_path)
        finally:
            staged.unlink(missing_ok=True)
        try:
            reply = birdc(f"configure timeout {timeout}")
            if not reply.ok:
                raise PushRefused(f"BIRD did not take the config: {reply.error}")
            steps.append(f"configure timeout {timeout}: " + " / ".join(ln.text for ln in reply.lines))
        except BaseException:
            _write(conf_path, previous)
            _marker(conf_path).unlink(missing_ok=True)
            raise
        try:
            results = ([settle()] if settle else []) + verify()
        except BaseException:
            _undo(conf_path, previous, birdc, steps)
            raise
        if all(r.ok for r in results):
            reply = birdc("configure confirm")
            steps.append(f"configure confirm: {_last(reply)}")
            if reply.ok and reply.code == CONFIRMED:
                _marker(conf_path).unlink(missing_ok=True)
                return PushResult(True, results, steps)
            if reply.code == NOTHING_TO_DO:
                steps.append(f"BIRD had already undone the change (the checks took longer than {timeout} s)")
                _write(conf_path, previous)
                _marker(conf_path).unlink(missing_ok=True)
                return PushResult(False, results, steps, _restored(settle, restore_checks))
        _undo(conf_path, previous, birdc, steps)
        return PushResult(False, results, steps, _restored(settle, restore_checks))


def _restored(settle: Callable[[], Result] | None, restore_checks: Callable[[], list[Result]] | None
              ) -> list[Result]:
    """After an undo: the old config re-applied to every route, then the checks that held before."""
    return ([settle()] if settle else []) + (restore_checks() if restore_checks else [])


def _undo(conf_path: Path, previous: str, birdc: Birdc, steps: list[str]) -> None:
    try:
        reply = birdc("configure undo")
        steps.append("configure undo: " + " / ".join(ln.text for ln in reply.lines))
    finally:
        _write(conf_path, previous)
        _marker(conf_path).unlink(missing_ok=True)
