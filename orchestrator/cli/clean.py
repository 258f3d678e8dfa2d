"""gwlab clean: remove whatever any run of gwlab left on this host, found by our names and state."""

from __future__ import annotations

import argparse

from orchestrator.cli import lab_name



def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("clean", help="remove every lab and leftover of gwlab on this host")
    p.add_argument("--lab", metavar="NAME", type=lab_name, help="only this lab")
    p.add_argument("-v", "--verbose", action="store_true", help="list what was removed")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from orchestrator.state import changing

    # Every lab: no command may change one meanwhile. One lab: teardown takes that lab's lock.
    with nullcontext() if args.lab else changing():
        return _clean(args)


def _clean(args: argparse.Namespace) -> int:
    from orchestrator.engines.clab import leftovers
    from orchestrator.errors import LabError
    from orchestrator.engines.netns.teardown import teardown
    from orchestrator.engines.netns.teardown import labs_on_host
    from orchestrator.state import LabState

    docker = leftovers.local_docker()  # None, quietly, when no Docker engine answers
    labs = [args.lab] if args.lab else sorted(set(labs_on_host()) | leftovers.labs(docker))
    total = 0
    failed = 0
    for name in labs:
        state = LabState.load(name)
        try:
            removed = leftovers.clean(name, state, docker) + teardown(name, state)
        except LabError as exc:
            print(f"lab {name}: not removed: {exc}")
            failed += 1
            continue
        total += len(removed)
        if args.verbose:
            for item in removed:
                print(f"removed {item}")
        print(f"lab {name}: removed {len(removed)} items")
    if not labs:
        print("nothing of gwlab's on this host")
    return 1 if failed else 0
