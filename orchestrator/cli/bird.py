"""gwlab bird ...: work on a node's BIRD: stop, start, restart it."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bird", help="stop, start or restart a node's BIRD")
    verbs = p.add_subparsers(dest="bird_verb", metavar="ACTION", required=True)
    for action, text in (("stop", "stop the node's BIRD (SIGTERM: its peers see the session close)"),
                         ("start", "start the node's BIRD on its current config"),
                         ("restart", "stop, then start the node's BIRD")):
        a = verbs.add_parser(action, help=text)
        common(a)
        a.add_argument("node", help="bastion, control1, worker1, ... or a topology node name")
        a.set_defaults(run=run, action=action)


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
