"""The whole validation: read, parse check, diff, and the route-policy test turned into per-prefix rows
and findings (leaks, losses, sessions that would not come up)."""

from __future__ import annotations

import os
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.bird import conftext


from orchestrator.bird.validate.parse_check import parse_check, unified_diff
from orchestrator.bird.validate.reading import RoutesSpec, content_problems, read_candidate
from orchestrator.bird.validate.report import Diagnostic, PolicyReport, RouteRow, Target, ValidationReport

if TYPE_CHECKING:
    from orchestrator.bird.policy import FedRoute, Feeder, PolicyRun


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
