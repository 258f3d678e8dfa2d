"""gwlab kubectl ARGS...: the real kubectl (the venv's, 1.37.1) inside the bastion's namespace, as the
workshop runs it, with the lab's kubeconfig and a discovery cache in the lab's run directory. Every
argument goes to kubectl untouched (leading flags too: `gwlab kubectl -n bars get pods`); stdin,
stdout and the exit status are kubectl's own.

It runs before gwlab's own parser is built (main's first look at the command line), so a kubectl
command costs only kubectl's time: the process enters the bastion's namespace and becomes kubectl."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING
import os
import subprocess
import sys
from pathlib import Path

from orchestrator.cli import common

if TYPE_CHECKING:
    from orchestrator.rundir import RunDir

KUBECTL = Path(sys.executable).parent / "kubectl"
# gwlab's verbs that are kubectl's: they run kubectl with the same arguments.
KUBECTL_VERBS = ("get", "apply", "patch", "delete", "scale", "create")


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("kubectl", help="the real kubectl, run from the bastion against the lab's API server")
    common(p)
    p.add_argument("args", nargs=argparse.REMAINDER, help="kubectl's arguments, as written (e.g. get pods -A)")
    p.set_defaults(run=lambda a: run(a.lab, a.topo, a.args, replace=False))


def split(argv: list[str]) -> tuple[str | None, str | None, list[str], bool] | None:
    """(lab, topology, kubectl's arguments, whether the verb is `kubectl` itself) when the verb is kubectl
    or one of gwlab's verbs that are kubectl's, else None. Only gwlab's own --lab/-t come before the verb."""
    lab, topo, i = os.environ.get("GWLAB_LAB"), None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "kubectl":
            return lab, topo, argv[i + 1:], True
        if arg in KUBECTL_VERBS:
            return (*_own_flags(lab, topo, argv[i:]), False)
        if arg in ("--lab", "-t", "--topo") and i + 1 < len(argv):
            if arg == "--lab":
                lab = argv[i + 1]
            else:
                topo = argv[i + 1]
            i += 2
        elif arg.startswith("--lab="):
            lab, i = arg.split("=", 1)[1], i + 1
        else:
            return None
    return None


def _own_flags(lab: str | None, topo: str | None, args: list[str]) -> tuple[str | None, str | None, list[str]]:
    """gwlab's --lab/--topo taken out of a look-alike verb's arguments (kubectl has neither)."""
    rest: list[str] = []
    i = 0
    while i < len(args):
        if args[i] in ("--lab", "--topo") and i + 1 < len(args):
            lab, topo = (args[i + 1], topo) if args[i] == "--lab" else (lab, args[i + 1])
            i += 2
            continue
        if args[i].startswith("--lab="):
            lab = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return lab, topo, rest


def run(lab_name: str | None, topo_path: str | None, args: list[str], replace: bool = True) -> int:
    from orchestrator.engines.netns import namespaces
    from orchestrator.errors import LabError
    from orchestrator.fsutil import private_dir
    from orchestrator.rundir import RunDir

    if lab_name is None or topo_path is not None:  # the topology names the lab (the common case reads no YAML)
        from orchestrator.topology import load_named

        lab_name = load_named(topo_path, lab_name).name
    files = RunDir(lab_name)
    try:
        ns = files.kubectl_ns.read_text().strip()
    except OSError:
        raise LabError(f"lab {lab_name!r} is not up (no API server in {files.root}); start it with "
                       "`gwlab up`") from None
    if not namespaces.exists(ns):
        raise LabError(f"the bastion's namespace {ns} is gone; `gwlab down` then `gwlab up` rebuilds the lab")
    private_dir(files.kube_cache)
    env = dict(os.environ, KUBECONFIG=str(files.kubeconfig), KUBECACHEDIR=str(files.kube_cache))
    argv = [str(KUBECTL), *args]
    if replace:
        sys.stdout.flush()
        namespaces.enter(ns)  # this (only) thread: kubectl inherits the namespace at exec
        os.execve(argv[0], argv, env)
    with namespaces.inside(ns):
        code = subprocess.run(argv, env=env).returncode
    if code == 0 and args[:1] and args[0] in WRITES:
        _report_controllers(files)
    return code


WRITES = ("apply", "patch", "delete", "scale", "create")


def _report_controllers(files: RunDir) -> None:
    """gwlab's verbs wait for the lab's controllers to catch up with what kubectl wrote, and print
    what they did (kubectl returns as soon as the API server stored it)."""
    from orchestrator.apiserver.store import read_persisted
    from orchestrator.controlplane.writes import wait_reconciled

    try:
        rv = read_persisted(files.api_store)[0]
    except (OSError, ValueError, KeyError):
        return
    for line in wait_reconciled(files, rv).sync_report().lines():
        print(line)
