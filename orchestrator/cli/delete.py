"""gwlab delete -f FILE | KIND NAME | KIND/NAME: remove objects, as kubectl delete does."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("delete", help="delete objects (by file, or KIND NAME)")
    common(p)
    p.add_argument("target", nargs="?", help="KIND or KIND/NAME")
    p.add_argument("names", nargs="*", help="object names")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE")
    p.add_argument("-n", "--namespace", default="default")
    p.add_argument("--ignore-not-found", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import cluster, lab, manifests
    from orchestrator.errors import LabError
    from orchestrator.k8s import api

    running = lab.open_lab(args.topo, args.lab)
    stored = {cluster.key(d): d for d in cluster.Store(running.topo.name).load()}
    wanted: list[tuple[str, str, str]] = []
    if args.filename:
        wanted = [cluster.key(d) for d in manifests.read_documents([Path(f) for f in args.filename])]
    elif args.target:
        kind_name, _, one = args.target.partition("/")
        kind = api.kind_of(kind_name)
        if kind.virtual:
            raise LabError("pods belong to their Deployment here: scale or delete the Deployment")
        names = ([one] if one else []) + args.names
        if not names:
            raise LabError(f"name the {kind.aliases[0]} to delete: gwlab delete {kind.aliases[0]} NAME")
        wanted = [(kind.kind, args.namespace, n) for n in names]
    else:
        raise LabError("give -f FILE or KIND NAME")
    missing = [k for k in wanted if k not in stored]
    if missing and not args.ignore_not_found:
        raise LabError("not found: " + ", ".join(f"{k[0].lower()} {k[2]!r} (namespace {k[1]})" for k in missing))
    result = running.apply([], [k for k in wanted if k in stored])
    for line in result.lines():
        print(line)
    return 0
