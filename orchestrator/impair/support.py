"""What this kernel can impair with, asked of the kernel itself, once per process.

netem is asked for by `tc.netem_available`; tbf and nftables' netdev egress hook with numgen (what a
kernel without netem can still do, impair/plan.py) are asked in a scratch namespace of their own,
made for the question and removed at once: a tbf on its loopback and the loss rule nft.py writes
(~50 ms in all, asked only by a process that sets, shows or declares an impairment).
"""

from __future__ import annotations

import errno
import functools
import uuid

from orchestrator.engines.netns import namespaces as netns
from orchestrator.errors import LabError
from orchestrator.impair import nft, tc
from orchestrator.impair.plan import KernelSupport
from pyroute2.netlink.exceptions import NetlinkError


@functools.cache
def kernel_support() -> KernelSupport:
    netem = tc.netem_available()
    probe = f"gwlab-impair-{uuid.uuid4().hex[:8]}.probe"  # a lab name of its own: `gwlab clean` finds a leftover
    try:
        with netns.create(probe):
            pass
        try:
            tc.set_rate(probe, "lo", 1000)
            tbf = True
        except LabError as exc:
            if not isinstance(exc.__cause__, NetlinkError) or exc.__cause__.code != errno.ENOENT:
                raise
            tbf = False
        try:
            nft.set_loss(probe, "lo", 1.0)
            egress = True
        except (LabError, OSError):  # refused, or no nft at all
            egress = False
        return KernelSupport(netem=netem, tbf=tbf, nft_egress=egress)
    finally:
        netns.remove(probe)
