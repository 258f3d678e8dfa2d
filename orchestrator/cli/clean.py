"""gwlab clean: remove whatever any run of gwlab left on this host, found by our names and state."""

from __future__ import annotations

import argparse



def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("clean", help="remove every lab and leftover of gwlab on this host")
    p.add_argument("--lab", metavar="NAME", help="only this lab")
    p.add_argument("-v", "--verbose", action="store_true", help="list what was removed")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator.teardown import teardown
    from orchestrator.state import LabState, labs_on_host

    labs = [args.lab] if args.lab else labs_on_host()
    total = 0
    for name in labs:
        removed = teardown(name, LabState.load(name))
        total += len(removed)
        if args.verbose:
            for item in removed:
                print(f"removed {item}")
        print(f"lab {name}: removed {len(removed)} items")
    if not labs:
        print("nothing of gwlab's on this host")
    return 0
