"""What the containerlab engine reads back from commands run in the bastion: `birdc -v` and `ip -j route`.

The fixtures are real output (tests/fixtures/clab/capture.py): BIRD 1.6's own birdc, fed real BIRD
1.6.8 replies, and iproute2's ip in a throwaway namespace. Where the tools are here, the tests also
run them again and compare."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import ModuleType

import pytest

from orchestrator.bird.birdc import parse_reply
from orchestrator.engines.base import KernelRoute
from orchestrator.engines.clab import parse
from tests.unit.clab_standins import FIXTURES, birdc_fixture


def capture_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("clab_capture", FIXTURES / "capture.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CAPTURE = capture_module()


@pytest.mark.parametrize("name", sorted(CAPTURE.BIRDC))
def test_verbose_output_is_the_reply_bird_sent(name: str) -> None:
    command, printed = birdc_fixture(name)
    recorded_command, raw = CAPTURE.transcript(CAPTURE.BIRDC[name])
    assert command == recorded_command
    assert parse.reply_from_verbose(printed, command) == parse_reply(raw, command)


def test_errors_and_codes_survive() -> None:
    reply = parse.reply_from_verbose(birdc_fixture("configure-syntax-error")[1], "configure")
    assert reply.error == "broken.conf:5:3 syntax error" and not reply.ok
    assert parse.reply_from_verbose(birdc_fixture("configure-confirm")[1], "configure confirm").code == 18
    assert parse.reply_from_verbose(birdc_fixture("configure-confirm-nothing")[1], "configure confirm").code == 19
    protocols = parse.reply_from_verbose(birdc_fixture("show-protocols")[1], "show protocols")
    assert protocols.code == 0 and "control1 BGP" in protocols.text


@pytest.mark.skipif(not shutil.which("birdc"), reason="BIRD's birdc is not installed: run `sudo make deps`")
@pytest.mark.parametrize("name", sorted(CAPTURE.BIRDC))
def test_real_birdc_still_prints_the_fixture(name: str) -> None:
    command, printed, status = CAPTURE.birdc_verbose(CAPTURE.BIRDC[name])
    assert (command, printed) == birdc_fixture(name) and status == 0


@pytest.mark.skipif(not shutil.which("birdc"), reason="BIRD's birdc is not installed: run `sudo make deps`")
def test_a_command_birdc_refuses_is_an_error() -> None:
    with CAPTURE.replay_server("0000 \n") as sock:
        out = subprocess.run(["birdc", "-v", "-s", sock, "show nonsense"], capture_output=True, text=True,
                             timeout=10, check=False)
    reply = parse.reply_from_verbose(out.stdout, "show nonsense")
    assert reply.error and reply.code == parse.CLIENT_REFUSED


def fixture_routes(name: str, prefix: str) -> list[KernelRoute]:
    return parse.kernel_routes((FIXTURES / f"ip-route-{name}.json").read_text(), IPv4Network(prefix))


def test_ip_json_routes() -> None:
    ecmp = fixture_routes("ecmp", "10.10.10.0/26")
    assert ecmp == [KernelRoute(IPv4Network("10.10.10.0/26"),
                                tuple(IPv4Address(f"10.0.1.1{i}") for i in (1, 2, 3)), "unicast")]
    assert fixture_routes("single", "10.50.0.0/28")[0].gateways == (IPv4Address("10.0.1.11"),)
    assert fixture_routes("blackhole", "10.99.0.0/24")[0].kind == "blackhole"
    assert fixture_routes("none", "10.77.0.0/24") == []


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="making a throwaway network namespace needs root and unshare")
def test_real_ip_still_prints_the_fixtures() -> None:
    for name, text in CAPTURE.ip_routes().items():
        assert text == Path(FIXTURES / f"ip-route-{name}.json").read_text(), name
