"""A kernel without netem: which mechanism carries which field (and the refusal naming the rest), the
nftables loss rule and the tbf rate as they are sent to the kernel and read back (real outputs of this
kernel as fixtures), and a `set` that is refused or fails half-way leaving the interface as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.engines.netns import rtnl  # noqa: F401  (loads pyroute2's netlink first, as the package does)
from orchestrator.errors import LabError
from orchestrator.faults import setup
from orchestrator.impair import apply, nft, tc
from orchestrator.impair.codec import TC_H_ROOT, handle_text, qdisc_from_msg
from orchestrator.impair.declared import DeclaredImpairment, declared_impairments
from orchestrator.impair.plan import KernelSupport, Mechanism, plan
from orchestrator.impair.spec import NetemSpec, netem_spec
from orchestrator.impair.tbf import IMPAIR_HANDLE, TbfOptions, options_for_rate, tbf_from_tca
from orchestrator.impair.tbf import tca_options as tbf_options
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_DELQDISC, RTM_NEWQDISC
from pyroute2.netlink.rtnl.tcmsg import tcmsg
from tests.unit.test_impair_codec import dump
from tests.unit.test_impair_tc import Kernel as TcKernel

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "impair"
NETEM = KernelSupport(netem=True, tbf=True, nft_egress=True)
HERE = KernelSupport(netem=False, tbf=True, nft_egress=True)  # this machine's kernel, and CI's
ALL = netem_spec(delay=20, jitter=2, loss=5, rate=1000, corruption=0.1, duplicate=1)


# -- the decision --------------------------------------------------------------------------------------

def test_with_netem_every_field_is_netems() -> None:
    p = plan(ALL, NETEM)
    assert p.possible and {m for _, m in p.by_field} == {Mechanism.NETEM} and len(p.by_field) == 6


def test_without_netem_rate_is_tbf_and_loss_is_nftables() -> None:
    p = plan(netem_spec(loss=5, rate=100_000), HERE)
    assert p.possible and p.by_field == (("loss", Mechanism.NFT), ("rate", Mechanism.TBF))
    assert plan(NetemSpec(), HERE).by_field == ()


@pytest.mark.parametrize("spec, refused", [
    (netem_spec(delay=20), ("delay",)),
    (netem_spec(delay=20, jitter=2, loss=1), ("delay", "jitter")),
    (netem_spec(corruption=0.5, rate=10), ("corruption",)),
    (netem_spec(duplicate=1), ("duplicate",)),
    (ALL, ("delay", "jitter", "corruption", "duplicate")),
])
def test_without_netem_the_rest_is_refused_by_name(spec: NetemSpec, refused: tuple[str, ...]) -> None:
    p = plan(spec, HERE)
    assert p.refused == refused and not p.possible
    message = p.refusal("worker1:eth1")
    assert message.startswith(f"cannot impair worker1:eth1 with {', '.join(refused)}: ")
    assert "CONFIG_NET_SCH_NETEM is not set" in message
    assert "--loss (an nftables drop rule" in message and "--rate (a tbf qdisc)" in message
    assert message.endswith("nothing was changed")


def test_a_kernel_without_tbf_or_egress_hooks_says_which() -> None:
    p = plan(netem_spec(loss=1, rate=10), KernelSupport(netem=False, tbf=False, nft_egress=False))
    assert p.refused == ("loss", "rate")
    message = p.refusal("bastion:eth1")
    assert "CONFIG_NET_SCH_TBF" in message and "CONFIG_NETFILTER_EGRESS" in message
    assert "no impairment can be applied on this kernel" in message
    only_tbf = plan(netem_spec(loss=1, rate=10), KernelSupport(netem=False, tbf=True, nft_egress=False))
    assert only_tbf.refused == ("loss",) and only_tbf.mechanism("rate") is Mechanism.TBF


# -- nftables: the loss rule ------------------------------------------------------------------------

def test_loss_is_one_transaction_that_replaces_the_chain() -> None:
    assert nft.set_script("eth1", 5.0) == (
        "add table netdev gwlab_impair\n"
        "add chain netdev gwlab_impair egress-eth1 { type filter hook egress device \"eth1\" priority 0; "
        "policy accept; }\n"
        "flush chain netdev gwlab_impair egress-eth1\n"
        "add rule netdev gwlab_impair egress-eth1 numgen random mod 1000000 <= 49999 counter drop "
        "comment \"gwlab netem loss 5%\"\n")
    assert [nft.threshold(p) for p in (0.0001, 0.5, 5, 99.9999, 100)] == [1, 5000, 50000, 999999, 1000000]
    assert nft.threshold(1e-9) == 1  # any loss drops something: below one in a million it is rounded up


def test_remove_deletes_only_what_exists() -> None:
    assert nft.remove_script("eth1", set()) == ""
    assert nft.remove_script("eth1", {"egress-eth2"}) == ""
    assert nft.remove_script("eth1", {"egress-eth1"}) == "delete table netdev gwlab_impair\n"
    assert nft.remove_script("eth1", {"egress-eth1", "egress-eth2"}) == "delete chain netdev gwlab_impair egress-eth1\n"
    with pytest.raises(LabError, match="cannot name an nftables chain"):
        nft.set_script("eth1; flush ruleset", 1)


def test_the_table_as_nft_lists_it() -> None:
    # nft -j list of a real table: egress-eth1 as set_script writes it, 25%, after 402 packets left
    # through it (93 dropped, 309 arrived at the peer); egress-lo with a rule gwlab did not write.
    rules = nft.parse((FIXTURES / "nft-gwlab_impair.json").read_text())
    assert rules["eth1"] == nft.LossRule("eth1", 25.0, 93)
    assert rules["lo"].loss_pct is None
    assert rules["eth1"].describe() == "nftables netdev gwlab_impair egress-eth1, 93 packets dropped"
    assert nft.parse('{"nftables": [{"metainfo": {}}]}') == {}


# -- tbf: the rate ----------------------------------------------------------------------------------

def test_rate_as_a_tbf_close_to_netems_shaper() -> None:
    assert options_for_rate(100_000, 1500) == TbfOptions(rate_bytes=12_500_000, burst_bytes=12_500,
                                                         limit_bytes=10_000 * 1514)
    assert options_for_rate(100, 1500).burst_bytes == 2 * 1514  # never below two full frames
    for opts in (options_for_rate(100, 1500), options_for_rate(34_000_000, 9000)):
        assert tbf_from_tca(tbf_options(opts)) == opts


def test_gwlabs_tbf_as_the_kernel_dumps_it_is_a_rate_and_a_hand_made_one_is_not() -> None:
    (ours,) = (qdisc_from_msg(m) for m in dump("qdisc_dump_gwlab_tbf.hex"))
    assert ours.tbf == TbfOptions(12_500_000, 12_500, 10_000 * 1514) and handle_text(ours.handle) == "9e:"
    shown = tc.impairment_of("eth1", [ours])
    assert shown.spec == NetemSpec(rate_kbit=100_000) and shown.qdisc == "tbf 9e: root, burst 12500 B"
    (hand,) = (qdisc_from_msg(m) for m in dump("qdisc_dump_tbf.hex"))
    assert tc.impairment_of("eth1", [hand]).spec is None  # tbf 1:, made with tc by someone: not gwlab's


class Kernel(TcKernel):
    """The tc tests' kernel, which also answers the link's MTU (the tbf's burst is sized from it)."""

    def get_links(self, index: int) -> list[Any]:
        return [SimpleNamespace(get_attr=lambda name: 1500 if name == "IFLA_MTU" else None)]


def qdisc_msg(kind: str, handle: int, options: Any = None) -> Any:
    msg = tcmsg()
    msg["index"], msg["handle"], msg["parent"] = 7, handle, TC_H_ROOT
    msg["attrs"] = [["TCA_KIND", kind]] + ([["TCA_OPTIONS", options]] if options else [])
    msg.encode()
    back = tcmsg(bytes(msg.data[:msg["header"]["length"]]))
    back.decode()
    return back


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> list[Kernel]:
    box: list[Kernel] = []

    @contextmanager
    def iproute_in(ns: str) -> Iterator[Kernel]:
        yield box[0]

    monkeypatch.setattr(tc, "iproute_in", iproute_in)
    monkeypatch.setattr(tc, "index_of", lambda ipr, ns, interface: 7)
    return box


def test_set_rate_is_one_request_under_gwlabs_handle(kernel: list[Kernel]) -> None:
    kernel.append(Kernel([qdisc_msg("tbf", 0x10000, tbf_options(options_for_rate(5, 1500)))]))
    tc.set_rate("gwlab-x.n", "eth1", 2000)
    ((kind, flags, msg),) = kernel[0].sent
    q = qdisc_from_msg(msg)
    assert (kind, flags, q.parent, handle_text(q.handle), q.kind) == (
        RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, TC_H_ROOT, "9e:", "tbf")
    assert q.tbf == options_for_rate(2000, 1500)


def test_rate_zero_removes_only_gwlabs_tbf(kernel: list[Kernel]) -> None:
    kernel.append(Kernel([qdisc_msg("tbf", IMPAIR_HANDLE, tbf_options(options_for_rate(5, 1500)))]))
    tc.set_rate("gwlab-x.n", "eth1", 0)
    assert [(k, handle_text(m["handle"])) for k, _, m in kernel[0].sent] == [(RTM_DELQDISC, "9e:")]
    kernel[0] = Kernel([qdisc_msg("tbf", 0x10000, tbf_options(options_for_rate(5, 1500)))])
    tc.set_rate("gwlab-x.n", "eth1", 0)
    assert kernel[0].sent == []
    assert tc.reset("gwlab-x.n", "eth1") is False  # a hand-made tbf is left alone by reset too


def test_a_handle_clash_is_refused_before_anything_is_sent(kernel: list[Kernel]) -> None:
    kernel.append(Kernel([qdisc_msg("htb", IMPAIR_HANDLE)]))
    with pytest.raises(LabError, match="htb 9e: root holds the handle 9e:.*nothing was changed"):
        tc.set_rate("gwlab-x.n", "eth1", 10)
    assert kernel[0].sent == []


# -- set: refused whole, or applied whole --------------------------------------------------------------

class Recorder:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, support: KernelSupport, old_loss: float | None = None,
                 refuse_rate: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        rules = {} if old_loss is None else {"eth1": nft.LossRule("eth1", old_loss, 0)}
        monkeypatch.setattr(apply, "kernel_support", lambda: support)
        monkeypatch.setattr(tc, "show", lambda ns, i=None: [tc.Impairment(i or "eth1", None)])
        monkeypatch.setattr(tc, "set_netem", lambda ns, i, s: self.record("netem", s))
        monkeypatch.setattr(nft, "read", lambda ns: rules)
        monkeypatch.setattr(nft, "set_loss", lambda ns, i, pct: self.calls.append(("loss", pct)))
        monkeypatch.setattr(nft, "remove", lambda ns, i: self.calls.append(("loss removed",)))

        def set_rate(ns: str, i: str, kbit: int) -> tc.Impairment:
            self.calls.append(("rate", kbit))
            if refuse_rate:
                raise LabError("the kernel refused a tbf")
            return tc.Impairment(i, None)
        monkeypatch.setattr(tc, "set_rate", set_rate)

    def record(self, *call: Any) -> tc.Impairment:
        self.calls.append(call)
        return tc.Impairment("eth1", call[-1], "netem 1: root")


def test_a_refused_set_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Recorder(monkeypatch, HERE)
    with pytest.raises(apply.ImpairmentRefused, match="cannot impair worker1:eth1 with delay: .*nothing was changed"):
        apply.set_impairment("gwlab-x.w", "eth1", netem_spec(delay=20, loss=5), "worker1:eth1")
    assert r.calls == []


def test_set_without_netem_replaces_loss_and_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Recorder(monkeypatch, HERE, old_loss=50.0)
    apply.set_impairment("gwlab-x.w", "eth1", netem_spec(rate=100), "worker1:eth1")
    assert r.calls == [("loss", 0.0), ("rate", 100)]  # the old loss goes: a set replaces


def test_without_the_egress_hook_a_rate_never_touches_nftables(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Recorder(monkeypatch, KernelSupport(netem=False, tbf=True, nft_egress=False))
    monkeypatch.setattr(nft, "read", lambda ns: pytest.fail("nft was run"))
    apply.set_impairment("gwlab-x.w", "eth1", netem_spec(rate=100), "worker1:eth1")
    assert r.calls == [("rate", 100)]


@pytest.mark.parametrize("old, undo", [(50.0, ("loss", 50.0)), (None, ("loss removed",))])
def test_a_rate_the_kernel_refuses_puts_the_loss_back(monkeypatch: pytest.MonkeyPatch, old: float | None,
                                                      undo: tuple[Any, ...]) -> None:
    r = Recorder(monkeypatch, HERE, old_loss=old, refuse_rate=True)
    with pytest.raises(LabError, match="refused a tbf"):
        apply.set_impairment("gwlab-x.w", "eth1", netem_spec(loss=5, rate=100), "worker1:eth1")
    assert r.calls == [("loss", 5.0), ("rate", 100), undo]


def test_with_netem_set_is_netems_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Recorder(monkeypatch, NETEM)
    shown = apply.set_impairment("gwlab-x.w", "eth1", ALL, "worker1:eth1")
    assert r.calls == [("netem", ALL)] and shown.via == ("netem 1: root",)


def test_show_names_each_mechanism() -> None:
    qdiscs = tc.Impairment("eth1", NetemSpec(rate_kbit=100_000), "tbf 9e: root, burst 12500 B")
    shown = apply.combine(qdiscs, nft.LossRule("eth1", 5.0, 12))
    assert shown.spec == NetemSpec(loss_pct=5.0, rate_kbit=100_000)
    assert shown.describe() == "loss 5% rate 100000kbit"
    assert shown.via == ("tbf 9e: root, burst 12500 B", "nftables netdev gwlab_impair egress-eth1, 12 packets dropped")
    assert apply.combine(tc.Impairment("eth1", None), None) == apply.Applied("eth1", None)
    foreign = apply.combine(tc.Impairment("eth1", None), nft.LossRule("eth1", None, 0))
    assert foreign.spec is None and foreign.notes == ("the nftables chain holds rules gwlab did not write",)


# -- declared in the topology -----------------------------------------------------------------------------

def test_up_refuses_declared_fields_this_kernel_cannot_apply_naming_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    path = FIXTURES / "impaired.clab.yml"
    found = declared_impairments(yaml.safe_load(path.read_text()), str(path))
    monkeypatch.setattr(setup, "declared", lambda topo: list(found.impairments))
    monkeypatch.setattr(apply, "kernel_support", lambda: HERE)
    with pytest.raises(LabError) as err:
        setup.declared_for_up(SimpleNamespace(path=path))  # type: ignore[arg-type]
    message = str(err.value)
    assert message.startswith(f"{path}: declares impairments this kernel cannot apply: ")
    assert "topology.links[0] (vars.netem of bastion:eth1: delay, jitter)" in message
    assert "topology.links[2] (vars.netem of calico-worker:eth1: delay)" in message
    assert "CONFIG_NET_SCH_NETEM" in message and "nothing was made" in message

    loss_and_rate = [DeclaredImpairment("calico-worker", "eth1", netem_spec(loss=5, rate=100_000), "topology.links[2]")]
    monkeypatch.setattr(setup, "declared", lambda topo: loss_and_rate)
    assert setup.declared_for_up(SimpleNamespace(path=path)) == loss_and_rate  # type: ignore[arg-type]
    monkeypatch.setattr(apply, "kernel_support", lambda: NETEM)
    monkeypatch.setattr(setup, "declared", lambda topo: list(found.impairments))
    assert len(setup.declared_for_up(SimpleNamespace(path=path))) == len(found.impairments)  # type: ignore[arg-type]


def test_fault_clear_puts_each_interface_back_to_the_topologys(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.faults import netem_ops

    declared = DeclaredImpairment("calico-worker", "eth1", netem_spec(loss=5, rate=100_000), "topology.links[2]")
    now = {("gwlab-t.bastion", "eth1"): NetemSpec(rate_kbit=4000),          # set since up: removed
           ("gwlab-t.calico-worker", "eth1"): NetemSpec(loss_pct=50.0),     # changed since up: back
           ("gwlab-t.gwlab-br", "gwlab-w1"): None}                           # not impaired: left alone
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(setup, "declared", lambda topo: [declared])
    monkeypatch.setattr(setup, "namespace_of", lambda topo, node: f"gwlab-t.{node}")
    monkeypatch.setattr(apply, "show", lambda ns, i=None: [apply.Applied(iface, spec)
                                                           for (n, iface), spec in now.items() if n == ns])

    def reset(ns: str, interface: str) -> bool:
        calls.append(("reset", ns, interface))
        return True
    monkeypatch.setattr(apply, "reset", reset)
    monkeypatch.setattr(apply, "set_impairment", lambda ns, i, spec, where: calls.append(("set", ns, i, spec)))
    topo = SimpleNamespace(routers=[SimpleNamespace(name="bastion"), SimpleNamespace(name="calico-worker")],
                           bridge="gwlab-br")
    done = netem_ops.restore_declared(SimpleNamespace(topo=topo))  # type: ignore[arg-type]
    assert done == ["netem bastion:eth1: rate 4000kbit removed",
                    "netem calico-worker:eth1: back to the topology's loss 5% rate 100000kbit"]
    assert calls == [("reset", "gwlab-t.bastion", "eth1"), ("set", "gwlab-t.calico-worker", "eth1", declared.spec)]
    now[("gwlab-t.calico-worker", "eth1")] = declared.spec
    del now[("gwlab-t.bastion", "eth1")]
    calls.clear()
    assert netem_ops.restore_declared(SimpleNamespace(topo=topo)) == [] and calls == []  # type: ignore[arg-type]
