"""A lab bigger than the workshop's pod pool holds: 20 nodes from orchestrator.topology_gen, with the
pool it writes, come up, verify on live state, and go without a trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import topology_gen
from orchestrator.timing import PROCESS_START

from .helpers import gwlab, leftovers

pytestmark = pytest.mark.lab
NODES = 20


def test_twenty_nodes_up_verify_down(lab_name: str, tmp_path: Path) -> None:
    topo = topology_gen.write_resized(tmp_path, NODES - 1)
    manifests = str(topology_gen.manifests_for(topo))
    up = json.loads(gwlab("up", "--lab", lab_name, "-t", str(topo), "-f", manifests, "--bgp-only", "--json",
                          check=False).stdout)
    assert up["ok"], [c for c in up["checks"] if not c["ok"]]
    names = {c["check"] for c in up["checks"]}
    # Every node's block, the last ones outside the workshop's 10.50.0.0/24, reached the bastion from it.
    assert "pod block 10.50.1.48/28 of worker19" in names and sum(n.startswith("pod block") for n in names) == NODES
    assert any("10.10.10.0/26 in the bastion's kernel" in n for n in names)
    # up names its phases from the process's start and they add up to its total.
    assert PROCESS_START in up["phases"] and abs(sum(up["phases"].values()) - up["total"]) < 0.01

    verify = json.loads(gwlab("verify", "--lab", lab_name, "--json").stdout)
    assert verify["ok"] and len(verify["checks"]) == len(up["checks"])
    route = gwlab("exec", "--lab", lab_name, "bastion", "--", "ip", "route", "show", "10.10.10.0/26").stdout
    assert route.count("nexthop via") == NODES, route

    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []
