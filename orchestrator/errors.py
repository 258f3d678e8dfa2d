"""Errors the user sees: every problem names the file, the field and the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.file}: {self.field}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class LabError(Exception):
    """A failure with a message meant for the user (no traceback)."""


class ValidationFailed(LabError):
    """One or more problems in the user's input; nothing was started or changed."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"{len(problems)} problem(s) found, nothing was changed:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))
