"""The safe push's sequence against a scripted BIRD: what is sent, when the file changes, and that the
router ends on the new config with the checks passing or on the old one (file and BIRD alike)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from orchestrator.bird.birdc import Reply, parse_reply
from orchestrator.bird.push import PushRefused, push
from orchestrator.checks import Result

OLD, NEW = "router id 10.0.1.10; # old\n", "router id 10.0.1.10; # new\n"
REPLIES = {
    "configure check": "0002-Reading configuration from x\n0020 Configuration OK\n",
    "configure timeout": "0002-Reading configuration from x\n0022-Undo scheduled in 30 s\n0003 Reconfigured\n",
    "configure confirm": "0018 Reconfiguration confirmed\n",
    "configure undo": "0021-Undo requested\n0003 Reconfigured\n",
}


class FakeBird:
    """Answers like BIRD; records the commands and what the config file held at each."""

    def __init__(self, conf: Path, overrides: dict[str, str] | None = None) -> None:
        self.conf = conf
        self.sent: list[str] = []
        self.file_at: dict[str, str] = {}
        self.overrides = overrides or {}
        self.running = conf.read_text()

    def __call__(self, command: str) -> Reply:
        key = " ".join(command.split()[:2])
        self.sent.append(key)
        self.file_at[key] = self.conf.read_text()
        if key == "configure check":
            staged = Path(command.split('"')[1])
            self.file_at["staged"] = staged.read_text()
        raw = self.overrides.get(key, REPLIES[key])
        if key == "configure timeout" and not raw.startswith("8"):
            self.running = self.conf.read_text()
        return parse_reply(raw, command)


def ok(*names: str) -> list[Result]:
    return [Result(n, "w", "e", "o", True) for n in names]


def failing(name: str) -> list[Result]:
    return [Result(name, "w", "e", "missing", False)]


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    p = tmp_path / "bird.conf"
    p.write_text(OLD)
    return p


def leftovers(conf: Path) -> list[str]:
    return sorted(p.name for p in conf.parent.iterdir() if p.name not in ("bird.conf", ".bird.conf.lock"))


def test_checks_pass_confirm(conf: Path) -> None:
    bird = FakeBird(conf)
    settled: list[bool] = []

    def settle() -> Result:
        settled.append(True)
        return ok("settled")[0]
    result = push(conf, NEW, bird, lambda: ok("a"), settle=settle)
    assert result.confirmed and [r.name for r in result.results] == ["settled", "a"] and settled
    assert bird.sent == ["configure check", "configure timeout", "configure confirm"]
    assert bird.file_at["staged"] == NEW and bird.file_at["configure check"] == OLD  # checked before written
    assert bird.file_at["configure timeout"] == NEW
    assert conf.read_text() == NEW and leftovers(conf) == []


def test_failing_check_undoes_and_puts_the_old_file_back(conf: Path) -> None:
    bird = FakeBird(conf)
    result = push(conf, NEW, bird, lambda: failing("10.10.10.0/26 in the table"), restore_checks=lambda: ok("back"))
    assert not result.confirmed and [r.name for r in result.failed] == ["10.10.10.0/26 in the table"]
    assert bird.sent == ["configure check", "configure timeout", "configure undo"]
    assert conf.read_text() == OLD and leftovers(conf) == []
    assert [r.name for r in result.restored] == ["back"]


def test_bird_refusing_the_config_changes_nothing(conf: Path) -> None:
    bird = FakeBird(conf, {"configure check": "0002-Reading configuration from x\n8002 x:3:1 syntax error\n"})
    with pytest.raises(PushRefused, match="x:3:1 syntax error"):
        push(conf, NEW, bird, lambda: ok("a"))
    assert bird.sent == ["configure check"] and conf.read_text() == OLD and leftovers(conf) == []


def test_configure_failing_puts_the_file_back(conf: Path) -> None:
    bird = FakeBird(conf, {"configure timeout": "0002-Reading configuration from x\n8002 x:1:1 oops\n"})
    with pytest.raises(PushRefused, match="did not take"):
        push(conf, NEW, bird, lambda: ok("a"))
    assert conf.read_text() == OLD and leftovers(conf) == []


def test_interrupted_checks_undo(conf: Path) -> None:
    bird = FakeBird(conf)

    def interrupted() -> list[Result]:
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        push(conf, NEW, bird, interrupted)
    assert bird.sent[-1] == "configure undo" and conf.read_text() == OLD and leftovers(conf) == []


def test_confirm_too_late_counts_as_rolled_back(conf: Path) -> None:
    bird = FakeBird(conf, {"configure confirm": "0019 Nothing to do\n"})
    result = push(conf, NEW, bird, lambda: ok("a"))
    assert not result.confirmed and "already undone" in result.steps[-1]
    assert conf.read_text() == OLD


def test_a_push_killed_midway_is_finished_by_the_next(conf: Path) -> None:
    marker = conf.with_name(".bird.conf.pending")
    conf.write_text(NEW)  # the killed push had written its file and run `configure timeout 30`
    marker.write_text(json.dumps({"previous": OLD, "started": time.time(), "timeout": 30}))
    with pytest.raises(PushRefused, match="still pending"):
        push(conf, NEW, FakeBird(conf), lambda: ok("a"))
    # BIRD undid it by itself after 30 s: the next push puts the old text back first.
    marker.write_text(json.dumps({"previous": OLD, "started": time.time() - 40, "timeout": 30}))
    bird = FakeBird(conf)
    result = push(conf, "router id 10.0.1.10; # newer\n", bird, lambda: failing("x"))
    assert "interrupted earlier push" in result.steps[0]
    assert bird.file_at["configure check"] == OLD and conf.read_text() == OLD


def test_one_push_at_a_time(conf: Path) -> None:
    def nested() -> list[Result]:
        with pytest.raises(PushRefused, match="another push"):
            push(conf, NEW, FakeBird(conf), lambda: ok("a"))
        return ok("a")
    assert push(conf, NEW, FakeBird(conf), nested).confirmed
