"""netem and link faults on a real veth between two scratch namespaces, judged by TCP and counters.

Each test makes `gwlab-<random>.a` and `.b` joined by a veth (eth0 on both sides, 10.255.0.1/30 and
.2/30); nothing is made in the root namespace, and both namespaces go in a `finally`. Traffic is
TCP connects from a socket made in .a to a listener made in .b, in this process (a socket stays in
the namespace it was made in). Delay is judged by a lower bound that load cannot lower, loss by
the receiver's packet counter.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from orchestrator.engines.netns import namespaces as netns
from orchestrator.errors import LabError
from orchestrator.impair import apply, link, nft, tc
from orchestrator.impair.access import iproute_in
from orchestrator.impair.spec import NetemSpec, netem_spec
from orchestrator.impair.support import kernel_support
from orchestrator.impair.tbf import options_for_rate
from orchestrator.engines.netns.rtnl import IPRoute
from pyroute2.netlink.rtnl.tcmsg import sched_tbf
from .helpers import timed_transfer

pytestmark = pytest.mark.lab

A_IP, B_IP, PORT = "10.255.0.1", "10.255.0.2", 7000


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    listener: socket.socket


@pytest.fixture
def pair() -> Iterator[Pair]:
    base = f"gwlab-{uuid.uuid4().hex[:8]}"
    a, b = f"{base}.a", f"{base}.b"
    listener: socket.socket | None = None
    try:
        for name in (a, b):
            with netns.create(name):
                # no IPv6: nothing may send on its own while a test counts packets
                netns.write_sysctls({"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"})
                ipr = IPRoute()
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
                ipr.close()
        fd = os.open(netns.path_of(b), os.O_RDONLY)
        try:
            with netns.inside(a):
                ipr = IPRoute()
                ipr.link("add", ifname="eth0", kind="veth", peer={"ifname": "eth0", "net_ns_fd": fd})
                ipr.close()
        finally:
            os.close(fd)
        for name, ip in ((a, A_IP), (b, B_IP)):
            with netns.inside(name):
                ipr = IPRoute()
                index = ipr.link_lookup(ifname="eth0")[0]
                ipr.addr("add", index=index, address=ip, prefixlen=30)
                ipr.link("set", index=index, state="up")
                ipr.close()
        with netns.inside(b):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((B_IP, PORT))
        listener.listen(128)
        assert wait_passing(a).passing and wait_passing(b).passing
        yield Pair(a, b, listener)
    finally:
        if listener is not None:
            listener.close()
        netns.remove(a)
        netns.remove(b)


@pytest.fixture
def netem() -> None:
    if not tc.netem_available():
        pytest.skip("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is not set and no module)")


def wait_passing(ns: str, up: bool = True) -> link.LinkState:
    """A veth's operational state follows an admin change on either end a moment later (bounded: 3 s)."""
    deadline = time.monotonic() + 3
    while True:
        state = link.link_state(ns, "eth0")
        if state.passing == up or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def connect(p: Pair, timeout: float = 2.0) -> float | None:
    """Seconds a TCP connect from .a to .b took (SYN out, SYN-ACK back), or None if it failed."""
    with netns.inside(p.a):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        start = time.monotonic()
        s.connect((B_IP, PORT))
        elapsed = time.monotonic() - start
        conn, _ = p.listener.accept()
        conn.close()
        return elapsed
    except OSError:
        return None
    finally:
        s.close()


def rx_packets(ns: str) -> int:
    with netns.inside(ns):
        ipr = IPRoute()
    try:
        stats = ipr.get_links(ipr.link_lookup(ifname="eth0")[0])[0].get_attr("IFLA_STATS64")
        return int(stats["rx_packets"])
    finally:
        ipr.close()


def tc_in(ns: str, *args: str) -> str:
    out = subprocess.run(["ip", "netns", "exec", ns, "tc", *args], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout


# -- netem (these need a kernel with netem) ---------------------------------------------------------

@pytest.mark.usefixtures("netem")
def test_delay_is_on_the_wire_and_set_replaces(pair: Pair) -> None:
    shown = tc.set_netem(pair.a, "eth0", netem_spec(delay="50ms"))
    assert shown.spec == NetemSpec(delay_us=50_000) and shown.qdisc.endswith(" root")
    rtt = connect(pair)
    assert rtt is not None and rtt >= 0.050  # the SYN waited 50 ms: load can only add to it

    shown = tc.set_netem(pair.a, "eth0", netem_spec(loss=100))
    assert shown.spec == NetemSpec(loss_pct=100.0)  # the delay is gone: set replaced, not added
    before = rx_packets(pair.b)
    assert connect(pair, timeout=0.5) is None
    assert rx_packets(pair.b) == before  # not one packet (SYN retries, ARP) reached .b

    shown = tc.set_netem(pair.a, "eth0", netem_spec(rate=100_000))
    assert shown.spec == NetemSpec(rate_kbit=100_000) and shown.others == ()
    assert connect(pair) is not None and rx_packets(pair.b) > before


@pytest.mark.usefixtures("netem")
def test_show_reads_the_kernel_and_reset_removes(pair: Pair) -> None:
    spec = netem_spec(delay="20ms", jitter="2ms", loss=1.5, rate="10mbit", corruption=0.5, duplicate=2)
    tc.set_netem(pair.a, "eth0", spec)
    assert tc.show(pair.a, "eth0")[0].spec == spec
    assert [i.interface for i in tc.show(pair.a)] == ["eth0"]
    assert "delay 20ms" in tc_in(pair.a, "qdisc", "show", "dev", "eth0")  # iproute2 sees it too

    # changed by hand with iproute2: show tells what is there now, including what it has no field for
    tc_in(pair.a, "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "30ms", "loss", "5%",
          "reorder", "25%", "gap", "5")
    shown = tc.show(pair.a, "eth0")[0]
    assert shown.spec is not None and (shown.spec.delay_us, shown.spec.loss_pct) == (30_000, 5.0)
    assert any(u.startswith("reordering (25%") for u in shown.unmodelled)

    assert tc.reset(pair.a, "eth0") is True
    assert tc.show(pair.a, "eth0")[0].spec is None
    assert "netem" not in tc_in(pair.a, "qdisc", "show", "dev", "eth0")
    assert tc.reset(pair.a, "eth0") is False  # idempotent
    assert connect(pair) is not None


@pytest.mark.usefixtures("netem")
def test_set_replaces_a_qdisc_set_by_hand(pair: Pair) -> None:
    tc_in(pair.a, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf", "rate", "1mbit", "burst", "32k",
          "latency", "10ms")
    shown = tc.set_netem(pair.a, "eth0", netem_spec(delay=5))
    assert shown.spec == NetemSpec(delay_us=5_000) and shown.others == ()


@pytest.mark.usefixtures("netem")
def test_duplicating_netems_follow_each_other(pair: Pair) -> None:
    # kernels with check_netem_in_tree refuse a graft beside a duplicating netem: set changes it in place
    for spec in (netem_spec(duplicate=1), netem_spec(duplicate=2, delay=1), netem_spec(delay=2),
                 netem_spec(duplicate=3)):
        assert tc.set_netem(pair.a, "eth0", spec).spec == spec
    assert tc.reset(pair.a, "eth0") and tc.show(pair.a, "eth0")[0].spec is None


# -- what works on any kernel -----------------------------------------------------------------------

def test_without_netem_nothing_changes(pair: Pair) -> None:
    if tc.netem_available():
        pytest.skip("this kernel has netem: the refusal cannot happen here")
    tc_in(pair.a, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf", "rate", "1mbit", "burst", "32k",
          "latency", "10ms")
    with pytest.raises(tc.NetemUnavailable, match="nothing was changed"):
        tc.set_netem(pair.a, "eth0", netem_spec(delay=50))
    assert tc.show(pair.a, "eth0")[0].others == ("tbf 1: root",)  # the hand-made qdisc is untouched
    assert tc.reset(pair.a, "eth0") is False  # no netem: nothing to do, no error, tbf kept
    assert "tbf 1: root" in tc_in(pair.a, "qdisc", "show", "dev", "eth0")


def test_root_is_replaced_in_one_request_changed_and_deleted(pair: Pair) -> None:
    """The netlink requests of `set` and `reset`, shown with tbf (a kernel without netem has it):
    a qdisc made by hand at the root is replaced, not stacked on; a change keeps the qdisc; a
    delete brings back the kernel's default."""
    tc_in(pair.a, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf", "rate", "1mbit", "burst", "32k",
          "latency", "10ms")
    with iproute_in(pair.a) as ipr:
        index = ipr.link_lookup(ifname="eth0")[0]
        tc._graft_root(ipr, index, "tbf", sched_tbf.get_parameters({"rate": "2mbit", "burst": 32000,
                                                                    "latency": 10000}))
        (tbf,) = [q for q in tc._qdiscs(ipr, index)]
    assert tbf.describe() == "tbf 2: root"
    assert tc_in(pair.a, "qdisc", "show", "dev", "eth0").startswith("qdisc tbf 2: root")
    assert "rate 2Mbit" in tc_in(pair.a, "qdisc", "show", "dev", "eth0")
    assert connect(pair) is not None
    with iproute_in(pair.a) as ipr:  # the in-place change `set` makes beside a duplicating netem
        tc._change(ipr, index, tbf, "tbf", sched_tbf.get_parameters({"rate": "3mbit", "burst": 32000,
                                                                      "latency": 10000}))
        (changed,) = tc._qdiscs(ipr, index)
        assert changed.describe() == tbf.describe()  # same qdisc, same handle
        assert changed.tbf is not None and changed.tbf.rate_bytes == 375_000  # 3 Mbit/s
    assert "rate 3Mbit" in tc_in(pair.a, "qdisc", "show", "dev", "eth0")
    with iproute_in(pair.a) as ipr:
        tc._delete(ipr, index, tbf, "eth0")
        tc._delete(ipr, index, tbf, "eth0")  # twice: gone already is no error
    assert tc.show(pair.a, "eth0") == [tc.Impairment("eth0", None)]
    assert tc_in(pair.a, "qdisc", "show", "dev", "eth0").startswith("qdisc noqueue 0: root")


def test_show_and_reset_of_an_interface_never_impaired(pair: Pair) -> None:
    assert tc.show(pair.a) == [tc.Impairment("eth0", None)]
    assert tc.reset(pair.a, "eth0") is False and tc.reset(pair.a, "eth0") is False


def test_unknown_interface_and_namespace_are_named(pair: Pair) -> None:
    with pytest.raises(LabError, match=r"no interface 'eth7' in namespace .*; its interfaces are: eth0"):
        tc.show(pair.a, "eth7")
    with pytest.raises(LabError, match="no interface 'eth7'"):
        link.set_link(pair.a, "eth7", False)
    with pytest.raises(LabError, match="no network namespace 'gwlab-nosuchlab.x'"):
        tc.reset("gwlab-nosuchlab.x", "eth0")
    with pytest.raises(LabError, match="not a lab's"):
        link.link_state("somebody-else", "eth0")


def test_link_down_and_up(pair: Pair) -> None:
    assert connect(pair) is not None
    state = link.set_link(pair.a, "eth0", up=False)
    assert (state.admin_up, state.passing) == (False, False)
    peer = wait_passing(pair.b, up=False)
    assert peer.admin_up and not peer.carrier and peer.operstate != "UP"  # .b sees its peer gone
    before = rx_packets(pair.b)
    assert connect(pair, timeout=0.5) is None
    assert rx_packets(pair.b) == before

    state = link.set_link(pair.a, "eth0", up=True)
    assert state.admin_up
    assert wait_passing(pair.a).passing and wait_passing(pair.b).passing
    assert connect(pair) is not None and rx_packets(pair.b) > before
    assert link.link_state(pair.a, "eth0") == link.LinkState("eth0", True, "UP", True)


# -- what a kernel without netem does (tbf and nftables; the same calls take netem where it exists) ----

def test_loss_drops_every_packet_counted_and_reset_restores(pair: Pair) -> None:
    assert connect(pair) is not None
    shown = apply.set_impairment(pair.a, "eth0", netem_spec(loss=100), "a:eth0")
    assert shown.spec == NetemSpec(loss_pct=100.0)
    before = rx_packets(pair.b)
    assert connect(pair, timeout=0.5) is None
    assert rx_packets(pair.b) == before  # not one packet (SYN retries, ARP) reached .b
    if not kernel_support().netem:
        (rule,) = nft.read(pair.a).values()
        assert rule.loss_pct == 100.0 and rule.dropped >= 1  # the SYN and its retries, dropped by the rule
        assert any(v.startswith("nftables netdev gwlab_impair egress-eth0") for v in apply.show(pair.a, "eth0")[0].via)

    assert apply.reset(pair.a, "eth0") is True
    assert apply.show(pair.a, "eth0") == [apply.Applied("eth0", None)]
    assert nft.read(pair.a) == {}  # the lab's table goes with its last chain
    assert connect(pair) is not None and rx_packets(pair.b) > before
    assert apply.reset(pair.a, "eth0") is False


def send_through(p: Pair, payload: int) -> tuple[int, float]:
    """Bytes of IPv4 on the wire from .a (counted at .b) and seconds taken to deliver `payload` bytes over
    TCP from .a to .b, measured from before the connect to the last byte read."""
    before = rx_bytes(p.b)
    got, elapsed = timed_transfer(p.a, p.listener, (B_IP, PORT), payload)
    assert got == payload
    return rx_bytes(p.b) - before, elapsed


def rx_bytes(ns: str) -> int:
    with netns.inside(ns):
        ipr = IPRoute()
    try:
        return int(ipr.get_links(ipr.link_lookup(ifname="eth0")[0])[0].get_attr("IFLA_STATS64")["rx_bytes"])
    finally:
        ipr.close()


def test_rate_holds_throughput_below_it(pair: Pair) -> None:
    rate_kbit, payload = 4000, 600_000  # 500 kB/s: ~1.2 s; unshaped, a veth moves it in milliseconds
    shown = apply.set_impairment(pair.a, "eth0", netem_spec(rate=rate_kbit), "a:eth0")
    assert shown.spec == NetemSpec(rate_kbit=rate_kbit)
    wire, elapsed = send_through(pair, payload)
    # A token bucket lets through at most its burst plus the rate for the time it ran; load can only
    # make the transfer slower. Frames count their Ethernet header at the qdisc: add it per packet.
    burst = options_for_rate(rate_kbit, 1500).burst_bytes
    assert wire >= payload
    assert (wire - burst) * 8 / 1000 / elapsed <= rate_kbit, (wire, elapsed)
    assert apply.reset(pair.a, "eth0")
    _, unshaped = send_through(pair, payload)
    assert unshaped < elapsed  # and the check above can fail: the same transfer without the rate


def test_set_replaces_loss_and_rate_and_a_refused_set_changes_nothing(pair: Pair) -> None:
    apply.set_impairment(pair.a, "eth0", netem_spec(loss=5, rate=100_000), "a:eth0")
    both = apply.show(pair.a, "eth0")[0]
    assert both.spec == NetemSpec(loss_pct=5.0, rate_kbit=100_000)
    if kernel_support().netem:
        pytest.skip("this kernel has netem: nothing here is refused")
    assert [v.split(",")[0] for v in both.via] == ["tbf 9e: root", "nftables netdev gwlab_impair egress-eth0"]
    assert "rate 100Mbit" in tc_in(pair.a, "qdisc", "show", "dev", "eth0")  # iproute2 sees it too
    with pytest.raises(apply.ImpairmentRefused, match="CONFIG_NET_SCH_NETEM.*nothing was changed"):
        apply.set_impairment(pair.a, "eth0", netem_spec(delay=20, rate=10), "a:eth0")
    assert apply.show(pair.a, "eth0")[0].spec == both.spec
    apply.set_impairment(pair.a, "eth0", netem_spec(rate=2000), "a:eth0")  # replaces: the loss goes
    assert apply.show(pair.a, "eth0")[0].spec == NetemSpec(rate_kbit=2000) and nft.read(pair.a) == {}
    apply.set_impairment(pair.a, "eth0", netem_spec(loss=1), "a:eth0")  # and the rate goes
    assert apply.show(pair.a, "eth0")[0].spec == NetemSpec(loss_pct=1.0)
    assert "tbf" not in tc_in(pair.a, "qdisc", "show", "dev", "eth0")
