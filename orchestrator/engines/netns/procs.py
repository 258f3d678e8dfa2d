"""The lab's daemons: started in a namespace, recorded by PID, stopped by that PID only.

A PID is trusted only while /proc/PID still shows the start time and executable we recorded,
so a recycled PID is never signalled.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from orchestrator.engines.netns import namespaces
from orchestrator.state import Proc as Proc  # re-exported: the record of what spawn starts


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
SH = shutil.which("sh") or "/bin/sh"


def unprivileged(uid: int, argv: list[str]) -> list[str]:
    """argv run as uid:gid `uid`, no supplementary groups, no capabilities (none inheritable, an
    empty bounding set) and no-new-privs, as a pod's securityContext with runAsNonRoot and
    capabilities drop ALL gives it."""
    return [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--", *argv]


BIRD_CAPS = ("net_admin", "net_bind_service", "net_raw", "net_broadcast")  # what a routing daemon needs
# The supervisor: nsenter into a node's namespace (sys_admin) to start BIRD there with BIRD_CAPS, whose
# bounding set setpriv cuts (setpcap).
SUPERVISOR_CAPS = ("sys_admin", "setpcap", *BIRD_CAPS)
# The control plane: namespaces made, entered and mounted under /run/netns (sys_admin), links, routes
# and nftables (net_admin); pods started as their user (setuid, setgid; setpcap: their empty bounding
# set) in directories it gives them (chown) and later writes into and removes (dac_override); pods
# signalled (kill) and adopted by what /proc says of another user's process, its executable and its
# namespace (sys_ptrace). Found by trying: without sys_ptrace every pod looked dead and was restarted.
CONTROLPLANE_CAPS = ("sys_admin", "net_admin", "setuid", "setgid", "setpcap", "chown", "dac_override", "kill",
                     "sys_ptrace")


def confined(caps: tuple[str, ...], argv: list[str]) -> list[str]:
    """argv run as root with no capability beyond `caps`: the bounding set cut to them (so what
    it holds after exec, permitted and effective, is at most those), none inheritable, and no-new-privs."""
    return [SETPRIV, "--inh-caps=-all", "--bounding-set=-all," + ",".join("+" + c for c in caps),
            "--no-new-privs", "--", *argv]


def alive(proc: Proc) -> bool:
    if _start_time(proc.pid) != proc.start_time:
        return False
    try:
        # nsenter (and setpriv) exec the daemon in place: right after spawn, the PID may still be theirs.
        # (and a pod's waiting shell forks it: for an instant it is the shell)
        return os.readlink(f"/proc/{proc.pid}/exe") in (proc.exe, os.path.realpath(NSENTER), os.path.realpath(SETPRIV),
                                                        os.path.realpath(SH))
    except OSError:
        return False


# A pod's process runs under a shell that waits for it and leaves its exit status in the pod's
# directory: once the control plane has been started again, the pod is no child of it, and no other
# process could learn how it ended. The shell's own child is the PID recorded (what `fault kill` signals).
_WAITER = 'umask 077; s=$1; p=$2; shift 2; "$@" & echo $! > "$p"; exec 2>/dev/null; wait $!; echo $? > "$s.new"; mv -f "$s.new" "$s"'
_launchers: set[int] = set()  # waiting shells this process started: reaped once they exit


def spawn(role: str, ns: str, argv: list[str], log: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None, uid: int | None = None, status: tuple[Path, Path] | None = None,
          caps: tuple[str, ...] | None = None) -> Proc:
    """Start argv inside namespace `ns`, detached from our terminal, output appended to `log`.

    nsenter enters the namespace and execs argv, so the PID is the daemon's; it is spawned
    without a preexec hook, which lets Python use vfork (a fork of this process costs ~4 ms).
    `status` (exit status file, PID file): argv runs under a shell that writes its exit status
    there when it ends; the PID recorded is still argv's. `caps`: argv keeps only these capabilities
    (as root; `uid` runs it unprivileged with none)."""
    exe = os.path.realpath(shutil.which(argv[0]) or argv[0])
    run = unprivileged(uid, argv) if uid is not None else confined(caps, argv) if caps is not None else argv
    # The waiting shell stays root: setpriv resolves argv's path before it drops privileges (the
    # interpreter may sit under a directory the pod's user cannot enter); the pod's process does not.
    run = run if status is None else [SH, "-c", _WAITER, "sh", str(status[0]), str(status[1]), *run]
    if status is not None:
        for old in status:
            old.unlink(missing_ok=True)
    # What the daemon creates (BIRD's log and socket) and its output are its owner's alone (0600).
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        child = subprocess.Popen(
            [NSENTER, f"--net={namespaces.path_of(ns)}", "--", *run],
            stdin=subprocess.DEVNULL, stdout=out, umask=0o077,
            stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=cwd, close_fds=True)
    pid = child.pid if status is None else _waited_child(child, status[1])
    start = _start_time(pid)
    if start is None:
        child.wait()
        raise OSError(f"{argv[0]} exited at once (exit code {child.returncode}); see {log}")
    if status is not None:
        _launchers.add(child.pid)
    # The lab outlives this process: forget the Popen so it is not reaped or warned about here.
    child.returncode = 0
    return Proc(role, pid, start, exe, ns, argv, str(log))


def _waited_child(child: subprocess.Popen[bytes], pid_file: Path, timeout: float = 5.0) -> int:
    """The PID of the shell's child once the shell wrote it (bounded); the shell's own if it never did.
    The child may not have exec'd yet (`alive` accepts the shell's and setpriv's executables)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        try:
            return int(pid_file.read_text())
        except (OSError, ValueError):
            pass
        time.sleep(0.001)
    return child.pid


def reap_launchers() -> None:
    """The waiting shells of pods that ended, reaped (they are this process's children)."""
    for pid in list(_launchers):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _launchers.discard(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(procs: list[Proc], grace: float = 2.0) -> list[Proc]:
    """SIGTERM every live process, SIGKILL what is left after `grace` seconds. Returns those signalled."""
    live = [p for p in procs if alive(p)]
    for p in live:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    pending = list(live)
    while pending and time.monotonic() < deadline:
        for p in pending:
            _reap(p.pid)
        pending = [p for p in pending if alive(p)]
        if pending:
            time.sleep(0.005)
    for p in pending:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in pending:
        for _ in range(200):
            _reap(p.pid)
            if not alive(p):
                break
            time.sleep(0.005)
    return live


def kill_pids(pids: list[int], grace: float = 1.0) -> None:
    """For `clean`: processes found by the namespace they run in, with no record of ours."""
    procs = []
    for pid in pids:
        start = _start_time(pid)
        if start is None:
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        procs.append(Proc("found", pid, start, exe, ""))
    stop(procs, grace)
