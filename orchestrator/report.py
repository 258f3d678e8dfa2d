"""How results reach the user: a terminal table, or JSON for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from orchestrator.checks import Result
from orchestrator.columns import table as table


def results_table(results: Sequence[Result]) -> str:
    rows = [("PASS" if r.ok else "FAIL", r.name, r.expect, r.observed, r.where) for r in results]
    passed = sum(r.ok for r in results)
    summary = f"{passed}/{len(results)} checks passed"
    return table(("RESULT", "CHECK", "EXPECTED", "OBSERVED", "WHERE"), rows) + "\n" + summary


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
