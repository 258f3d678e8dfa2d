"""How results reach the user: a terminal table, or JSON for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from orchestrator.columns import table as table  # report.table is the one layout


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


def results_table(results: Sequence[Result]) -> str:
    # A check that cannot be judged while a fault is injected says so (getattr: push results have no such field).
    rows = [("PASS" if r.ok else "FAIL" if getattr(r, "judged", True) else "N/A", r.name, r.expect, r.observed,
             r.where) for r in results]
    passed = sum(r.ok for r in results)
    unjudged = sum(not r.ok and not getattr(r, "judged", True) for r in results)
    summary = f"{passed}/{len(results)} checks passed" + (f", {unjudged} not judged while a fault is injected"
                                                          if unjudged else "")
    return table(("RESULT", "CHECK", "EXPECTED", "OBSERVED", "WHERE"), rows) + "\n" + summary


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
