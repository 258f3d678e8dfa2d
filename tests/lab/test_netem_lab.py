"""gwlab netem on a real lab, on whatever this kernel has (netem, or tbf and nftables without it):
impairments declared in the topology applied by `up` and shown; 100% loss on a worker's segment link
proved by a TCP connect that fails and the packets counted where they were dropped; a refused set
changing nothing; a rate bounding a transfer's throughput; reset, `fault clear` and `clean` after a
lost state leaving nothing."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from orchestrator.engines.netns import namespaces as netns
from orchestrator.impair import nft
from orchestrator.impair.support import kernel_support
from orchestrator.impair.tbf import options_for_rate
from orchestrator.state import ns_name, run_dir

from .helpers import gwlab, leftovers, sized_topology, timed_transfer

pytestmark = pytest.mark.lab

PORT = 7001  # a listener this test makes in worker2's namespace, on worker2's lab address only


@contextmanager
def listener(lab: str) -> Iterator[socket.socket]:
    with netns.inside(ns_name(lab, "calico-worker2")):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("10.0.1.13", PORT))
        s.listen(16)
        yield s
    finally:
        s.close()


def connects(lab: str, server: socket.socket, timeout: float) -> bool:
    """A TCP connect from the bastion's namespace to worker2's listener (SYN out, SYN-ACK back)."""
    with netns.inside(ns_name(lab, "bastion")):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        c.settimeout(timeout)
        c.connect(("10.0.1.13", PORT))
        conn, _ = server.accept()
        conn.close()
        return True
    except OSError:
        return False
    finally:
        c.close()


def transfer(lab: str, server: socket.socket, payload: int) -> tuple[int, float]:
    """`payload` bytes over TCP from the bastion to worker2's listener: (bytes read, seconds from before
    the connect to the last byte read)."""
    got, elapsed = timed_transfer(ns_name(lab, "bastion"), server, ("10.0.1.13", PORT), payload)
    assert got == payload
    return got, elapsed


def shown(lab: str, *target: str) -> dict[tuple[str, str], dict[str, object]]:
    rows = json.loads(gwlab("netem", "show", "--lab", lab, *target, "--json").stdout)
    return {(r["node"], r["interface"]): r for r in rows}


def test_declared_at_up_loss_counted_on_a_worker_refusal_and_cleanup(lab_name: str, tmp_path: Path) -> None:
    path = sized_topology(tmp_path, 2)
    raw = yaml.safe_load(path.read_text())
    (link,) = [lk for lk in raw["topology"]["links"] if "calico-worker:eth1" in str(lk) or any(
        isinstance(e, dict) and e.get("node") == "calico-worker" for e in lk["endpoints"])]
    link["vars"] = {"netem": {"loss": 5, "rate": 100000}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = gwlab("up", "--lab", lab_name, "-t", str(path), "--bgp-only")
    assert "impairments declared in the topology applied: calico-worker:eth1 loss 5% rate 100000kbit" in out.stdout

    rows = shown(lab_name)
    for end in (("calico-worker", "eth1"), ("gwlab-br", "gwlab-w1")):  # a link's vars: both of its ends
        assert rows[end]["impairment"] == "loss 5% rate 100000kbit", rows[end]
    assert rows[("calico-worker2", "eth1")]["impairment"] == "no impairment"
    if not kernel_support().netem:
        via = rows[("calico-worker", "eth1")]["via"]
        assert isinstance(via, list) and via[0].startswith("tbf 9e: root")
        assert via[1].startswith("nftables netdev gwlab_impair egress-eth1")

    w2 = ns_name(lab_name, "calico-worker2")
    with listener(lab_name) as server:
        assert connects(lab_name, server, 2.0)
        gwlab("netem", "set", "--lab", lab_name, "worker2", "--loss", "100")
        assert not connects(lab_name, server, 1.0)  # the SYN arrives; every SYN-ACK is dropped
        if not kernel_support().netem:
            rule = nft.read(w2)["eth1"]
            assert rule.loss_pct == 100.0 and rule.dropped >= 1

        before = shown(lab_name, "worker2:eth1")
        out = gwlab("netem", "set", "--lab", lab_name, "worker2", "--delay", "20", "--rate", "1000", check=False)
        if not kernel_support().netem:
            assert out.returncode == 1, out.stderr
            assert "cannot impair calico-worker2:eth1 with delay" in out.stderr
            assert "CONFIG_NET_SCH_NETEM" in out.stderr and "--loss" in out.stderr and "--rate" in out.stderr
            assert "nothing was changed" in out.stderr and "Traceback" not in out.stderr
            assert shown(lab_name, "worker2:eth1")[("calico-worker2", "eth1")]["impairment"] == \
                before[("calico-worker2", "eth1")]["impairment"] == "loss 100%"

        out = gwlab("netem", "reset", "--lab", lab_name, "worker2")
        assert "impairment removed" in out.stdout
        assert connects(lab_name, server, 2.0)
        assert nft.read(w2) == {}

        # a rate on the bastion's link: what it sends to worker2 goes no faster. A token bucket passes
        # at most its burst plus the rate for the time it ran (load only slows the transfer), and the
        # payload is part of what passed; unshaped, 400 kB cross the segment in milliseconds.
        gwlab("netem", "set", "--lab", lab_name, "bastion", "--rate", "4000")
        payload, elapsed = transfer(lab_name, server, 400_000)
        assert (payload - options_for_rate(4000, 1500).burst_bytes) * 8 / 1000 / elapsed <= 4000, elapsed

    gwlab("netem", "set", "--lab", lab_name, "calico-worker", "--loss", "50")
    out = gwlab("fault", "clear", "--lab", lab_name)
    assert "netem bastion:eth1: rate 4000kbit removed" in out.stdout
    assert "netem calico-worker:eth1: back to the topology's loss 5% rate 100000kbit" in out.stdout
    rows = shown(lab_name)
    assert rows[("bastion", "eth1")]["impairment"] == "no impairment"
    assert rows[("calico-worker", "eth1")]["impairment"] == "loss 5% rate 100000kbit"

    gwlab("netem", "set", "--lab", lab_name, "worker2", "--loss", "30")
    os.unlink(run_dir(lab_name) / "state.json")  # as after a crash: clean finds it all by name
    gwlab("clean", "--lab", lab_name)
    assert leftovers(lab_name) == []
    assert not [n for n in netns.list_names() if n.startswith("gwlab-impair-")]  # the kernel's probes too
