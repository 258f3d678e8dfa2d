"""netem options to and from netlink: what `set` sends, and what `show` reads from a dump."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.engines.netns import rtnl  # noqa: F401  (loads pyroute2's netlink first, as the package does)
from orchestrator.impair.codec import (TC_H_ROOT, Qdisc, handle_text, options_for, qdisc_from_msg, spec_of,
                                       tca_options)
from orchestrator.impair.spec import MAX_RATE_KBIT, NetemSpec
from orchestrator.impair.tc import impairment_of
from pyroute2.netlink.rtnl.tcmsg import tcmsg

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "impair"


def dump(name: str) -> list[Any]:
    msgs = []
    for line in (FIXTURES / name).read_text().splitlines():
        if line and not line.startswith("#"):
            msg = tcmsg(bytes.fromhex(line))
            msg.decode()
            msgs.append(msg)
    return msgs


def wire(spec: NetemSpec) -> Qdisc:
    """What `set` sends, encoded by pyroute2 and decoded again as a dump message would be."""
    msg = tcmsg()
    msg["index"], msg["handle"], msg["parent"] = 7, 0x10000, TC_H_ROOT
    msg["attrs"] = [["TCA_KIND", "netem"], ["TCA_OPTIONS", tca_options(options_for(spec))]]
    msg.encode()
    back = tcmsg(bytes(msg.data[:msg["header"]["length"]]))
    back.decode()
    return qdisc_from_msg(back)


@pytest.mark.parametrize("spec", [
    NetemSpec(delay_us=50_000),
    NetemSpec(delay_us=100_000, jitter_us=5_000, loss_pct=1.0, rate_kbit=1000, corruption_pct=0.1, duplicate_pct=2.0),
    NetemSpec(loss_pct=100.0), NetemSpec(loss_pct=12.3456, duplicate_pct=0.0001),
    NetemSpec(delay_us=1, jitter_us=3), NetemSpec(delay_us=274_000_000), NetemSpec(rate_kbit=MAX_RATE_KBIT),
])
def test_set_reads_back_the_same(spec: NetemSpec) -> None:
    q = wire(spec)
    assert q.kind == "netem" and q.root and handle_text(q.handle) == "1:"
    assert q.netem is not None and q.netem.unmodelled == ()
    assert spec_of(q.netem) == spec


def test_set_sends_every_option_zeros_included() -> None:
    # the kernel keeps a nested attribute that a change leaves out: a `set` must reset them all
    opts = tca_options(options_for(NetemSpec(delay_us=10_000)))
    assert [a[0] for a in opts["attrs"]] == ["TCA_NETEM_CORR", "TCA_NETEM_REORDER", "TCA_NETEM_CORRUPT",
                                             "TCA_NETEM_RATE"]
    assert opts["attrs"][2][1]["prob_corrupt"] == 0 and opts["attrs"][3][1]["rate"] == 0
    assert opts["delay"] == 156_250 and opts["limit"] == 10_000  # 64 ns ticks; containerlab's limit


def test_netem_dump_as_the_kernel_writes_it() -> None:
    first, second = (qdisc_from_msg(m) for m in dump("netem_dump.hex"))
    assert first.describe() == "netem 8001: root"
    assert first.netem is not None and spec_of(first.netem) == NetemSpec(
        delay_us=50_000, jitter_us=5_000, loss_pct=1.0, rate_kbit=1000, corruption_pct=0.5, duplicate_pct=2.0)
    assert first.netem.unmodelled == ()
    # what NetemSpec has no words for is reported, not dropped
    assert second.netem is not None and spec_of(second.netem) == NetemSpec(delay_us=10_000)
    assert second.netem.unmodelled == ("ECN marking", "reordering (25%, gap 5)", "correlations (delay_corr 25%)")
    shown = impairment_of("eth1", [second])
    assert shown.describe() == ("delay 10ms; also ECN marking; also reordering (25%, gap 5); "
                                "also correlations (delay_corr 25%)")


def test_other_qdiscs_are_named_not_taken_for_netem() -> None:
    (tbf,) = (qdisc_from_msg(m) for m in dump("qdisc_dump_tbf.hex"))
    assert (tbf.kind, tbf.netem, tbf.describe()) == ("tbf", None, "tbf 1: root")
    shown = impairment_of("eth1", [tbf, Qdisc(tbf.ifindex, "noqueue", 0, TC_H_ROOT)])
    assert shown.spec is None and shown.others == ("tbf 1: root",)
    assert shown.describe() == "no impairment; other qdisc tbf 1: root"
    # a netem below it (tc ... parent 1:1 netem) is still found
    below = Qdisc(tbf.ifindex, "netem", 0x20000, 0x10001, options_for(NetemSpec(delay_us=5_000)))
    shown = impairment_of("eth1", [tbf, below])
    assert shown.spec == NetemSpec(delay_us=5_000) and shown.qdisc == "netem 2: parent 1:1"
