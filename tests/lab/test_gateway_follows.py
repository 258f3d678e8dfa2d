"""The gateway on a running lab, as its objects change: a listener Envoy would refuse never reaches
the proxy (the Gateway says why, the running config stays); a proxy pod that moves to another node
takes the bastion's /32 with it, and `gwlab verify` follows it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import gwlab

pytestmark = pytest.mark.lab
GATEWAY = "tls-passthrough-gateway"
HOST = "passthrough.example.com"


def get(lab: str, *args: str) -> Any:
    return json.loads(gwlab("get", "--lab", lab, *args, "-o", "json").stdout)


def condition(conditions: list[dict[str, Any]], kind: str) -> tuple[str, str, str]:
    c = next(c for c in conditions if c["type"] == kind)
    return c["status"], c["reason"], c["message"]


def listeners_running(lab: str) -> dict[str, tuple[int, str]]:
    """The proxy's Envoy listeners, from its own config dump: name -> (port, when it was last updated)."""
    dump = json.loads(gwlab("egctl", "config", "envoy-proxy", "listener", "--lab", lab, "-o", "json").stdout)
    [pod] = dump["tigera-gateway"].values()
    [listeners] = [c["dynamic_listeners"] for c in pod["configs"] if "dynamic_listeners" in c]
    return {lst["name"]: (lst["active_state"]["listener"]["address"]["socket_address"]["port_value"],
                          lst["active_state"]["last_updated"]) for lst in listeners}


def workshop_curl(lab: str, address: str) -> subprocess.CompletedProcess[str]:
    return gwlab("exec", "--lab", lab, "bastion", "--", "curl", "-sS", "--max-time", "5", "--resolve",
                 f"{HOST}:6443:{address}", "--cacert", certs(lab), f"https://{HOST}:6443/get", check=False)


def certs(lab: str) -> str:
    return gwlab("certs", "--lab", lab).stdout.strip() + "/example.com.crt"


def test_a_listener_envoy_would_refuse_never_reaches_it(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    before = listeners_running(lab_name)
    assert {name: port for name, (port, _) in before.items()} == {
        f"default/{GATEWAY}/http": 10080, f"default/{GATEWAY}/tls": 6443}
    # Port 80's listener is 10080 inside the proxy: a TCP listener of port 10080 beside it is a second
    # Envoy listener on the same address, which Envoy refuses.
    patch = [{"op": "add", "path": "/spec/listeners/-", "value": {"name": "raw", "port": 10080, "protocol": "TCP"}}]
    gwlab("patch", "--lab", lab_name, "gateway", GATEWAY, "--type", "json", "-p", json.dumps(patch))
    status = get(lab_name, "gateway", GATEWAY)["status"]
    programmed = condition(status["conditions"], "Programmed")
    assert programmed[:2] == ("False", "Invalid"), programmed
    assert "'default/tls-passthrough-gateway/raw' has duplicate address '0.0.0.0:10080'" in programmed[2]
    assert "the proxy keeps its previous configuration" in programmed[2]
    by_name = {lst["name"]: lst for lst in status["listeners"]}
    assert condition(by_name["raw"]["conditions"], "Programmed")[:2] == ("False", "Invalid")
    # The running Envoy never saw it: the same listeners, not one of them updated.
    assert listeners_running(lab_name) == before
    address = status["addresses"][0]["value"]
    answer = workshop_curl(lab_name, address)
    assert answer.returncode == 0 and json.loads(answer.stdout)["tls"]["serverName"] == HOST

    # Taken out again, the Gateway is Programmed, and the proxy's config was never touched.
    gwlab("patch", "--lab", lab_name, "gateway", GATEWAY, "--type", "json", "-p",
          json.dumps([{"op": "remove", "path": "/spec/listeners/2"}]))
    status = get(lab_name, "gateway", GATEWAY)["status"]
    assert condition(status["conditions"], "Programmed")[:2] == ("True", "Programmed")
    assert listeners_running(lab_name) == before


def node_ips(lab: str) -> dict[str, str]:
    nodes = get(lab, "nodes")["items"]
    return {n["metadata"]["name"]: next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
            for n in nodes}


def proxy_nodes(lab: str) -> set[str]:
    pods = get(lab, "pods", "-n", "tigera-gateway")["items"]
    return {p["spec"]["nodeName"] for p in pods
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))}


def bastion_next_hops(lab: str, prefix: str) -> set[str]:
    routes = json.loads(gwlab("exec", "--lab", lab, "bastion", "--", "ip", "-j", "route", "show", prefix).stdout)
    [route] = routes
    return {h["gateway"] for h in route["nexthops"]} if "nexthops" in route else {route["gateway"]}


def slash_32_check(lab: str) -> dict[str, Any]:
    out = gwlab("verify", "--lab", lab, "--json", "--wait", "15", check=False)
    doc = json.loads(out.stdout)
    [check] = [c for c in doc["checks"] if c["check"].startswith("10.10.10.0/32") and "kernel" in c["check"]]
    assert out.returncode == 0, [c for c in doc["checks"] if not c["ok"]]
    return dict(check)


def test_verify_follows_a_proxy_pod_that_moves(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    ips = node_ips(lab_name)
    [first] = proxy_nodes(lab_name)
    assert bastion_next_hops(lab_name, "10.10.10.0/32") == {ips[first]}
    assert slash_32_check(lab_name)["ok"]

    # The proxy pod goes with its Gateway, and comes back where the scheduler puts it now: the echo
    # server's second replica evens the workers out, so the first worker (the echo pod's) takes it.
    gateway = get(lab_name, "gateway", GATEWAY)
    gateway.pop("status")
    gateway["metadata"] = {"name": GATEWAY, "namespace": "default"}
    gwlab("delete", "--lab", lab_name, "gateway", GATEWAY)
    gwlab("scale", "--lab", lab_name, "deployment", "passthrough-echoserver", "--replicas", "2")
    (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(gateway))
    gwlab("apply", "--lab", lab_name, "-f", str(tmp_path / "gateway.yaml"))
    [moved] = proxy_nodes(lab_name)
    assert moved != first
    check = slash_32_check(lab_name)
    assert check["ok"] and bastion_next_hops(lab_name, "10.10.10.0/32") == {ips[moved]}, check
    address = get(lab_name, "gateway", GATEWAY)["status"]["addresses"][0]["value"]
    answer = workshop_curl(lab_name, address)
    assert answer.returncode == 0, answer.stderr
