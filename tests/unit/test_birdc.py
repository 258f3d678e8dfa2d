"""The control-socket client: replayed real replies, then live BIRD 1.6 and BIRD 2 daemons.

The live daemons run in a temp dir with only a device and static protocols: no kernel
protocol, no BGP, so nothing reaches the host's routing table or network.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.bird.binaries import BirdBinaries, bird_binaries
from orchestrator.bird.birdc import (
    ASYNC,
    UNKNOWN,
    BirdClient,
    BirdError,
    birdc,
    parse_line,
    parse_reply,
)
from orchestrator.bird.parse import parse_protocols, parse_routes
from orchestrator.errors import LabError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bird"
DIALECTS = ["1.6", "2"]
WAIT = 30  # the most a test waits for BIRD to do what it must; it goes on as soon as BIRD has


def raw_fixture(d: str, name: str) -> tuple[str, str]:
    """(command, numbered reply lines) of a saved socket transcript."""
    header, _, body = (FIXTURES / d / f"{name}.raw").read_text().partition("\n")
    return header.removeprefix("# "), body


def jitter_masked(text: str) -> str:
    """BIRD 2 prints a past instant as now_real - (now_mono - then): the milliseconds of the
    same `since` may differ by one between two reads."""
    return re.sub(r"(\d\d:\d\d:\d\d)\.\d{3}\b", r"\1.xxx", text)


def timers_masked(text: str) -> str:
    """The .raw and .txt of a fixture were read a moment apart: running timers moved."""
    text = re.sub(r"Current server time is .*", "Current server time is X", text)
    return jitter_masked(re.sub(r"(timer|delay|wait):(\s+)[\d.]+/", r"\1:\2X/", text))


# ------------------------------------------------------------------ replayed replies

@pytest.mark.parametrize("d", DIALECTS)
def test_reply_text_is_what_birdc_printed(d: str) -> None:
    pairs = [p for p in sorted((FIXTURES / d).glob("*.raw")) if p.with_suffix(".txt").exists()]
    assert len(pairs) > 30
    for raw_path in pairs:
        cmd, body = raw_fixture(d, raw_path.stem)
        printed = raw_path.with_suffix(".txt").read_text()
        greeting, _, rest = printed.partition("\n")
        assert greeting == f"BIRD {'1.6.8' if d == '1.6' else '2.0.12'} ready."
        assert timers_masked(parse_reply(body, cmd).text) == timers_masked(rest), raw_path.name


@pytest.mark.parametrize("d", DIALECTS)
@pytest.mark.parametrize("name, codes, ok", [
    ("configure-check", [2, 20], True),
    ("configure-timeout", [2, 22, 3], True),
    ("configure-soft-timeout", [2, 22, 3], True),
    ("configure-confirm", [18], True),
    ("configure-confirm-nothing", [19], True),
    ("configure-undo", [21, 3], True),
    ("configure-undo-nothing", [21, 19], True),
    ("configure", [2, 3], True),
    ("configure-syntax-error", [2, 8002], False),
    ("configure-check-syntax-error", [2, 8002], False),
    ("error-syntax", [9001], False),
    ("error-unknown-command", [9001], False),
    ("error-network-not-found", [8001], False),
    ("disable", [9, 0], True),
    ("show-protocols", [2002, 1002, 0], True),
])
def test_reply_codes(d: str, name: str, codes: list[int], ok: bool) -> None:
    cmd, body = raw_fixture(d, name)
    reply = parse_reply(body, cmd)
    assert reply.codes() == codes and reply.ok is ok and reply.code == codes[-1]
    assert (reply.error is None) is ok
    if not ok:
        with pytest.raises(BirdError, match=f"`{cmd}`"):
            reply.raise_for_error()
    else:
        assert reply.raise_for_error() is reply


@pytest.mark.parametrize("d", DIALECTS)
def test_configure_replies_say_what_happened(d: str) -> None:
    assert parse_reply(raw_fixture(d, "configure-timeout")[1]).text == \
        "Reading configuration from gwlabfix-bastion.conf\nUndo scheduled in 30 s\nReconfigured\n"
    assert parse_reply(raw_fixture(d, "configure-confirm")[1]).text == \
        "Reconfiguration confirmed\n"
    assert parse_reply(raw_fixture(d, "configure-undo")[1]).lines[0].text == "Undo requested"
    error = parse_reply(raw_fixture(d, "configure-syntax-error")[1]).error
    assert error is not None and error.startswith("broken.conf:5:3 syntax error")
    # the 0000 that ends a reply prints nothing, a continuation line under it would
    assert parse_reply(raw_fixture(d, "disable")[1]).text == "Mesh_10_0_1_15: disabled\n"


def test_line_shapes() -> None:
    first = parse_line("1002 device1  Device", 0)[0]
    assert parse_line("1002-device1  Device", 0) == (first, False)
    line, last = parse_line(" worker1  BGP", 1002)
    assert (line.code, line.text, line.continuation, last) == (1002, "worker1  BGP", True, False)
    assert parse_line("0000 ", 1002)[1] is True
    assert parse_line("0000 ", 1002)[0].printed is None
    assert parse_line("+hello", 0)[0].code == ASYNC
    assert parse_line("+hello", 0)[0].printed == ">>> hello"
    assert parse_line("garbage", 0)[0].code == UNKNOWN
    assert parse_line("garbage", 0)[0].printed == "??? <garbage>"
    assert parse_line("0014 8 of 8 routes for 6 networks", 0) == \
        (parse_line("0014 8 of 8 routes for 6 networks", 0)[0], True)


# ------------------------------------------------------------------ live daemons

STATIC = {
    "1.6": "protocol static s1 {\n  route 10.99.0.0/24 blackhole;\n"
           "  route 10.98.0.0/24 unreachable;\n}\n",
    "2": "protocol static s1 {\n  ipv4;\n  route 10.99.0.0/24 blackhole;\n"
         "  route 10.98.0.0/24 unreachable;\n}\n"
         "protocol static s6 {\n  ipv6;\n  route 2001:db8:99::/48 blackhole;\n}\n",
}


def conf(d: str, extra: str = "") -> str:
    # No kernel protocol and no BGP: this BIRD runs in the host's namespace.
    return f"router id 192.0.2.1;\nprotocol device {{ }}\n{STATIC[d]}{extra}"


@dataclass
class LiveBird:
    dialect: str
    binaries: BirdBinaries
    workdir: Path
    proc: subprocess.Popen[bytes]

    @property
    def socket(self) -> str:
        return str(self.workdir / "bird.ctl")

    @property
    def conf(self) -> Path:
        return self.workdir / "bird.conf"

    def run_birdc(self, command: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(self.binaries.birdc), "-s", self.socket, *command.split()],
                              capture_output=True, timeout=10, stdin=subprocess.DEVNULL)


def _binaries_or_skip(d: str) -> BirdBinaries:
    try:
        return bird_binaries(d)
    except LabError as e:
        pytest.skip(f"BIRD {d} is not installed: {e}")


@pytest.fixture(params=DIALECTS)
def live(request: pytest.FixtureRequest) -> Iterator[LiveBird]:
    d = str(request.param)
    bins = _binaries_or_skip(d)
    workdir = Path(tempfile.mkdtemp(prefix="gwbird"))  # short: socket paths max 107 bytes
    (workdir / "bird.conf").write_text(conf(d))
    log = open(workdir / "bird.out", "wb")
    proc = subprocess.Popen([str(bins.bird), "-f", "-c", "bird.conf", "-s", "bird.ctl"],
                            cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    bird = LiveBird(d, bins, workdir, proc)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"bird exited: {(workdir / 'bird.out').read_text()}")
            with socket.socket(socket.AF_UNIX) as probe:
                if probe.connect_ex(bird.socket) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"bird did not open its control socket within {WAIT} s")
            time.sleep(0.02)
        # Protocols come up and routes settle just after the socket opens: wait for quiet, so
        # that two reads (ours and birdc's) see the same `since` times.
        with BirdClient(bird.socket) as c:
            before = ""
            while True:
                now = jitter_masked(c.command("show protocols").text
                                    + c.command("show route all").text)
                if now == before and "start" not in now:
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"bird's protocols and routes did not settle within {WAIT} s")
                before = now
                time.sleep(0.05)
        yield bird
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a test may have stopped it
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def test_greeting_and_version(live: LiveBird) -> None:
    with BirdClient(live.socket) as c:
        assert c.greeting == f"BIRD {c.version} ready."
        assert c.version.startswith("1.6." if live.dialect == "1.6" else "2.")
        assert c.dialect == ("1" if live.dialect == "1.6" else "2")


def test_commands_on_one_connection(live: LiveBird) -> None:
    with BirdClient(live.socket) as c:
        rows = {r.name: r for r in parse_protocols(c.command("show protocols").text)}
        assert rows["s1"].state == "up" and rows["s1"].proto == "Static"
        routes = {r.prefix: r for r in parse_routes(c.command("show route").text)}
        assert routes["10.99.0.0/24"].paths[0].kind == "blackhole"
        assert routes["10.98.0.0/24"].paths[0].kind == "unreachable"
        if live.dialect == "2":  # IPv6 from a real daemon, in its own table
            six = routes["2001:db8:99::/48"].paths[0]
            assert six.kind == "blackhole" and six.table == "master6"
        bad = c.command("show route for 10.1.2")
        assert not bad.ok and bad.code == 9001 and bad.error is not None
        assert c.command("show status").ok  # the connection is still usable after an error


@pytest.mark.parametrize("command", [
    "show protocols", "show protocols all s1", "show route", "show route all",
    "show route count", "show route for 10.99.0.1", "show route for 192.0.2.77",
    "show route for 10.1.2", "show symbols", "show interfaces summary", "configure check",
])
def test_same_output_as_birdc(live: LiveBird, command: str) -> None:
    # Byte for byte. The same `since` may read 1 ms (BIRD 2) or 1 s (BIRD 1.6) apart on two reads (see
    # jitter_masked), which spoils an attempt now and then: try until two reads agree.
    for _ in range(50):
        real = live.run_birdc(command)
        ours = birdc(live.socket, command)
        if ours.data == real.stdout:
            break
    assert ours.data == real.stdout
    assert ours.status == real.returncode


def test_safe_push_sequence(live: LiveBird) -> None:
    with BirdClient(live.socket) as c:
        assert c.command("configure undo").codes()[-1] == 19  # nothing to undo yet
        channel = "  ipv4;\n" if live.dialect == "2" else ""
        live.conf.write_text(conf(live.dialect, f"protocol static s2 {{\n{channel}"
                                  "  route 10.97.0.0/24 blackhole;\n}\n"))
        assert c.command("configure check").codes() == [2, 20]
        assert c.command("configure timeout 30").codes() == [2, 22, 3]
        assert "s2" in c.command("show protocols").text
        assert c.command("configure confirm").code == 18
        assert c.command("configure confirm").code == 19

        live.conf.write_text(conf(live.dialect) + "protocol static s3 {\n  oops\n}\n")
        for cmd in ("configure check", "configure timeout 30"):
            reply = c.command(cmd)
            assert not reply.ok and reply.code == 8002
            assert reply.error is not None and reply.error.startswith("bird.conf:")
        # the running config is untouched by the broken file
        names = [r.name for r in parse_protocols(c.command("show protocols").text)]
        assert "s2" in names and "s3" not in names


def test_undo_restores_the_previous_config(live: LiveBird) -> None:
    with BirdClient(live.socket) as c:
        live.conf.write_text(conf(live.dialect, "protocol static extra {\n"
                             + ("  ipv4;\n" if live.dialect == "2" else "") + "}\n"))
        assert c.command("configure timeout 30").ok
        assert "extra" in c.command("show protocols").text
        # 0004 "Reconfiguration in progress" when protocols must shut down first
        assert c.command("configure undo").codes() in ([21, 3], [21, 4])
        deadline = time.monotonic() + WAIT
        while "extra" in c.command("show protocols").text:
            assert time.monotonic() < deadline, "undo did not remove the protocol"
            time.sleep(0.05)


def test_cannot_connect_names_the_socket(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ctl"
    with pytest.raises(BirdError, match=str(missing)):
        BirdClient(missing)
    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("")
    with pytest.raises(BirdError, match=str(not_a_socket)):
        BirdClient(not_a_socket)


def test_timeout_when_bird_does_not_answer(live: LiveBird) -> None:
    with BirdClient(live.socket, timeout=0.3) as c:
        os.kill(live.proc.pid, signal.SIGSTOP)
        try:
            with pytest.raises(BirdError, match=r"no reply to `show route` within 0.3 s"):
                c.command("show route")
        finally:
            os.kill(live.proc.pid, signal.SIGCONT)
        with pytest.raises(BirdError, match="closed"):
            c.command("show route")
    with BirdClient(live.socket) as again:
        assert again.command("show route").ok


def test_bird_shutting_down_closes_the_connection(live: LiveBird) -> None:
    with BirdClient(live.socket) as c:
        assert c.command("down").code == 7  # Shutdown ordered
        live.proc.wait(timeout=5)  # BIRD may answer a little longer while it shuts down
        with pytest.raises(BirdError, match=live.socket):
            c.command("show status")


def test_command_must_be_one_line(live: LiveBird) -> None:
    with BirdClient(live.socket) as c, pytest.raises(ValueError):
        c.command("show route\nshow status")
