"""gwlab get ARGS...: `kubectl get ARGS...` against the lab's API server (see orchestrator.cli.kubectl)."""

from __future__ import annotations

import argparse

from orchestrator.cli import common, kubectl


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("get", help="show objects of the lab's cluster (kubectl get, run from the bastion)")
    common(p)
    p.add_argument("args", nargs=argparse.REMAINDER, help="kubectl get's arguments, as written")
    p.set_defaults(run=lambda a: kubectl.run(a.lab, a.topo, ["get", *a.args], replace=False))
