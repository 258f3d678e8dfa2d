"""The host bridge the containerlab engine makes before `containerlab deploy`: real netlink, in a
throwaway network namespace of the test's own (the host's links are never touched)."""

from __future__ import annotations

import os
import uuid

import pytest

from orchestrator.engines.netns import namespaces as netns
from orchestrator.engines.clab.bridge import NetlinkBridges


@pytest.mark.skipif(os.geteuid() != 0, reason="making a network namespace needs root")
def test_bridge_made_and_removed_over_netlink() -> None:
    ns = "gwlabt-br-" + uuid.uuid4().hex[:6]
    bridges = NetlinkBridges()
    try:
        with netns.create(ns):
            pass
        with netns.inside(ns):
            assert not bridges.exists("gwlab-br")
            bridges.create("gwlab-br")
            assert bridges.exists("gwlab-br")
            from pyroute2 import IPRoute

            with IPRoute() as ipr:
                link = ipr.get_links(ipr.link_lookup(ifname="gwlab-br")[0])[0]
                assert link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") == "bridge"
                assert link.get("flags") & 1  # IFF_UP
            assert bridges.remove("gwlab-br") is True
            assert bridges.remove("gwlab-br") is False and not bridges.exists("gwlab-br")
    finally:
        netns.remove(ns)
    assert not netns.exists(ns)
