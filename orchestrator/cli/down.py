"""gwlab down: stop the lab's daemons by PID and remove its namespaces and files. Idempotent."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("down", help="remove the lab")
    common(p)
    p.add_argument("-v", "--verbose", action="store_true", help="list what was removed")
    p.add_argument("--engine", choices=["netns", "clab"],
                   help="the engine that runs the lab (default: the one its state file records, else netns)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import topology
    from orchestrator.state import LabState

    from orchestrator.engines.netns.teardown import teardown

    name = args.lab or topology.load(args.topo or topology.DEFAULT_PATH).name
    state = LabState.load(name)
    engine = args.engine or (state.engine if state else "netns")
    if engine == "netns":
        removed = teardown(name, state)
    else:
        from orchestrator.engines import get_engine
        from orchestrator.topology import load_named as load_topology

        topo = load_topology(args.topo, name)
        removed = get_engine(engine, topo, state or LabState(name, engine, str(topo.path.resolve()))).down()
    if args.verbose:
        for item in removed:
            print(f"removed {item}")
    print(f"lab {name}: removed {len(removed)} items" if removed else f"lab {name}: nothing to remove")
    return 0
