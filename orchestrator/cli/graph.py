"""gwlab graph [-o svg|mermaid|dot] [-w FILE] [--live]: a picture of the lab."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("graph", help="a picture of the lab (nodes, links, addresses; --live: BGP, routes, pods, gateway)")
    common(p)
    p.add_argument("-o", "--output", choices=["mermaid", "dot", "svg"], default=None,
                   help="format (default: svg when -w FILE ends in .svg, dot for .dot/.gv, else mermaid)")
    p.add_argument("-w", "--write", metavar="FILE", help="write the picture to FILE instead of stdout")
    p.add_argument("--live", action="store_true",
                   help="draw the running lab: BGP sessions and their state, LoadBalancer routes and next hops, "
                        "pods on their nodes, the gateway's path to its backends")
    p.set_defaults(run=run, needs_root=False)


def _format(args: argparse.Namespace) -> str:
    if args.output:
        return str(args.output)
    suffix = Path(args.write).suffix.lower() if args.write else ""
    return {".svg": "svg", ".dot": "dot", ".gv": "dot"}.get(suffix, "mermaid")


def run(args: argparse.Namespace) -> int:
    import os

    from orchestrator import lab
    from orchestrator.errors import LabError
    from orchestrator.fsutil import atomic_write
    from orchestrator.graph import model, render

    if args.live:
        if os.geteuid() != 0:
            raise LabError("--live reads the lab's BIRD and pods, which needs root; run it with sudo")
        graph = model.live(lab.open_lab(args.topo, args.lab))
    else:
        graph = model.static(lab.load_topology(args.topo, args.lab))
    text = render.RENDERERS[_format(args)](graph)
    if args.write:
        atomic_write(Path(args.write), text, 0o644)
        print(f"wrote {args.write} ({_format(args)}, {len(graph.nodes)} nodes, {len(graph.edges)} edges)")
    else:
        sys.stdout.write(text)
    return 0
