"""Lab names become paths and namespace names: nothing else may reach them. One change of a lab at
a time, labs side by side."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT, state
from orchestrator.errors import LabError
from orchestrator.state import check_lab_name, run_dir
from orchestrator.engines.netns.teardown import teardown


@pytest.mark.parametrize("name", ["../victim", "/", "a/b", "", "UPPER", "-x", "x" * 25, "a.b"])
def test_bad_lab_names_are_refused_before_anything_is_touched(name: str) -> None:
    with pytest.raises(LabError, match="is not a lab name"):
        check_lab_name(name)
    with pytest.raises(LabError):
        run_dir(name)
    with pytest.raises(LabError):
        teardown(name, None)


@pytest.mark.parametrize("name", ["tls-passthrough", "t1a2b3", "bench-50", "a"])
def test_good_lab_names(name: str) -> None:
    assert check_lab_name(name) == name


# ------------------------------------------------------------------ one change of a lab at a time

HOLDER = """
import sys
from orchestrator.state import changing
with changing(sys.argv[1] or None):
    print("held", flush=True)
    sys.stdin.readline()
"""


class Holder:
    """Another gwlab process inside `changing(lab)` until released (the lock is per process)."""

    def __init__(self, root: Path, lab: str | None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, lab or ""], cwd=PROJECT_ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, "GWLAB_RUN_DIR": str(root)})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until it holds the lock (or fails)
        assert line == "held\n", self.proc.communicate()

    def release(self) -> None:
        out, err = self.proc.communicate("\n", timeout=30)
        assert self.proc.returncode == 0, err


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(state, "RUN_ROOT", tmp_path / "run")
    return tmp_path / "run"


def refused(lab: str | None) -> bool:
    """True when this process cannot start changing `lab` now (the wait is only how long to try: the
    other process holds the lock until it is told to let go)."""
    try:
        with state.changing(lab, wait=0.2):
            return False
    except LabError as exc:
        assert "another gwlab command has been changing a lab on this host for 0 s" in str(exc)
        return True


def test_two_labs_change_at_once_one_labs_changes_wait(root: Path) -> None:
    a = Holder(root, "lab-a")
    try:
        assert not refused("lab-b")  # another lab changes meanwhile
        assert refused("lab-a")  # the same lab waits
        assert refused(None)  # so does a change of every lab (clean)
        b = Holder(root, "lab-b")  # two other processes hold two labs at once
        b.release()
    finally:
        a.release()
    assert not refused("lab-a")
    assert list(root.iterdir()) == []  # no lock file left behind


def test_a_change_of_every_lab_excludes_each_lab(root: Path) -> None:
    every = Holder(root, None)
    try:
        assert refused("lab-a") and refused("lab-b") and refused(None)
    finally:
        every.release()
    assert not refused("lab-a") and not refused(None)
    assert list(root.iterdir()) == []


def test_nested_changes_in_one_process_share_the_lock(root: Path) -> None:
    with state.changing("lab-a"):
        with state.changing("lab-a"), state.changing("lab-b"):
            pass
        with state.changing("lab-a"):
            other = Holder(root, "lab-c")  # still only lab-a's lock (and a shared root) held here
            other.release()
        with pytest.raises(RuntimeError):
            with state.changing():  # every lab, from inside one lab's change: a mistake, said at once
                pass
        assert refused_elsewhere(root, "lab-a") and not refused_elsewhere(root, "lab-b")
    with state.changing():
        with state.changing("lab-a"):  # every lab held: one lab is already covered
            assert refused_elsewhere(root, "lab-a")
    assert list(root.iterdir()) == []


def refused_elsewhere(root: Path, lab: str) -> bool:
    """`refused`, asked by another process (this one would share what it holds)."""
    code = ("import sys\nfrom orchestrator.errors import LabError\nfrom orchestrator.state import changing\n"
            "try:\n    with changing(sys.argv[1], wait=0.2): pass\nexcept LabError: sys.exit(3)\n")
    out = subprocess.run([sys.executable, "-c", code, lab], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         env={**os.environ, "GWLAB_RUN_DIR": str(root)}, timeout=60)
    assert out.returncode in (0, 3), out.stderr
    return out.returncode == 3


def test_a_lab_removed_while_locked_is_still_locked(root: Path) -> None:
    """`down` and `up` remove the lab's directory while they hold its lock: the lock stays."""
    with state.changing("lab-a"):
        (root / "lab-a").mkdir()
        (root / "lab-a").rmdir()
        assert refused_elsewhere(root, "lab-a")
        (root / "lab-a").mkdir()
        assert refused_elsewhere(root, "lab-a")
        (root / "lab-a").rmdir()
    assert not refused_elsewhere(root, "lab-a")
