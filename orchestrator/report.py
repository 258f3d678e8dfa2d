"""How results reach the user: a terminal table, or JSON for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, Protocol


class Result(Protocol):
    """A check's outcome, as orchestrator.checks.Result holds it."""

    @property
    def name(self) -> str: ...
    @property
    def where(self) -> str: ...
    @property
    def expect(self) -> str: ...
    @property
    def observed(self) -> str: ...
    @property
    def ok(self) -> bool: ...


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(headers)] + [line(r) for r in rows])


def results_table(results: Sequence[Result]) -> str:
    rows = [("PASS" if r.ok else "FAIL", r.name, r.expect, r.observed, r.where) for r in results]
    passed = sum(r.ok for r in results)
    summary = f"{passed}/{len(results)} checks passed"
    return table(("RESULT", "CHECK", "EXPECTED", "OBSERVED", "WHERE"), rows) + "\n" + summary


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
