"""Validation of a bird.conf before it reaches a router: readable, a BIRD config, parsed by the real
BIRD of the router's dialect, and (the route-policy test) run in a scratch BIRD fed the routes the
lab's nodes advertise now, to tell per prefix what the change accepts and filters.

Errors (the file cannot be pushed): unreadable, not text, empty, not a BIRD config, BIRD's parse
error (with the dialect the file is written in when it is the other one), a route-policy test that
cannot run. Warnings (pushed only with --force): leaks (a prefix outside the lab's declared ranges
accepted) and losses (a route accepted now that would be filtered, a session that would not come
up). The diff against the running config is information.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from orchestrator.bird import binaries, conftext
from orchestrator.columns import table
from orchestrator.errors import LabError

if TYPE_CHECKING:
    from orchestrator.bird.policy import FedRoute, Feeder, PolicyRun, ScratchNet

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
    table = table(("PREFIX", "FROM", "BEFORE", "AFTER", "FLAG"), rows) if rows else "  (no routes)"
    sessions = []
    for name, s in p.sessions.items():
        after = s.get("after") or {}
        if not after.get("established"):
            sessions.append(f"session {name}: not established with the candidate: {after.get('problem')}")
    return "\n".join([head, table, *sessions, *p.notes])


# ---------------------------------------------------------------- reading

def read_candidate(path: Path, display: str) -> tuple[str | None, list[Diagnostic]]:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        return None, [Diagnostic("error", "unreadable", display, "is a directory, not a file",
                                 fix="give the path of the bird.conf file")]
    except OSError as exc:
        return None, [Diagnostic("error", "unreadable", display, f"cannot be read: {exc.strerror or exc}",
                                 fix="check the path and its permissions")]
    if b"\0" in raw:
        return None, [Diagnostic("error", "binary", display, "is a binary file, not a BIRD config",
                                 fix="give the bird.conf text file")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return None, [Diagnostic("error", "binary", display, f"is not UTF-8 text (byte {exc.start}), "
                                 "not a BIRD config", line=line, fix="give the bird.conf text file")]
    return text, []


def content_problems(text: str, display: str) -> list[Diagnostic]:
    if not conftext.has_statements(text):
        what = "is empty" if not text.strip() else "holds only comments"
        return [Diagnostic("error", "empty", display, f"{what}: a router given it would stop every protocol "
                           "(BIRD: \"No protocol is specified in the config file\")",
                           fix="give the whole bird.conf (router id, protocols, filters)")]
    return []


# ---------------------------------------------------------------- parse check

def _bird_parse(bird: Path, conf: Path) -> tuple[bool, str]:
    out = subprocess.run([str(bird), "-p", "-c", str(conf)], capture_output=True, text=True, check=False,
                         timeout=30)
    return out.returncode == 0, (out.stderr or out.stdout).strip()


def _error_location(message: str, copy: Path) -> tuple[str | None, int | None, int | None, str]:
    """`bird: FILE:LINE:COL text` -> (file, line, col, text); file None when it is the copy."""
    body = message.splitlines()[-1] if message else ""
    body = body.removeprefix("bird: ")
    prefix = str(copy) + ":"
    rest = body[len(prefix):] if body.startswith(prefix) else None
    file: str | None = None
    if rest is None:
        head, sep, tail = body.partition(" ")
        parts = head.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return parts[0], int(parts[1]), int(parts[2]), tail
        return "?", None, None, body
    head, _, tail = rest.partition(" ")
    nums = head.split(":")
    if len(nums) == 2 and all(n.isdigit() for n in nums):
        return file, int(nums[0]), int(nums[1]), tail
    return file, None, None, rest


def parse_check(text: str, dialect: str, display: str, source_dir: Path | None, node: str = "the router"
                ) -> list[Diagnostic]:
    """`bird -p -c` of the router's dialect on a copy (logs redirected, includes absolute); its
    error as file:line:col with the line and a caret, and which dialect the file is in if not this one."""
    bird = binaries.bird_binaries(dialect).bird
    work = Path(tempfile.mkdtemp(prefix="gwlab-parse-"))
    try:
        copy = conftext.redirect(text, source_dir, work)
        conf = work / "candidate.conf"
        conf.write_text(copy.text)
        ok, message = _bird_parse(bird, conf)
        if ok:
            return []
        file, line, col, what = _error_location(message, conf)
        source: str | None = None
        if file is None:
            file = display
            lines = text.splitlines()
            if line is not None and col is not None:
                col = copy.original_col(line, col)
            if line is not None and 1 <= line <= len(lines):
                source = lines[line - 1]
        elif line is not None:
            try:
                source = Path(file).read_text(errors="replace").splitlines()[line - 1]
            except (OSError, IndexError):
                source = None
        other = "2" if dialect == "1" else "1"
        fix = "correct the line (BIRD stops at the first error)"
        diags = []
        try:
            other_bird = binaries.bird_binaries(other).bird
        except LabError:
            other_bird = None
        if other_bird is not None and _bird_parse(other_bird, conf)[0]:
            diags.append(Diagnostic(
                "error", "dialect", display,
                f"this is a {DIALECT_NAMES[other]} config, but {node} runs {DIALECT_NAMES[dialect]} "
                f"({DIALECT_NAMES[dialect]} stops at line {line}: {what})", line, col, source,
                fix=f"write it in {DIALECT_NAMES[dialect]}'s dialect" + (
                    " (channel options such as import/export go back into the protocol)" if dialect == "1"
                    else " (import/export go into an ipv4 { } channel)")
                + (", or run the bastion on BIRD 2 (`gwlab up --bastion-bird 2`)" if dialect == "1" else "")))
            return diags
        if not conftext.looks_like_bird(text):
            return [Diagnostic("error", "not-bird", display,
                               f"is not a BIRD config: no line starts like a BIRD statement (protocol, filter, "
                               f"router id, ...); BIRD says: {what}", line, col, source,
                               fix="give the router's bird.conf")]
        if file == display and line is not None and "syntax error" in what:
            fix = _semicolon_hint(text, line, col) or fix
        if file == display:
            what, fix = _undefined(text, what, source, col, fix)
        return [Diagnostic("error", "parse", file, what, line, col, source, fix=fix)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _undefined(text: str, what: str, source: str | None, col: int | None, fix: str) -> tuple[str, str]:
    """BIRD 1.6 says `No such filter.`, BIRD 2 `syntax error, unexpected CF_SYM_UNDEFINED`: name the
    symbol and list what the config defines."""
    if source is None or col is None or not ("CF_SYM_UNDEFINED" in what or what.startswith("No such")):
        return what, fix
    m = _WORD.match(source, col - 1)
    if m is None:
        return what, fix
    word = m.group(0)
    before = source[:col - 1].split()
    kind = before[-1] if before and before[-1] in ("filter", "function", "table", "template", "from") else ""
    masked = conftext.mask_comments(text)
    kinds = {"filter": "filter", "function": "function", "table": "table", "template": "template",
             "from": "template"}
    defined = kinds.get(kind, "filter")
    names = sorted(set(re.findall(rf"^\s*{defined}\s+(?:bgp\s+)?([A-Za-z_][A-Za-z0-9_]*)", masked, re.M)))
    message = f"{defined if kind else 'symbol'} `{word}` is not defined (BIRD: {what.rstrip('.')})"
    hint = f"define {defined} {word}, or use a defined one" + (f": {', '.join(names)}" if names else "")
    return message, hint


def _semicolon_hint(text: str, line: int, col: int | None) -> str:
    """BIRD reports a missing `;` at the next token: when that token starts its line, point at the
    statement before it."""
    lines = conftext.mask_comments(text).splitlines()
    if not 1 <= line <= len(lines) or col is None or lines[line - 1][:col - 1].strip():
        return ""
    for n in range(line - 1, 0, -1):
        prev = lines[n - 1].rstrip()
        if prev.strip():
            if prev[-1] in ";{}":
                return ""
            return f"line {n} ends without `;` (`{prev.strip()}`): add it"
    return ""


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        old_name, new_name))


# ---------------------------------------------------------------- --routes FILE

@dataclass(frozen=True)
class RoutesSpec:
    entries: tuple[tuple[IPv4Network, tuple[str, ...]], ...]  # prefix, peers ("" = every peer)
    name: str = "--routes"

    def for_peer(self, names: tuple[str, ...]) -> list[FedRoute]:
        from orchestrator.bird.policy import FedRoute

        return [FedRoute(p) for p, peers in self.entries if not peers or set(peers) & set(names)]


def read_routes(path: Path, display: str) -> tuple[RoutesSpec | None, list[Diagnostic]]:
    """One route a line: `PREFIX [PEER...]` (PEER: a node or protocol name, or a neighbour address;
    none: every peer sends it); `#` starts a comment."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [Diagnostic("error", "routes-file", display, f"cannot be read: {msg}",
                                 fix="give a text file with one prefix a line")]
    entries: list[tuple[IPv4Network, tuple[str, ...]]] = []
    problems = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        words = line.split()
        if not words:
            continue
        try:
            prefix = IPv4Network(words[0])
        except ValueError:
            col = raw.index(words[0]) + 1
            try:
                hint = f"write {IPv4Network(words[0], strict=False)}"
            except ValueError:
                hint = "write an IPv4 prefix such as 10.10.10.0/26"
            problems.append(Diagnostic("error", "routes-file", display,
                                       f"{words[0]!r} is not an IPv4 prefix with its host bits zero",
                                       n, col, raw, fix=hint))
            continue
        entries.append((prefix, tuple(words[1:])))
    if not entries and not problems:
        problems.append(Diagnostic("error", "routes-file", display, "holds no prefix",
                                   fix="write one prefix a line, e.g. 10.10.10.0/26"))
    return (RoutesSpec(tuple(entries), display) if not problems else None), problems


# ---------------------------------------------------------------- the whole validation

def validate(candidate: Path | str, target: Target, display: str | None = None,
             routes: RoutesSpec | None = None, run_policy: bool = True) -> ValidationReport:
    """`candidate`: a path (read here) or the text itself (rendered by gwlab)."""
    t0 = time.perf_counter()
    if isinstance(candidate, Path):
        name = display or str(candidate)
        rep = ValidationReport(name, target)
        text, problems = read_candidate(candidate, name)
        source_dir: Path | None = candidate.resolve().parent
    else:
        name = display or "(rendered config)"
        rep = ValidationReport(name, target)
        text, problems = candidate, []
        source_dir = target.running_path.parent if target.running_path else None
    rep.errors += problems
    if text is None:
        return rep
    rep.text = text
    rep.errors += content_problems(text, name)
    if rep.errors:
        return rep
    t = time.perf_counter()
    rep.errors += parse_check(text, target.dialect, name, source_dir, target.node or "the router")
    rep.timings["parse"] = time.perf_counter() - t
    if target.running_text is not None:
        rep.diff = unified_diff(target.running_text, text, str(target.running_path or "running"), name)
    if rep.errors:
        return rep
    if not run_policy:
        pass
    elif not target.policy:
        rep.notes.append("route-policy test skipped: it tests the bastion's import side"
                         if target.lab else
                         "route-policy test skipped: no lab is up; give --routes FILE to test prefixes")
    else:
        from orchestrator.bird.policy import PolicyTestError

        t = time.perf_counter()
        try:
            rep.policy = _policy(text, source_dir, target, routes)
        except PolicyTestError as exc:
            rep.errors.append(Diagnostic("error", "policy", name, f"route-policy test could not run: {exc}",
                                         fix="fix the config so that BIRD starts it"))
        rep.timings["policy"] = time.perf_counter() - t
        if rep.policy is not None:
            rep.warnings += _findings(rep.policy, target, name)
    rep.timings["total"] = time.perf_counter() - t0
    return rep


def _policy(text: str, source_dir: Path | None, target: Target, routes: RoutesSpec | None) -> PolicyReport:
    from orchestrator.bird import policy
    from orchestrator.bird.policy import ConfigUnderTest, FedRoute, Feeder

    # Probes: outside the declared ranges, plus every prefix the candidate names (what its filter
    # matches is what it may let in).
    extra = list(target.probe_extra) + conftext.mentioned_prefixes(text)
    probe_prefixes = policy.probes(list(target.declared), extra)
    feeders: list[Feeder] | None = None
    if target.feeders is not None:
        feeders = []
        for f in target.feeders:
            real = list(f.routes) if routes is None else routes.for_peer((f.name, str(f.ip)))
            real_set = {r.prefix for r in real}
            feeders.append(Feeder(f.name, f.ip, f.asn, tuple(real) + tuple(
                FedRoute(p, probe=True) for p in probe_prefixes if p not in real_set), f.expect_as))

    def routes_for(name: str, ip: IPv4Address) -> list[FedRoute]:
        real = routes.for_peer((name, str(ip))) if routes else []
        have = {r.prefix for r in real}
        return real + [FedRoute(p, probe=True) for p in probe_prefixes if p not in have]

    configs = [ConfigUnderTest("candidate", text, source_dir)]
    same = target.running_text is not None and target.running_text == text
    if target.running_text is not None and not same:
        running_dir = target.running_path.parent if target.running_path else source_dir
        configs.append(ConfigUnderTest("running", target.running_text, running_dir))
    t = time.perf_counter()
    runs = policy.run(target.lab or f"validate{os.getpid()}", configs, target.dialect,
                      target.net, feeders, target.workdir, routes_for)
    seconds = time.perf_counter() - t
    after = runs[0]
    before: PolicyRun | None = runs[1] if len(runs) > 1 else (after if same else None)
    source = f"the prefixes of {routes.name}" if routes else "the routes the lab's nodes advertise now"
    return _rows(source, after, before, target, seconds)


def _rows(source: str, after: PolicyRun, before: PolicyRun | None, target: Target, seconds: float
          ) -> PolicyReport:
    sent: dict[tuple[IPv4Network, bool], list[str]] = {}
    order = [f.name for f in after.feeders]
    for f in after.feeders:
        for r in f.routes:
            sent.setdefault((r.prefix, r.probe), []).append(f.name)
    rows = []
    for (prefix, probe), names in sorted(sent.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        acc_after = tuple(n for n in names if after.accepted(n, prefix))
        acc_before = None if before is None else tuple(n for n in names if before.accepted(n, prefix))
        outside = not any(prefix.subnet_of(r) for r in target.declared)
        lost = () if probe or acc_before is None else tuple(n for n in acc_before if n not in acc_after)
        rows.append(RouteRow(prefix, probe, tuple(names), acc_before, acc_after, bool(outside and acc_after), lost))
    sessions: dict[str, dict[str, Any]] = {}
    for name in order:
        entry: dict[str, Any] = {}
        for label, run in (("before", before), ("after", after)):
            if run is None or name not in run.sessions:
                continue
            s = run.sessions[name]
            entry[label] = {"protocol": s.protocol, "established": s.established, "problem": s.problem,
                            "sent": s.sent, "accepted": len(s.accepted)}
        sessions[name] = entry
    notes = after.notes + ([n for n in before.notes if n not in after.notes] if before else [])
    return PolicyReport(source, rows, sessions, notes, seconds)


def _findings(p: PolicyReport, target: Target, name: str) -> list[Diagnostic]:
    out = []
    ranges = ", ".join(map(str, target.declared)) or "(none declared)"
    leaks = [r for r in p.rows if r.leak]
    if leaks:
        listed = "; ".join(f"{r.prefix}" + (" (probe)" if r.probe else f" (advertised by {','.join(r.sent_by)})")
                           + ("" if set(r.after) >= set(r.sent_by) else f" from {','.join(r.after)}")
                           for r in leaks)
        sets = ", ".join(f"{r}+" for r in target.declared)
        out.append(Diagnostic("warning", "leak", name,
                              f"leak: {len(leaks)} prefix(es) outside the lab's declared ranges ({ranges}) would be "
                              f"accepted: {listed}",
                              fix=f"accept only the declared ranges, e.g. `if net ~ [ {sets} ] then accept;`"
                              if sets else "accept only the lab's pools"))
    losses = [r for r in p.rows if r.lost]
    if losses:
        listed = "; ".join(f"{r.prefix} from {','.join(r.lost)}" for r in losses)
        out.append(Diagnostic("warning", "loss", name,
                              f"loss: {len(losses)} route(s) accepted now would be filtered: {listed}",
                              fix="keep accepting them, or push with --force if dropping them is intended"))
    for feeder, s in p.sessions.items():
        before, after = s.get("before"), s.get("after")
        if after and not after["established"] and (before is None or before["established"]):
            out.append(Diagnostic("warning", "session", name,
                                  f"the BGP session with {feeder} would not come up: {after['problem']}",
                                  fix="keep a BGP protocol for every node, with its address and AS"))
    return out
