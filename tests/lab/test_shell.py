"""`gwlab shell`: the workshop's commands, read from its text at test time, run as written inside
the bastion's namespace on real BIRD."""

from __future__ import annotations

import shutil
import time
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from orchestrator.bird import parse
from orchestrator.engines.netns.teardown import labs_on_host
from orchestrator.rundir import RunDir
from orchestrator.state import LabState
from tests.workshop_reader import HARNESS, WORKSHOP, Block, workshop_blocks

from .helpers import gwlab, leftovers

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not WORKSHOP.is_file(), reason=f"the workshop's text is not at {WORKSHOP}")]
LB = IPv4Network("10.10.10.0/26")
PEERS = ("control1", "worker1", "worker2")


def shell(lab: str, code: str, node: str = "bastion") -> tuple[int, str]:
    out = gwlab("shell", node, "--lab", lab, "-c", HARNESS + code, check=False, timeout=60)
    return out.returncode, out.stdout + out.stderr


def section(name: str) -> list[Block]:
    found = [b for b in workshop_blocks() if b.section.startswith(name)]
    assert found, f"no shell block of {name} in {WORKSHOP}"
    return found


def heredoc(block: Block) -> str:
    """The manifest a `kubectl apply -f - <<EOF` block feeds (applied with gwlab until kubectl has a server)."""
    return block.code.split("<<EOF\n", 1)[1].rsplit("\nEOF", 1)[0] + "\n"


def bastion_pid(lab: str) -> int:
    state = LabState.load(lab)
    assert state is not None
    proc = state.process("bird:bastion")
    assert proc is not None
    return proc.pid


def established(lab: str, wait: float = 15.0) -> dict[str, parse.Protocol]:
    deadline = time.monotonic() + wait
    while True:
        text = gwlab("birdc", "--lab", lab, "bastion", "show", "protocols").stdout
        rows = {p.name: p for p in parse.parse_protocols(text)}
        if all(rows.get(n) and rows[n].info.startswith("Established") for n in PEERS) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_prerequisite_3_as_written(lab_name: str, tmp_path: Path) -> None:
    try:
        gwlab("up", "--bgp-only", "--pre-workshop", "--lab", lab_name)
        conf = RunDir(lab_name).node("bastion").bird_config
        assert conf.is_relative_to("/etc/netns"), conf
        # Prerequisites 1 and 2 (their manifests, from the text) bring the bastion's sessions up.
        for n, block in enumerate(section("prerequisite 1") + section("prerequisite 2")):
            (tmp_path / f"{n}.yaml").write_text(heredoc(block))
            gwlab("apply", "--lab", lab_name, "-f", str(tmp_path / f"{n}.yaml"))
        assert all(p.info.startswith("Established") for n, p in established(lab_name).items() if n in PEERS)
        assert str(LB) in gwlab("birdc", "--lab", lab_name, "bastion", "show", "route", "filtered").stdout

        watch, grep, sed, restart = (b.code for b in section("prerequisite 3"))
        assert watch.startswith("watch ") and "grep" in grep and "sed -i" in sed and "systemctl" in restart
        status, out = shell(lab_name, watch)
        assert status == 0 and out.startswith("BIRD 1.6"), out
        rows = {p.name: p for p in parse.parse_protocols(out)}
        assert all(rows[n].info.startswith("Established") for n in PEERS), out

        status, out = shell(lab_name, grep)  # /etc/bird/bird.conf in the shell is the bastion's own file
        assert status == 0 and "Import filter" in out and "if (net ~ 10.50.0.0/24) then accept;" in out, out
        assert f"if (net ~ {LB}) then accept;" not in out, out

        status, out = shell(lab_name, sed)
        assert status == 0, out
        assert f"if (net ~ {LB}) then accept;" in conf.read_text()

        before = bastion_pid(lab_name)
        status, out = shell(lab_name, restart)
        assert status == 0, out
        after = bastion_pid(lab_name)
        assert after != before and Path(f"/proc/{after}").exists()
        rows = established(lab_name)
        assert all(rows[n].info.startswith("Established") for n in PEERS), rows
        # The restarted BIRD read the edited file: the LoadBalancer range is accepted now.
        deadline = time.monotonic() + 10
        while str(LB) not in gwlab("birdc", "--lab", lab_name, "bastion", "show", "route").stdout:
            assert time.monotonic() < deadline, "10.10.10.0/26 not accepted after the restart"
            time.sleep(0.2)
    finally:
        gwlab("down", "--lab", lab_name, check=False)
    assert leftovers(lab_name) == []


def test_shell_wrappers_stay_in_the_lab(lab_name: str) -> None:
    try:
        gwlab("up", "--bgp-only", "--lab", lab_name)
        status, out = shell(lab_name, "systemctl restart nginx")
        assert status == 1 and "not modelled" in out, out
        status, out = shell(lab_name, "systemctl status bird")
        assert status == 0 and "active (running)" in out, out
        status, out = shell(lab_name, "exit 7")
        assert status == 7
        status, out = shell(lab_name, "sudo -E sh -c 'echo $GWLAB_LAB $GWLAB_NODE'", node="worker1")
        assert out.split() == [lab_name, "calico-worker"], out
        status, out = shell(lab_name, "cat /etc/bird/bird.conf", node="worker1")  # the node's, not the host's
        assert status == 0 and str(RunDir(lab_name).node("calico-worker").bird_config) in out, out
        status, out = shell(lab_name, "ip -br addr show eth1", node="worker1")
        assert "10.0.1.12/24" in out, out
        status, out = shell(lab_name, "kubectl version --client")
        assert status == 0 and "v1.37.1" in out, out
        missing = gwlab("exec", "bastion", "--lab", lab_name, "--", "nosuchcmd", check=False)
        assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [
            "gwlab: error: no command 'nosuchcmd' on node bastion (fix: check its spelling, or give its full path)"]
    finally:
        gwlab("down", "--lab", lab_name, check=False)
    assert leftovers(lab_name) == []


def test_workshop_as_written_in_the_shell(lab_name: str, tmp_path: Path) -> None:
    try:
        gwlab("up", "--bgp-only", "--pre-workshop", "--lab", lab_name)
        script = HARNESS + "set -e\n" + "\n".join(
            f"echo '### {b.section}'\n{b.code}" for b in workshop_blocks()
            if not b.section.startswith("clean-up")) + "\n"
        status, out = shell(lab_name, script)
        if status != 0:  # what the bastion held when it failed
            out += shell(lab_name, "date +%T.%N; ip route; birdc show protocols; "
                         "kubectl get gateway,pods -A -o wide")[1]
        assert status == 0, out
        assert "HTTP/2 200" in out and '"pod": "passthrough-echoserver-' in out, out
        status, out = shell(lab_name, "\n".join(b.code for b in section("clean-up")))
        assert status == 0, out
    finally:
        gwlab("down", "--lab", lab_name, check=False)
    assert leftovers(lab_name) == []


def test_clean_finds_a_left_over_etc_netns_entry_without_a_state_file(lab_name: str) -> None:
    conf = RunDir(lab_name).node("bastion").bird_config
    conf.parent.mkdir(parents=True)
    conf.write_text("# left over by a crashed run\n")
    try:
        assert lab_name in labs_on_host()
        out = gwlab("clean", "--lab", lab_name, "-v")
        assert f"removed directory {RunDir(lab_name).etc('bastion')}" in out.stdout, out.stdout
    finally:
        if conf.parent.parent.exists():
            shutil.rmtree(conf.parent.parent)
    assert not RunDir(lab_name).etc("bastion").exists() and leftovers(lab_name) == []
