"""Set, show and reset an interface's netem impairment inside a lab namespace, over netlink.

As containerlab does, the impairment is one netem qdisc at the interface's root, and the rate is
netem's own (no tbf child). `set` replaces whatever the interface had: a new netem qdisc, under a
handle the interface does not use, is grafted at the root in one netlink request, so the old
qdisc (ours, or anything set by hand) goes with it and there is no moment without an impairment
(where the kernel forbids that, beside a duplicating netem, the root netem is changed in place).
`show` reads the kernel's qdisc dump, so it reports what is there, however it got there.
On a kernel without netem, `set_rate` puts gwlab's tbf (impair/tbf.py) at the root the same way.
"""

from __future__ import annotations

import errno
import functools
import uuid
from dataclasses import dataclass
from typing import Any, Final

from orchestrator.engines.netns import rtnl  # noqa: F401  (rtnl first: it loads pyroute2's netlink alone)
from orchestrator.engines.netns import namespaces as netns
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELQDISC, RTM_NEWQDISC
from pyroute2.netlink.rtnl.tcmsg import tcmsg

from orchestrator.errors import LabError
from orchestrator.impair.access import index_of, interface_names, iproute_in
from orchestrator.impair.codec import (TC_H_ROOT, Qdisc, handle_text, options_for, qdisc_from_msg, spec_of,
                                       tca_options)
from orchestrator.impair.spec import NetemSpec
from orchestrator.impair.tbf import IMPAIR_HANDLE, options_for_rate
from orchestrator.impair.tbf import tca_options as tbf_tca_options

NO_NETEM_FIX: Final = ("this kernel has no netem queueing discipline (sch_netem, CONFIG_NET_SCH_NETEM); "
                       "run the lab on a kernel that has it (Debian's and Ubuntu's do: modprobe sch_netem)")


class NetemUnavailable(LabError):
    """The kernel refused the netem kind itself: nothing was changed."""


@dataclass(frozen=True)
class Impairment:
    """What the kernel says one interface does to its outgoing packets."""

    interface: str
    spec: NetemSpec | None  # None: no netem qdisc (nor gwlab's rate tbf) on the interface
    qdisc: str = ""  # where the netem qdisc (or gwlab's tbf) sits, e.g. "netem 1: root"
    unmodelled: tuple[str, ...] = ()  # netem features set (by hand) that NetemSpec has no field for
    others: tuple[str, ...] = ()  # other qdiscs set on the interface, e.g. "tbf 1: root"

    def describe(self) -> str:
        text = self.spec.describe() if self.spec is not None else "no impairment"
        extra = [*(f"also {u}" for u in self.unmodelled), *(f"other qdisc {o}" for o in self.others)]
        return "; ".join([text, *extra])


def _qdiscs(ipr: Any, index: int | None = None) -> list[Qdisc]:
    dump = ipr.get_qdiscs(index=index) if index is not None else ipr.get_qdiscs()
    found = [qdisc_from_msg(m) for m in dump]
    return [q for q in found if index is None or q.ifindex == index]


def ours(q: Qdisc) -> bool:
    """gwlab's rate tbf (the stand-in for netem's rate on a kernel without netem)."""
    return q.kind == "tbf" and q.root and q.handle == IMPAIR_HANDLE and q.tbf is not None


def impairment_of(interface: str, qdiscs: list[Qdisc]) -> Impairment:
    """What one interface's qdiscs (from a dump) do to its outgoing packets."""
    netems = [q for q in qdiscs if q.netem is not None]
    others = tuple(q.describe() for q in qdiscs if q.netem is None and not q.default and not ours(q))
    rate = next((q for q in qdiscs if ours(q)), None)
    if not netems and rate is not None and rate.tbf is not None:
        return Impairment(interface, NetemSpec(rate_kbit=rate.tbf.rate_kbit),
                          f"{rate.describe()}, burst {rate.tbf.burst_bytes} B", others=others)
    if not netems:
        return Impairment(interface, None, others=others)
    first = min(netems, key=lambda q: not q.root)
    assert first.netem is not None
    more = tuple(f"a second netem qdisc {q.describe()}" for q in netems if q is not first)
    return Impairment(interface, spec_of(first.netem), first.describe(), first.netem.unmodelled + more, others)


def _free_handle(qdiscs: list[Qdisc]) -> int:
    used = {q.handle >> 16 for q in qdiscs}
    return next(major for major in range(1, 0x8000) if major not in used) << 16


def _send(ipr: Any, msg_type: int, flags: int, index: int, handle: int, parent: int,
          attrs: list[list[Any]]) -> None:
    msg = tcmsg()
    msg["index"], msg["handle"], msg["parent"] = index, handle, parent
    msg["attrs"] = attrs
    msg["header"]["type"], msg["header"]["flags"] = msg_type, flags
    # IPRoute.nlm_request's synchronous wrapper fails in pyroute2 0.9 (KeyError 'nlm_generator');
    # the batch call sends one message and raises the kernel's error all the same.
    ipr.nlm_request_batch([msg])


def _graft_root(ipr: Any, index: int, kind: str, options: Any) -> None:
    """A new `kind` qdisc at the interface's root, in place of whatever was there, in one request:
    under a handle no qdisc of the interface has, NLM_F_CREATE|NLM_F_REPLACE makes the kernel create
    it and graft it at the root (a handle in use would change that qdisc's options instead)."""
    _send(ipr, RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, index,
          _free_handle(_qdiscs(ipr, index)), TC_H_ROOT, [["TCA_KIND", kind], ["TCA_OPTIONS", options]])


def _change(ipr: Any, index: int, q: Qdisc, kind: str, options: Any) -> None:
    """New options for an existing qdisc, in place (its handle, same kind)."""
    _send(ipr, RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE, index, q.handle, q.parent,
          [["TCA_KIND", kind], ["TCA_OPTIONS", options]])


def _delete(ipr: Any, index: int, q: Qdisc, where: str) -> None:
    """Remove one qdisc; at the root, the kernel's default comes back. Gone already is fine."""
    try:
        _send(ipr, RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, index, q.handle, q.parent, [])
    except NetlinkError as exc:
        if exc.code not in (errno.ENOENT, errno.EINVAL):  # removed with its parent, or by someone else
            raise LabError(f"could not remove {q.describe()} from {where}: {exc}") from exc


def set_netem(ns: str, interface: str, spec: NetemSpec) -> Impairment:
    """Make `spec` the interface's whole impairment (an empty spec removes it); returns what the
    kernel then reports."""
    if spec.empty:
        reset(ns, interface)
        return show(ns, interface)[0]
    with iproute_in(ns) as ipr:
        index = index_of(ipr, ns, interface)
        root = next((q for q in _qdiscs(ipr, index) if q.root and not q.default), None)
        options = tca_options(options_for(spec))
        try:
            if root is not None and root.netem is not None and (spec.duplicate_pct or root.netem.duplicate):
                # Kernels with check_netem_in_tree (6.16, and 6.12.50 and other stable releases)
                # refuse a netem beside a duplicating one, even for the moment of a graft; the
                # root netem is changed in place instead. Every attribute is sent, so only what
                # NetemSpec has no field for (ECN, slots, a distribution set by hand) can stay.
                _change(ipr, index, root, "netem", options)
            else:
                _graft_root(ipr, index, "netem", options)
        except NetlinkError as exc:
            if exc.code == errno.ENOENT:
                raise NetemUnavailable(f"cannot impair {interface} in {ns}: {NO_NETEM_FIX}; nothing was changed"
                                       ) from exc
            raise LabError(f"the kernel refused netem ({spec.describe()}) on {interface} in {ns}: "
                           f"{exc.args[1] if len(exc.args) > 1 else exc}; nothing was changed") from exc
        return impairment_of(interface, _qdiscs(ipr, index))


def show(ns: str, interface: str | None = None) -> list[Impairment]:
    """Every interface of the namespace (but lo), or the one named, as the kernel reports them."""
    with iproute_in(ns) as ipr:
        names = interface_names(ipr)
        if interface is not None:
            index = index_of(ipr, ns, interface)
            return [impairment_of(interface, _qdiscs(ipr, index))]
        qdiscs = _qdiscs(ipr)
        return [impairment_of(name, [q for q in qdiscs if q.ifindex == index])
                for index, name in sorted(names.items(), key=lambda kv: kv[1]) if name != "lo"]


def set_rate(ns: str, interface: str, rate_kbit: int) -> Impairment:
    """gwlab's tbf at the interface's root at `rate_kbit` (0 removes it); returns what the kernel then
    reports. One request: a new tbf under IMPAIR_HANDLE grafted in place of whatever was at the root,
    or, when the root is that tbf already, its options changed in place (the kernel's rule for a
    handle that names the root qdisc)."""
    with iproute_in(ns) as ipr:
        index = index_of(ipr, ns, interface)
        qdiscs = _qdiscs(ipr, index)
        mine = [q for q in qdiscs if ours(q)]
        if not rate_kbit:
            for q in mine:
                _delete(ipr, index, q, f"{interface} in {ns}")
            return impairment_of(interface, _qdiscs(ipr, index))
        clash = [q for q in qdiscs if q.handle == IMPAIR_HANDLE and not ours(q)]
        if clash:
            raise LabError(f"cannot set a rate on {interface} in {ns}: {clash[0].describe()} holds the handle "
                           f"{handle_text(IMPAIR_HANDLE)} gwlab's rate qdisc uses; remove it first; nothing was changed")
        mtu = int(ipr.get_links(index)[0].get_attr("IFLA_MTU") or 1500)
        options = tbf_tca_options(options_for_rate(rate_kbit, mtu))
        try:
            _send(ipr, RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, index, IMPAIR_HANDLE,
                  TC_H_ROOT, [["TCA_KIND", "tbf"], ["TCA_OPTIONS", options]])
        except NetlinkError as exc:
            raise LabError(f"the kernel refused a tbf of rate {rate_kbit}kbit on {interface} in {ns}: "
                           f"{exc.args[1] if len(exc.args) > 1 else exc}; nothing was changed") from exc
        return impairment_of(interface, _qdiscs(ipr, index))


def reset(ns: str, interface: str) -> bool:
    """Remove the interface's netem impairment (and gwlab's rate tbf); False (and no error) when it
    had none.

    A netem qdisc at the root is removed with the root (the kernel's default qdisc comes back);
    one that someone put below another qdisc is removed alone, leaving the rest as it was."""
    with iproute_in(ns) as ipr:
        index = index_of(ipr, ns, interface)
        netems = [q for q in _qdiscs(ipr, index) if q.netem is not None or ours(q)]
        for q in sorted(netems, key=lambda q: not q.root):
            _delete(ipr, index, q, f"{interface} in {ns}")
        return bool(netems)


@functools.cache
def netem_available() -> bool:
    """Whether this kernel has netem, asked of the kernel itself: a netem qdisc on the loopback of
    a scratch namespace made for the question and removed at once (no lab is touched)."""
    probe = f"gwlab-netem-{uuid.uuid4().hex[:8]}.probe"  # a lab name of its own: `gwlab clean` finds a leftover
    try:
        with netns.create(probe):
            pass
        with iproute_in(probe) as ipr:
            try:
                _send(ipr, RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, 1, 0x10000,
                      TC_H_ROOT, [["TCA_KIND", "netem"], ["TCA_OPTIONS", tca_options(options_for(NetemSpec()))]])
            except NetlinkError as exc:
                if exc.code == errno.ENOENT:
                    return False
                raise
            return True
    finally:
        netns.remove(probe)
