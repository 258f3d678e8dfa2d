"""gwlab shell [NODE] [-c CMD]: a root shell inside a node's namespace where the workshop's commands run
as written (kubectl, sudo birdc, /etc/bird/bird.conf, sudo systemctl restart bird, curl, openssl, watch)."""

from __future__ import annotations

import argparse
import signal
import subprocess

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("shell", help="a shell inside a node (default: the bastion) where the workshop runs as written")
    common(p)
    p.add_argument("node", nargs="?", help="bastion (the default), control1, worker1, ... or a topology node name")
    p.add_argument("-c", dest="command", metavar="CMD", help="run CMD in that shell and exit with its status")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import lab, shell
    from orchestrator.engines.netns import namespaces
    from orchestrator.errors import LabError
    from orchestrator.state import ns_name

    running = lab.open_lab(args.topo, args.lab)
    if running.state.engine != "netns":
        raise LabError(f"lab {running.topo.name} runs on the {running.state.engine} engine: `gwlab shell` "
                       "needs the netns engine (fix: `docker exec -it` into its bastion container)")
    topo = running.topo
    node = topo.node(args.node).name if args.node else topo.bastion.name
    if not namespaces.exists(ns_name(topo.name, node)):
        raise LabError(f"node {node} of lab {topo.name} is not up (fix: `gwlab up --lab {topo.name}`)")
    dialect = running.state.bastion_bird if node == topo.bastion.name else "1"
    plan = shell.prepare(topo, node, dialect, running.files)
    if args.command is not None:
        plan = shell.one_command(plan, args.command)
    else:
        print(f"gwlab shell: lab {topo.name}, node {node} (exit or Ctrl-D to leave)", flush=True)
    # Ctrl-C belongs to the shell and what runs in it, not to gwlab waiting for it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run(plan.argv, env=plan.env, cwd=plan.cwd, check=False,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)).returncode
    finally:
        signal.signal(signal.SIGINT, previous)
