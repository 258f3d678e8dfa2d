"""Named network namespaces, made and entered from this process, without forking.

A namespace is a bind mount of a thread's /proc/.../ns/net under /run/netns, exactly as
`ip netns add` makes it, so `ip netns exec` and other tools see ours. Entering one switches only
the calling thread; every `inside()` block switches back to the namespace it started in, even on
an exception, so the root namespace is never left configured by accident.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
MS_REC, MS_BIND, MS_SHARED = 0x4000, 0x1000, 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()
_dir_ready = False


def _check(result: int, what: str, name: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what} failed for namespace {name}: {os.strerror(err)}")


def path_of(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return path_of(name).exists()


def list_names() -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def _prepare_dir() -> None:
    """Make /run/netns a shared mount point, as iproute2 does, once per process."""
    global _dir_ready
    if _dir_ready:
        return
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    d = str(NETNS_DIR).encode()
    if _libc.mount(b"", d, b"none", MS_SHARED | MS_REC, None) != 0:
        _check(_libc.mount(d, d, b"none", MS_BIND | MS_REC, None), "bind mount of /run/netns", "")
        _check(_libc.mount(b"", d, b"none", MS_SHARED | MS_REC, None), "share /run/netns", "")
    _dir_ready = True


@contextmanager
def _restoring() -> Iterator[None]:
    home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    try:
        yield
    finally:
        try:
            _check(_libc.setns(home, CLONE_NEWNET), "return to the original namespace", "")
        finally:
            os.close(home)


@contextmanager
def create(name: str) -> Iterator[None]:
    """Create namespace `name` and run the block inside it (to configure it at once)."""
    with _lock:
        _prepare_dir()
        target = path_of(name)
        fd = os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
        os.close(fd)
        try:
            with _restoring():
                _check(_libc.unshare(CLONE_NEWNET), "unshare", name)
                me = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
                _check(_libc.mount(me, str(target).encode(), b"none", MS_BIND, None), "bind mount", name)
                yield
        except BaseException:
            _unmount(name)
            raise


@contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the block with this thread inside namespace `name`."""
    fd = os.open(path_of(name), os.O_RDONLY)
    try:
        with _restoring():
            _check(_libc.setns(fd, CLONE_NEWNET), "setns", name)
            yield
    finally:
        os.close(fd)


def enter(name: str) -> None:
    """Move this thread into `name` for good: for a child process between fork and exec."""
    fd = os.open(path_of(name), os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), "setns", name)
    finally:
        os.close(fd)


def _unmount(name: str) -> None:
    target = path_of(name)
    _libc.umount2(str(target).encode(), MNT_DETACH)
    try:
        target.unlink()
    except FileNotFoundError:
        pass


def remove(name: str) -> bool:
    """Remove the name; the namespace dies with its last process. True if it existed."""
    if not exists(name):
        return False
    _unmount(name)
    return True


def inode(name: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path_of(name))
    except OSError:
        return None
    return st.st_dev, st.st_ino


def pids_in(names: list[str]) -> dict[int, str]:
    """Every process whose network namespace is one of `names` (found by namespace, never by name)."""
    wanted = {ino: n for n in names if (ino := inode(n)) is not None}
    found: dict[int, str] = {}
    if not wanted:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EACCES, errno.ESRCH):
                continue
            raise
        ns = wanted.get((st.st_dev, st.st_ino))
        if ns is not None:
            found[int(entry)] = ns
    return found


def write_sysctls(values: dict[str, str]) -> None:
    """Write /proc/sys/net/... of the namespace this thread is in (call within `inside`/`create`)."""
    for key, value in values.items():
        Path("/proc/sys", key.replace(".", "/")).write_text(value)
