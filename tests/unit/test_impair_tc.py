"""The tc requests `netem set` and `reset` send, as pyroute2 encodes them for the kernel: which
message, which flags, which handle and parent, and options that decode back to the spec. The kernel's
side is a recording stand-in (this kernel has no netem; the lab tests run the real thing where it has)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from orchestrator.engines.netns import rtnl  # noqa: F401  (loads pyroute2's netlink first, as the package does)
from orchestrator.errors import LabError
from orchestrator.impair import tc
from orchestrator.impair.codec import TC_H_ROOT, handle_text, options_for, qdisc_from_msg, spec_of, tca_options
from orchestrator.impair.spec import NetemSpec
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELQDISC, RTM_NEWQDISC
from pyroute2.netlink.rtnl.tcmsg import tcmsg

INDEX = 7


def qdisc_msg(kind: str, handle: int, parent: int, spec: NetemSpec | None = None) -> Any:
    """A qdisc as a dump message from the kernel (encoded, then decoded)."""
    msg = tcmsg()
    msg["index"], msg["handle"], msg["parent"] = INDEX, handle, parent
    msg["attrs"] = [["TCA_KIND", kind]] + ([["TCA_OPTIONS", tca_options(options_for(spec))]] if spec else [])
    msg.encode()
    back = tcmsg(bytes(msg.data[:msg["header"]["length"]]))
    back.decode()
    return back


class Kernel:
    """Answers the qdisc dump and records each request's bytes as pyroute2 would send them."""

    def __init__(self, qdiscs: list[Any], refuse: int | None = None) -> None:
        self.qdiscs, self.refuse = qdiscs, refuse
        self.sent: list[tuple[int, int, Any]] = []

    def get_qdiscs(self, index: int | None = None) -> list[Any]:
        return self.qdiscs

    def nlm_request_batch(self, msgs: list[Any]) -> None:
        for m in msgs:
            m.encode()
            back = tcmsg(bytes(m.data[:m["header"]["length"]]))
            back.decode()
            self.sent.append((m["header"]["type"], m["header"]["flags"], back))
        if self.refuse is not None:
            raise NetlinkError(self.refuse, "refused")


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Kernel]]:
    box: list[Kernel] = []

    @contextmanager
    def iproute_in(ns: str) -> Iterator[Kernel]:
        yield box[0]

    monkeypatch.setattr(tc, "iproute_in", iproute_in)
    monkeypatch.setattr(tc, "index_of", lambda ipr, ns, interface: INDEX)
    yield box


SPEC = NetemSpec(delay_us=100_000, jitter_us=5_000, loss_pct=1.0, rate_kbit=1000, corruption_pct=0.1)
CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE


def test_set_grafts_one_new_netem_at_the_root(kernel: list[Kernel]) -> None:
    kernel.append(Kernel([qdisc_msg("noqueue", 0, TC_H_ROOT)]))
    tc.set_netem("gwlab-x.n", "eth1", SPEC)
    ((kind, flags, msg),) = kernel[0].sent
    q = qdisc_from_msg(msg)
    assert (kind, flags, msg["index"], q.parent, handle_text(q.handle)) == (RTM_NEWQDISC, CREATE, INDEX, TC_H_ROOT, "1:")
    assert q.kind == "netem" and q.netem is not None and spec_of(q.netem) == SPEC


def test_set_over_a_netem_grafts_under_a_free_handle(kernel: list[Kernel]) -> None:
    # Handle 1: is taken by the netem there: a new qdisc under 2: replaces it in one request (under
    # 1: the kernel would change the old one's options instead of replacing it).
    kernel.append(Kernel([qdisc_msg("netem", 0x10000, TC_H_ROOT, NetemSpec(delay_us=5_000))]))
    tc.set_netem("gwlab-x.n", "eth1", NetemSpec(loss_pct=50.0))
    ((kind, flags, msg),) = kernel[0].sent
    q = qdisc_from_msg(msg)
    assert (kind, flags, handle_text(q.handle), q.parent) == (RTM_NEWQDISC, CREATE, "2:", TC_H_ROOT)
    assert q.netem is not None and spec_of(q.netem) == NetemSpec(loss_pct=50.0)  # the old delay is not kept


@pytest.mark.parametrize("old, new", [(NetemSpec(duplicate_pct=2.0), NetemSpec(delay_us=1_000)),
                                      (NetemSpec(delay_us=1_000), NetemSpec(duplicate_pct=2.0))])
def test_set_beside_duplication_changes_the_root_in_place(kernel: list[Kernel], old: NetemSpec,
                                                           new: NetemSpec) -> None:
    kernel.append(Kernel([qdisc_msg("netem", 0x30000, TC_H_ROOT, old)]))
    tc.set_netem("gwlab-x.n", "eth1", new)
    ((kind, flags, msg),) = kernel[0].sent
    q = qdisc_from_msg(msg)
    assert (kind, flags, handle_text(q.handle), q.parent) == (RTM_NEWQDISC, CREATE & ~NLM_F_CREATE, "3:", TC_H_ROOT)
    assert q.netem is not None and spec_of(q.netem) == new


def test_a_kernel_without_netem_is_named_and_nothing_changed(kernel: list[Kernel]) -> None:
    kernel.append(Kernel([qdisc_msg("noqueue", 0, TC_H_ROOT)], refuse=errno.ENOENT))
    with pytest.raises(tc.NetemUnavailable, match="CONFIG_NET_SCH_NETEM.*nothing was changed"):
        tc.set_netem("gwlab-x.n", "eth1", SPEC)
    kernel[0] = Kernel([qdisc_msg("noqueue", 0, TC_H_ROOT)], refuse=errno.ERANGE)
    with pytest.raises(LabError, match="the kernel refused netem .* on eth1 in gwlab-x.n.*nothing was changed"):
        tc.set_netem("gwlab-x.n", "eth1", SPEC)


def test_reset_deletes_each_netem_root_first_and_leaves_the_rest(kernel: list[Kernel]) -> None:
    below = qdisc_msg("netem", 0x20000, 0x10001, NetemSpec(delay_us=1_000))
    kernel.append(Kernel([below, qdisc_msg("tbf", 0x10000, TC_H_ROOT), qdisc_msg("netem", 0x40000, TC_H_ROOT, SPEC)]))
    assert tc.reset("gwlab-x.n", "eth1")
    sent = [(kind, flags, handle_text(m["handle"]), m["parent"]) for kind, flags, m in kernel[0].sent]
    assert sent == [(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, "4:", TC_H_ROOT),
                    (RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, "2:", 0x10001)]  # the tbf stays
    kernel[0] = Kernel([qdisc_msg("noqueue", 0, TC_H_ROOT)])
    assert not tc.reset("gwlab-x.n", "eth1") and kernel[0].sent == []


def test_reset_of_a_qdisc_gone_already_is_fine_and_other_errors_are_named(kernel: list[Kernel]) -> None:
    kernel.append(Kernel([qdisc_msg("netem", 0x10000, TC_H_ROOT, SPEC)], refuse=errno.ENOENT))
    assert tc.reset("gwlab-x.n", "eth1")
    kernel[0] = Kernel([qdisc_msg("netem", 0x10000, TC_H_ROOT, SPEC)], refuse=errno.EPERM)
    with pytest.raises(LabError, match="could not remove netem 1: root from eth1 in gwlab-x.n"):
        tc.reset("gwlab-x.n", "eth1")
