"""A rate as a tbf qdisc (the stand-in for netem's rate on a kernel without netem), to and from the kernel.

netem's rate is a shaper with a queue of 10,000 packets and no burst. The tbf here is as close as a
token bucket gets: its burst is one millisecond of the rate, at least two full frames (a frame larger
than the burst would be dropped), and its queue holds as many bytes as netem's 10,000 full frames.
The qdisc sits at the interface's root under the handle IMPAIR_HANDLE, which marks it as gwlab's:
`show` calls only that one a rate impairment, `reset` removes only that one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from orchestrator.engines.netns import rtnl  # noqa: F401  (rtnl first: it loads pyroute2's netlink alone)
from pyroute2.netlink.rtnl.tcmsg import common, sched_tbf

IMPAIR_HANDLE: Final = 0x9E << 16  # "9e:", a handle the kernel never picks by itself (it counts from 8000:)
NETEM_LIMIT_PACKETS: Final = 10000
ETH_HEADER: Final = 14


@dataclass(frozen=True)
class TbfOptions:
    rate_bytes: int  # bytes per second
    burst_bytes: int
    limit_bytes: int

    @property
    def rate_kbit(self) -> int:
        return round(self.rate_bytes * 8 / 1000)


def options_for_rate(rate_kbit: int, mtu: int) -> TbfOptions:
    frame = mtu + ETH_HEADER
    rate = rate_kbit * 125
    return TbfOptions(rate_bytes=rate, burst_bytes=max(rate // 1000, 2 * frame),
                      limit_bytes=NETEM_LIMIT_PACKETS * frame)


def tca_options(opts: TbfOptions) -> Any:
    """pyroute2's TCA_OPTIONS value for tbf (its parms and rate table, as `tc` computes them)."""
    return sched_tbf.get_parameters({"rate": f"{opts.rate_bytes * 8}bit", "burst": opts.burst_bytes,
                                     "limit": opts.limit_bytes})


def tbf_from_tca(options: Any) -> TbfOptions:
    """TbfOptions from a decoded TCA_OPTIONS of a tbf qdisc (a pyroute2 nla or its dict)."""
    parms: Any = None
    if hasattr(options, "get_attr"):
        parms = options.get_attr("TCA_TBF_PARMS")
    if parms is None and isinstance(options, Mapping):
        parms = dict(options.get("attrs", [])).get("TCA_TBF_PARMS")
    if parms is None:
        return TbfOptions(0, 0, 0)
    rate, buffer_ticks, limit = int(parms["rate"]), int(parms["buffer"]), int(parms["limit"])
    # buffer is the burst as the time it takes to send at the rate, in the kernel's scheduler ticks
    burst = round(buffer_ticks / common.tick_in_usec * rate / common.TIME_UNITS_PER_SEC) if rate else 0
    return TbfOptions(rate_bytes=rate, burst_bytes=burst, limit_bytes=limit)
