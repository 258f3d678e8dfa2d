"""gwlab bird ...: work on a node's BIRD: stop, start, restart it; validate and push a bird.conf; edit
the bastion's import filter as data.

  gwlab bird validate FILE [--node NODE] [--bird 1|2] [--routes FILE] [--parse-only] [--json]
      exit 0 clean, 1 errors, 3 warnings only (leaks, losses)
  gwlab bird push FILE [--node NODE] [--timeout S] [--force] [--json]
      exit 0 confirmed (or nothing to push), 1 refused for errors, 3 refused for warnings,
      4 applied then rolled back by failing checks
  gwlab bird filter show | add CIDR | remove CIDR [--force] [--timeout S] [--dry-run] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.cli import common

if TYPE_CHECKING:
    from orchestrator.bastion import PushOutcome
    from orchestrator.state import LabState
    from orchestrator.topology import Topology


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bird", help="a node's BIRD: stop/start/restart, validate and push a bird.conf, the filter")
    verbs = p.add_subparsers(dest="bird_verb", metavar="ACTION", required=True)
    for action, text in (("stop", "stop the node's BIRD (SIGTERM: its peers see the session close)"),
                         ("start", "start the node's BIRD on its current config"),
                         ("restart", "stop, then start the node's BIRD")):
        a = verbs.add_parser(action, help=text)
        common(a)
        a.add_argument("node", help="bastion, control1, worker1, ... or a topology node name")
        a.set_defaults(run=run, action=action)

    v = verbs.add_parser("validate", help="check a bird.conf: BIRD's parser, the route-policy test, the diff")
    common(v)
    v.add_argument("file", help="the candidate bird.conf")
    v.add_argument("--node", help="the router it is meant for (default: the bastion)")
    v.add_argument("--bird", choices=["1", "2"], help="BIRD dialect (default: the node's; without a lab, 1)")
    v.add_argument("--routes", metavar="FILE",
                   help="test these prefixes (one a line, optionally followed by the peers sending it) "
                        "instead of what the lab's nodes advertise; works without a lab")
    v.add_argument("--parse-only", action="store_true", help="skip the route-policy test")
    v.add_argument("--no-lab", action="store_true",
                   help="validate outside any lab, even when one is up (the declared ranges are then the "
                        "workshop's, from lab/manifests/calico)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(run=run_validate, needs_root=False)

    u = verbs.add_parser("push", help="validate, then push a bird.conf safely (confirm or roll back)")
    common(u)
    u.add_argument("file", help="the new bird.conf")
    u.add_argument("--node", help="the router to push to (default: the bastion)")
    _push_options(u)
    u.set_defaults(run=run_push)

    f = verbs.add_parser("filter", help="the bastion's import filter as data: show, add or remove a prefix")
    fverbs = f.add_subparsers(dest="filter_verb", metavar="ACTION", required=True)
    s = fverbs.add_parser("show", help="the prefixes the bastion accepts")
    common(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=run_filter, op="show")
    for op, text in (("add", "accept CIDR too (the workshop's sed)"), ("remove", "stop accepting CIDR")):
        a = fverbs.add_parser(op, help=text)
        common(a)
        a.add_argument("cidr")
        _push_options(a)
        a.add_argument("--dry-run", action="store_true", help="validate only; change nothing")
        a.set_defaults(run=run_filter, op=op)


def _push_options(p: argparse.ArgumentParser) -> None:
    from orchestrator.bird.push import UNDO_TIMEOUT

    p.add_argument("--timeout", type=int, default=UNDO_TIMEOUT, metavar="S",
                   help=f"`configure timeout S`: BIRD undoes the change by itself after S s unless confirmed "
                        f"(default {UNDO_TIMEOUT})")
    p.add_argument("--force", action="store_true",
                   help="push despite leaks or losses (the lab's checks still roll it back if they fail)")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from orchestrator import lab

    running = lab.open_lab(args.topo, args.lab)
    engine = running.engine
    name = running.topo.node(args.node).name
    if args.action in ("stop", "restart"):
        stopped = engine.stop_bird(name)
        print(f"BIRD on {name} {'stopped' if stopped else 'was not running'}")
    if args.action in ("start", "restart"):
        engine.restart_bird(name)
        print(f"BIRD on {name} started")
    return 0


def _lab_state(args: argparse.Namespace) -> tuple[Topology, LabState] | None:
    """The lab named (or the default one) when it is up, read without starting its engine (validate
    --parse-only stays fast); None when no lab is named and none is up."""
    from orchestrator import topology
    from orchestrator.errors import LabError
    from orchestrator.state import LabState

    name = args.lab or topology.load(args.topo or topology.DEFAULT_PATH).name
    state = LabState.load(name)
    if state is None:
        if args.lab:
            raise LabError(f"lab {name!r} is not up (fix: `gwlab up --lab {name}`, or drop --lab to "
                           "validate without a lab)")
        return None
    return topology.load(state.topology).with_name(name), state


def _needs_root(what: str) -> None:
    from orchestrator.errors import LabError

    if os.geteuid() != 0:
        raise LabError(f"{what} needs root (it runs BIRD in scratch network namespaces); run it with sudo, "
                       "or add --parse-only")


def run_validate(args: argparse.Namespace) -> int:
    from orchestrator import bastion
    from orchestrator.bird.validate import Diagnostic, Target, read_routes, validate
    from orchestrator.errors import LabError

    if args.no_lab and args.node:
        raise LabError("--node names a router of a lab, and --no-lab says there is none (fix: drop one)")
    found = None if args.no_lab else _lab_state(args)
    routes = None
    routes_problems: list[Diagnostic] = []
    if args.routes:
        routes, routes_problems = read_routes(Path(args.routes), args.routes)
    if found is not None:
        topo, state = found
        engine, plan = None, None
        if not args.parse_only and (args.node is None or topo.node(args.node) is topo.bastion):
            _needs_root("the route-policy test")  # it reads the nodes' control sockets, then runs scratch BIRDs
            from orchestrator import lab

            opened = lab.open_lab(args.topo, topo.name)
            engine, plan = opened.engine, opened.plan
        target = bastion.lab_target(topo, state, engine, args.node, plan)
        if args.bird and args.bird != target.dialect:
            raise LabError(f"{target.node} of lab {topo.name} runs BIRD {'1.6' if target.dialect == '1' else 2}"
                           f"; --bird {args.bird} does not match (fix: drop --bird)")
    else:
        if args.node:
            raise LabError("--node names a router of a running lab, and no lab is up "
                           "(fix: `gwlab up`, or drop --node)")
        target = Target(node="", dialect=args.bird or "1", policy=routes is not None,
                        declared=bastion.workshop_ranges(),
                        declared_from="the workshop's, from lab/manifests/calico: no lab")
    wants_policy = not args.parse_only and target.policy
    if routes_problems:  # every problem at once: the config is still read and parsed
        rep = validate(Path(args.file), target, args.file, None, run_policy=False)
        rep.errors = routes_problems + rep.errors
    else:
        if wants_policy:
            _needs_root("the route-policy test")
        rep = validate(Path(args.file), target, args.file, routes, run_policy=not args.parse_only)
    if args.json:
        import json

        print(json.dumps(rep.as_dict(), indent=2))
    else:
        print(rep.render())
    return rep.exit_code


def _print_push(out: PushOutcome, as_json: bool) -> int:
    from orchestrator import report

    if as_json:
        report.print_json(out.as_dict())
        return out.exit_code
    print(out.report.render())
    r = out.result
    if r is None:
        print(f"push to {out.node}: {out.refused}")
        return out.exit_code
    for step in r.steps:
        print(f"  {step}")
    print(report.results_table(r.results))
    if r.confirmed:
        kept = ("every BGP session kept" if not out.sessions_reset
                else "BGP sessions re-made: " + ", ".join(out.sessions_reset))
        print(f"pushed to {out.node} and confirmed ({out.seconds:.2f} s; {kept})")
    else:
        failed = "; ".join(f"{c.name}: {c.observed}" for c in r.failed) or "BIRD undid it before the confirm"
        print(f"rolled back on {out.node}: the old config runs again. What failed: {failed}")
        if r.restored:
            back = all(c.ok for c in r.restored)
            print(f"after the undo, {'every check that held before holds again' if back else 'still failing: '}"
                  + ("" if back else "; ".join(f"{c.name}: {c.observed}" for c in r.restored if not c.ok)))
    return out.exit_code


def _check_timeout(args: argparse.Namespace) -> None:
    from orchestrator.bastion import CHECK_WAIT, SETTLE_WAIT
    from orchestrator.errors import LabError

    least = int(CHECK_WAIT + SETTLE_WAIT) + 4
    if not least <= args.timeout <= 3600:
        raise LabError(f"--timeout {args.timeout}: BIRD must not undo the change before the checks end, which "
                       f"can take {CHECK_WAIT + SETTLE_WAIT:g} s (fix: give {least} to 3600 seconds)")


def run_push(args: argparse.Namespace) -> int:
    from orchestrator import bastion, lab

    _check_timeout(args)
    running = lab.open_lab(args.topo, args.lab)
    out = bastion.push_config(running, Path(args.file), args.node, display=args.file, force=args.force,
                              timeout=args.timeout)
    return _print_push(out, args.json)


def run_filter(args: argparse.Namespace) -> int:
    from orchestrator import bastion, lab, report

    running = lab.open_lab(args.topo, args.lab)
    if args.op == "show":
        accepted = bastion.accepted_now(running)
        if args.json:
            report.print_json({"managed": accepted is not None,
                               "accepted": [str(a) for a in accepted] if accepted is not None else None,
                               "config": str(running.bastion_conf)})
        elif accepted is None:
            print(f"the bastion's config ({running.bastion_conf}) was pushed by hand: its filter is not data")
        else:
            print(f"the bastion's import filter accepts (rendered from bird/{bastion.template_name(running)}):")
            for a in accepted:
                print(f"  {a}")
        return 0
    cidr = bastion.parse_cidr(args.cidr)
    _check_timeout(args)
    current = bastion.managed_filter(running)
    if args.op == "add":
        if cidr in current:
            print(f"{cidr} is already accepted: nothing to do")
            return 0
        new = current + (cidr,)
    else:
        if cidr not in current:
            print(f"gwlab: error: {cidr} is not in the bastion's filter (it accepts {', '.join(map(str, current))})",
                  file=sys.stderr)
            return 1
        new = tuple(a for a in current if a != cidr)
    text = running.bastion_config(new).render()
    name = f"bird/{bastion.template_name(running)} accepting " + (", ".join(map(str, new)) or "nothing")
    if args.dry_run:
        from orchestrator.bird.validate import validate

        rep = validate(text, bastion.lab_target(running.topo, running.state, running.engine, None,
                                                     running.plan), name)
        if args.json:
            report.print_json(rep.as_dict())
        else:
            print(rep.render())
        return rep.exit_code
    out = bastion.push_config(running, text, None, display=name, force=args.force, timeout=args.timeout,
                              accepted=new)
    return _print_push(out, args.json)
