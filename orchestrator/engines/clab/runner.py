"""Running the command-line tools the engine drives (containerlab, kind, kubectl), behind one small
interface so that a recording stand-in can take their place in tests."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 8) -> str:
        """The end of what the command said, for an error message."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


class Runner(Protocol):
    def run(self, argv: tuple[str, ...], stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        """Run argv to completion; a missing program or a timeout is a result, not an exception."""


class SubprocessRunner:
    """The real runner: the program on PATH, in the foreground."""

    def run(self, argv: tuple[str, ...], stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        try:
            out = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout,
                                 check=False)
        except FileNotFoundError:
            return CommandResult(argv, 127, "", f"{argv[0]}: not found on PATH")
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return CommandResult(argv, 124, "", f"{shlex.join(argv)}: no result within {timeout:g} s\n{err}")
        return CommandResult(argv, out.returncode, out.stdout, out.stderr)
