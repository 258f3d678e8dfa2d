"""gwlab's command line: one module per verb, each with add(subparsers) and run(args) -> exit code."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from orchestrator.errors import LabError, ValidationFailed

VERBS = ("up", "down", "clean", "status", "verify", "birdc", "exec", "apply", "bird", "get", "delete", "patch",
         "scale", "certs", "create", "capture", "trace", "netem", "fault", "failover", "shell", "graph", "egctl", "kubectl")


def command_name() -> str:
    """How the user can call this gwlab: `gwlab` when that is what PATH finds, else its full path."""
    import shutil
    from pathlib import Path

    mine = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0].endswith("gwlab") else None
    found = shutil.which("gwlab")
    if mine is None or (found and Path(found).resolve() == mine):
        return "gwlab"
    return str(Path(sys.argv[0]).absolute())


def lab_name(value: str) -> str:
    """--lab's type: an empty name is refused here (it would otherwise mean the default lab)."""
    from orchestrator.errors import LabError
    from orchestrator.rundir import check_lab_name

    try:
        return check_lab_name(value)
    except LabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-t", "--topo", metavar="FILE", help="topology file (default: the project's topology.clab.yml)")
    parser.add_argument("--lab", metavar="NAME", type=lab_name, default=os.environ.get("GWLAB_LAB"),
                        help="lab name (default: the topology's name; env GWLAB_LAB)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gwlab", description="The 'Calico Ingress Gateway - TLS Passthrough' workshop as a network lab.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        import_module(f"orchestrator.cli.{verb}").add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    kubectl = import_module("orchestrator.cli.kubectl")  # it imports `common` from here
    found = kubectl.split(sys.argv[1:] if argv is None else argv)
    if found is not None:  # kubectl's arguments are kubectl's: no parser of ours sees them
        try:
            lab, topo, args, pure = found
            # `gwlab kubectl` becomes kubectl; gwlab's own verbs also wait for the controllers and report
            return int(kubectl.run(lab, topo, args, replace=argv is None and pure))
        except LabError as exc:
            print(f"gwlab: error: {exc}", file=sys.stderr)
            return 1
    args = build_parser().parse_args(argv)
    if os.geteuid() != 0 and getattr(args, "needs_root", True):
        print("gwlab: this verb needs root (network namespaces); run it with sudo", file=sys.stderr)
        return 1
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # The reader of our output left (`gwlab verify --json | head -1`): nothing more to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("gwlab: output closed early (the command reading it exited); the verb's work is done",
              file=sys.stderr)
        return 141
    except ValidationFailed as exc:
        print(f"gwlab: {exc}", file=sys.stderr)
        return 2
    except LabError as exc:
        print(f"gwlab: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"gwlab: error: {exc.strerror or exc}{where} (fix: check that path and that the lab is up: "
              "`gwlab status`)", file=sys.stderr)
        return 1
    except Exception as exc:  # the last resort: one line, never a traceback unless asked for
        if os.environ.get("GWLAB_DEBUG"):
            raise
        print(f"gwlab: internal error: {type(exc).__name__}: {exc} (this is a bug; GWLAB_DEBUG=1 shows "
              "the traceback)", file=sys.stderr)
        return 70
    except KeyboardInterrupt:
        print("gwlab: interrupted", file=sys.stderr)
        # Exit at once, as a shell expects after Ctrl-C: what was started is already removed, and an
        # interrupt noted inside a library's callback would otherwise make Python kill itself
        # with SIGINT at shutdown (exit status -2 instead of 130).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
