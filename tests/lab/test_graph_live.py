"""gwlab graph --live on a whole workshop lab: sessions, LoadBalancer routes, pods, the gateway's path."""

from __future__ import annotations

import time

import pytest

from orchestrator.bird import parse

from orchestrator.graph.model import node_id

from .helpers import gwlab, leftovers

pytestmark = pytest.mark.lab


def test_live_picture_of_the_workshop(lab_name: str) -> None:
    try:
        gwlab("up", "--lab", lab_name)
        text = gwlab("graph", "--live", "--lab", lab_name).stdout
        for node in ("calico-control-plane", "calico-worker", "calico-worker2"):
            assert f'{node_id("bastion")} -.-|"iBGP Established"| {node_id(node)}' in text, text
        route = node_id("route 10.10.10.0/26")
        for hop, node in (("10.0.1.11", "calico-control-plane"), ("10.0.1.12", "calico-worker"),
                          ("10.0.1.13", "calico-worker2")):
            assert f'{route} -->|"next hop {hop}"| {node_id(node)}' in text, text
        pods = [ln for ln in text.splitlines() if ln.strip().startswith("n_pod_") and "[" in ln]
        assert any("(echo)" in ln for ln in pods) and any("(gateway)" in ln for ln in pods), text
        gateway = node_id("gateway default/tls-passthrough-gateway")
        assert f'{node_id("bastion")} ==>|"curl (client)"| {gateway}' in text
        assert '==>|"kube-proxy DNAT"|' in text and '==>|"TLSRoute default/tls-passthrough :8443"|' in text
        gwlab("bird", "stop", "worker1", "--lab", lab_name)
        deadline = time.monotonic() + 10  # the bastion sees the session close once it reads the NOTIFICATION
        while True:
            rows = {p.name: p for p in parse.parse_protocols(
                gwlab("birdc", "--lab", lab_name, "bastion", "show", "protocols").stdout)}
            if not rows["worker1"].info.startswith("Established") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        text = gwlab("graph", "--live", "--lab", lab_name).stdout
        assert f'{node_id("bastion")} -.-|"iBGP {rows["worker1"].info.split()[0]}"| {node_id("calico-worker")}' in text
        assert "iBGP Established\"| " + node_id("calico-worker") + "\n" not in text
        assert f'{route} -->|"next hop 10.0.1.12"|' not in text, text
    finally:
        gwlab("down", "--lab", lab_name, check=False)
    assert leftovers(lab_name) == []
