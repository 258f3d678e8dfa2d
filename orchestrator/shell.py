"""`gwlab shell`: a shell inside a node's namespace where the workshop's commands run as written.

`ip netns exec` enters the node's network namespace and bind-mounts /etc/netns/<ns>/bird/ over
/etc/bird/, so /etc/bird/bird.conf there is the file the bastion's BIRD reads. First on PATH come
the lab's own `sudo`, `birdc` and `systemctl` (small scripts in the run directory), because the
host's would escape the lab: its sudo resets PATH, its birdc talks to the host's BIRD, its
systemctl would restart the host's bird.service. `kubectl` is the real one from gwlab's venv, with
the lab's kubeconfig when the lab has one.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.bird import binaries
from orchestrator.fsutil import atomic_write, private_dir
from orchestrator.rundir import RunDir, ns_name
from orchestrator.topology import Topology

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEPT_ENV = ("TERM", "LANG", "LC_ALL", "COLORTERM")
BIRD_UNITS = ("bird", "bird.service", "bird2", "bird2.service", "bird6", "bird6.service")


@dataclass(frozen=True)
class ShellPlan:
    """What `gwlab shell` runs: argv, its environment and working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def gwlab_command() -> list[str]:
    """How the wrappers call gwlab back: the venv's console script, else this interpreter."""
    script = Path(sys.executable).parent / "gwlab"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "orchestrator"]


def kubectl_binary() -> Path | None:
    found = Path(sys.executable).parent / "kubectl"
    return found if found.is_file() else None


def _sudo() -> str:
    # Already root: sudo's options are dropped and the command runs with the shell's PATH kept.
    return """#!/bin/sh
# gwlab shell's sudo: already root in the lab's namespace; runs the command with this PATH kept.
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -u|-g|-p|-C|-h|-D|-r|-t|-U) shift; shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -eq 0 ] && { echo "sudo: give a command (gwlab shell: you are root already)" >&2; exit 1; }
exec "$@"
"""


def _birdc(birdc: Path, socket: Path) -> str:
    return f"""#!/bin/sh
# gwlab shell's birdc: the node's BIRD, through its control socket in the lab's run directory.
for a in "$@"; do [ "$a" = "-s" ] && exec {shlex.quote(str(birdc))} "$@"; done
exec {shlex.quote(str(birdc))} -s {shlex.quote(str(socket))} "$@"
"""


def _systemctl(gwlab: list[str], lab: str, node: str) -> str:
    g = " ".join(shlex.quote(a) for a in gwlab)
    units = "|".join(BIRD_UNITS)
    return f"""#!/bin/sh
# gwlab shell's systemctl: the lab models one unit here, this node's BIRD ({node}, lab {lab}).
verb="$1"; [ $# -gt 0 ] && shift
unit=""
for a in "$@"; do case "$a" in -*) ;; *) unit="$a" ;; esac; done
case "$unit" in
  {units}) ;;
  *) echo "systemctl: gwlab shell models only the unit bird on {node} (lab {lab}); \\
'systemctl $verb${{unit:+ $unit}}' is not modelled here and the host's systemd is not touched" >&2
     exit 1 ;;
esac
case "$verb" in
  start|stop|restart) exec {g} bird "$verb" {shlex.quote(node)} --lab {shlex.quote(lab)} ;;
  reload) exec birdc configure ;;
  status|is-active)
     if birdc show status >/dev/null 2>&1; then echo "bird on {node}: active (running)"; exit 0; fi
     echo "bird on {node}: inactive (dead)"; exit 3 ;;
  *) echo "systemctl: '$verb' is not modelled by gwlab shell (use start, stop, restart, reload, status)" >&2
     exit 1 ;;
esac
"""


def prepare(topo: Topology, node: str, dialect: str, files: RunDir) -> ShellPlan:
    """Write the node's wrappers and return what to run (an interactive bash)."""
    name = topo.node(node).name
    ns = ns_name(topo.name, name)
    base = private_dir(files.root / "shell" / name)
    bindir, home = base / "bin", private_dir(base / "home")
    bird = binaries.bird_binaries(dialect)
    scripts = {"sudo": _sudo(), "birdc": _birdc(bird.birdc, files.node(name).bird_socket),
               "systemctl": _systemctl(gwlab_command(), topo.name, name)}
    for script, text in scripts.items():
        atomic_write(bindir / script, text, 0o700)
    kubectl = kubectl_binary()
    if kubectl is not None:
        link = bindir / "kubectl"
        if not link.is_symlink() or os.readlink(link) != str(kubectl):
            link.unlink(missing_ok=True)
            link.symlink_to(kubectl)
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    env.update(PATH=f"{bindir}:{BASE_PATH}", HOME=str(home), USER="root", LOGNAME="root", SHELL="/bin/bash",
               GWLAB_LAB=topo.name, GWLAB_NODE=name, GWLAB_RUN_DIR=str(files.root.parent),
               KUBECACHEDIR=str(files.kube_cache))
    env.setdefault("TERM", "xterm")
    if files.kubeconfig.is_file():
        env["KUBECONFIG"] = str(files.kubeconfig)
    rc = base / "bashrc"
    atomic_write(rc, f"PS1={shlex.quote(f'[gwlab {topo.name}] root@{name}:')}'\\w# '\n"
                     "alias ls='ls --color=auto'\n", 0o600)
    ip = shutil.which("ip") or "/usr/sbin/ip"
    return ShellPlan([ip, "netns", "exec", ns, "/bin/bash", "--rcfile", str(rc), "-i"], env, home)


def one_command(plan: ShellPlan, command: str) -> ShellPlan:
    """The same environment, running `bash -c COMMAND` and exiting with its status."""
    argv = plan.argv[: plan.argv.index("/bin/bash") + 1] + ["-c", command]
    return ShellPlan(argv, plan.env, plan.cwd)

