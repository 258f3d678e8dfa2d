"""gwlab exec NODE -- CMD...: run a command inside a node's network namespace."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("exec", help="run a command inside a node")
    common(p)
    p.add_argument("node")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import lab

    from orchestrator.errors import LabError

    argv = _own_options(args, list(args.command))
    if not argv:
        raise LabError("give a command after --, e.g. gwlab exec bastion -- ip route")
    running = lab.open_lab(args.topo, args.lab)
    try:
        return running.engine.exec(args.node, argv).returncode
    except FileNotFoundError:
        raise LabError(f"no command {argv[0]!r} on node {args.node} (fix: check its spelling, or give its "
                       "full path)") from None
    except PermissionError:
        raise LabError(f"{argv[0]!r} on node {args.node} is not executable (fix: give an executable)") from None


def _own_options(args: argparse.Namespace, rest: list[str]) -> list[str]:
    """--lab and -t given after the node (`gwlab exec bastion --lab x -- true`) are exec's own: the
    command is what follows `--`, or everything when there is no `--`."""
    from orchestrator.cli import lab_name

    while rest and rest[0] != "--":
        opt = rest[0]
        if opt in ("--lab", "-t", "--topo") and len(rest) > 1:
            value, rest = rest[1], rest[2:]
        elif opt.startswith(("--lab=", "--topo=")):
            opt, value = opt.split("=", 1)
            rest = rest[1:]
        else:
            return rest
        if opt == "--lab":
            try:
                args.lab = lab_name(value)
            except argparse.ArgumentTypeError as exc:
                from orchestrator.errors import LabError

                raise LabError(str(exc)) from None
        else:
            args.topo = value
    return rest[1:]
