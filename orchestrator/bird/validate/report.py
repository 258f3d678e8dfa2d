"""What a validation found and how it is shown: diagnostics (file:line:col, the line, a caret), the
route-policy table, the verdict and exit code, JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import columns

if TYPE_CHECKING:
    from orchestrator.bird.policy import Feeder, ScratchNet


EXIT_OK, EXIT_ERRORS, EXIT_WARNINGS = 0, 1, 3
DIALECT_NAMES = {"1": "BIRD 1.6", "2": "BIRD 2"}


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # error | warning
    kind: str  # unreadable, binary, empty, not-bird, parse, dialect, policy, routes-file, leak, loss, session
    file: str
    message: str
    line: int | None = None
    col: int | None = None
    source: str | None = None  # the offending line, for the caret
    fix: str = ""

    def render(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "") + (f":{self.col}" if self.line and self.col else "")
        out = f"{where}: {self.severity}: {self.message}"
        if self.source is not None:
            text = self.source.expandtabs(8)
            col = len(self.source[:max((self.col or 1) - 1, 0)].expandtabs(8))
            out += f"\n    {text}\n    {' ' * col}^"
        if self.fix:
            out += f"\n    fix: {self.fix}"
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "kind": self.kind, "file": self.file, "line": self.line,
                "col": self.col, "message": self.message, "source": self.source, "fix": self.fix}


@dataclass(frozen=True)
class Target:
    """What a candidate is checked against: the router that would run it and the lab around it."""

    node: str  # bastion, control1, ... ("" without a lab)
    dialect: str  # "1" or "2"
    lab: str | None = None
    running_path: Path | None = None
    running_text: str | None = None
    policy: bool = False  # whether the route-policy test applies (the bastion's import side)
    net: ScratchNet | None = None
    feeders: tuple[Feeder, ...] | None = None  # the lab's nodes and the routes they advertise now
    declared: tuple[IPv4Network, ...] = ()  # pod and LoadBalancer pools
    declared_from: str = ""  # where `declared` was read
    probe_extra: tuple[IPv4Network, ...] = ()  # e.g. the router's own segment
    workdir: Path | None = None  # where scratch files go (the lab's run directory)

    @property
    def router(self) -> str:
        name = DIALECT_NAMES[self.dialect]
        return f"{self.node} of lab {self.lab} ({name})" if self.lab else name


@dataclass(frozen=True)
class RouteRow:
    prefix: IPv4Network
    probe: bool
    sent_by: tuple[str, ...]
    before: tuple[str, ...] | None  # the feeders whose route the running config accepts (None: no running config)
    after: tuple[str, ...]
    leak: bool
    lost: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"prefix": str(self.prefix), "probe": self.probe, "from": list(self.sent_by),
                "accepted_before": None if self.before is None else list(self.before),
                "accepted_after": list(self.after), "leak": self.leak, "lost_from": list(self.lost)}


@dataclass(frozen=True)
class PolicyReport:
    source: str  # where the routes came from
    rows: list[RouteRow]
    sessions: dict[str, dict[str, Any]]  # feeder -> {before, after} session outcomes
    notes: list[str]
    seconds: float


@dataclass
class ValidationReport:
    file: str
    target: Target
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    policy: PolicyReport | None = None
    diff: str | None = None
    text: str | None = None  # the candidate as read
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_ERRORS if self.errors else EXIT_WARNINGS if self.warnings else EXIT_OK

    @property
    def verdict(self) -> str:
        if self.errors:
            return f"{len(self.errors)} error(s)" + (f", {len(self.warnings)} warning(s)" if self.warnings else "")
        if self.warnings:
            kinds: dict[str, int] = {}
            for w in self.warnings:
                kinds[w.kind] = kinds.get(w.kind, 0) + 1
            return f"{len(self.warnings)} warning(s) (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")"
        return "clean"

    def as_dict(self) -> dict[str, Any]:
        t = self.target
        out: dict[str, Any] = {
            "file": self.file, "lab": t.lab, "node": t.node or None, "bird": t.dialect,
            "exit": self.exit_code, "verdict": self.verdict,
            "errors": [d.as_dict() for d in self.errors], "warnings": [d.as_dict() for d in self.warnings],
            "notes": self.notes, "diff": self.diff, "timings": self.timings,
            "declared_ranges": [str(r) for r in t.declared],
        }
        if self.policy is not None:
            out["routes"] = [r.as_dict() for r in self.policy.rows]
            out["sessions"] = self.policy.sessions
        return out

    def render(self) -> str:
        lines = [f"validate {self.file} for {self.target.router}"]
        parse_t = self.timings.get("parse")
        if parse_t is not None:
            failed = any(d.kind in ("parse", "dialect", "not-bird") for d in self.errors)
            lines.append(f"parse check (bird -p, {DIALECT_NAMES[self.target.dialect]}): "
                         f"{'failed' if failed else 'ok'} ({parse_t:.3f} s)")
        if self.policy is not None:
            lines.append(_policy_table(self.policy, self.target))
        lines += [f"note: {n}" for n in self.notes]
        if self.diff is not None:
            lines.append("diff, running -> candidate (information):")
            lines.append(self.diff.rstrip("\n") if self.diff else "  (no change)")
        for d in self.errors + self.warnings:
            lines.append(d.render())
        lines.append(f"verdict: {self.verdict} (exit {self.exit_code})")
        return "\n".join(lines)


def _names(names: tuple[str, ...] | None, everyone: tuple[str, ...]) -> str:
    if names is None:
        return "-"
    if not names:
        return "filtered"
    if set(names) >= set(everyone):
        return "accepted"
    return "accepted from " + ",".join(names)


def _policy_table(p: PolicyReport, target: Target) -> str:
    head = (f"route-policy test ({p.seconds:.2f} s): {p.source}, and probes outside the declared ranges "
            f"{', '.join(map(str, target.declared)) or '(none)'} ({target.declared_from})")
    rows = []
    for r in p.rows:
        note = []
        if r.leak:
            note.append("LEAK")
        if r.lost:
            note.append("LOSS from " + ",".join(r.lost))
        rows.append((str(r.prefix) + (" (probe)" if r.probe else ""),
                     ",".join(r.sent_by) if not r.probe else "every node",
                     _names(r.before, r.sent_by), _names(r.after, r.sent_by), " ".join(note)))
    layout = columns.table(("PREFIX", "FROM", "BEFORE", "AFTER", "FLAG"), rows) if rows else "  (no routes)"
    sessions = []
    for name, s in p.sessions.items():
        after = s.get("after") or {}
        if not after.get("established"):
            sessions.append(f"session {name}: not established with the candidate: {after.get('problem')}")
    return "\n".join([head, layout, *sessions, *p.notes])


