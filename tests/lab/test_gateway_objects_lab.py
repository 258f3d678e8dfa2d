"""The controllers' own objects through the real kubectl: the gateway proxy's Deployment and
LoadBalancer Service in tigera-gateway (Envoy Gateway's names and labels, made again when the user
deletes them), the Deployments' ReplicaSets owning their pods (a new one per template, the old one at
0); and a TCPRoute on a TCP listener carrying the workshop's TLS as plain TCP to the echo pod."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import gwlab

pytestmark = pytest.mark.lab
HOST = "passthrough.example.com"
PROXY_LABELS = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
                "app.kubernetes.io/managed-by": "envoy-gateway",
                "gateway.envoyproxy.io/owning-gateway-name": "tls-passthrough-gateway",
                "gateway.envoyproxy.io/owning-gateway-namespace": "default"}
TCP_ROUTE = """apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp-echo, namespace: default}
spec:
  parentRefs: [{name: tls-passthrough-gateway, sectionName: tcp}]
  rules: [{backendRefs: [{name: passthrough-echoserver, port: 443}]}]
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    import uuid

    from orchestrator.engines.netns.teardown import teardown
    from orchestrator.state import LabState

    name = "o" + uuid.uuid4().hex[:6]
    try:
        gwlab("up", "--lab", name, timeout=180)
        yield name
    finally:
        teardown(name, LabState.load(name))


def kubectl(lab: str, *args: str, stdin: str | None = None) -> str:
    import subprocess

    from orchestrator import PROJECT_ROOT

    out = subprocess.run([str(PROJECT_ROOT / ".venv/bin/gwlab"), "--lab", lab, "kubectl", *args], input=stdin,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stdout}\n{out.stderr}"
    return out.stdout


def items(lab: str, kind: str, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(kubectl(lab, "get", kind, "-o", "json", *args))["items"]
    return found


def eventually(what: str, probe: Callable[[], bool], timeout: float = 30.0) -> None:
    """Until probe() holds (the controllers act on a watch, after kubectl returned); bounded."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


def test_proxy_deployment_service_and_replicasets(lab: str) -> None:
    [deploy] = items(lab, "deploy", "-n", "tigera-gateway")
    [svc] = items(lab, "svc", "-n", "tigera-gateway")
    name = deploy["metadata"]["name"]
    assert name.startswith("envoy-default-tls-passthrough-gateway-") and len(name.rsplit("-", 1)[1]) == 8
    assert svc["metadata"]["name"] == name
    assert deploy["metadata"]["labels"] == PROXY_LABELS and svc["spec"]["selector"] == PROXY_LABELS
    assert (svc["spec"]["type"], svc["spec"]["externalTrafficPolicy"]) == ("LoadBalancer", "Local")
    assert sorted(p["port"] for p in svc["spec"]["ports"]) == [80, 6443]
    gw = json.loads(kubectl(lab, "get", "gateway", "tls-passthrough-gateway", "-o", "json"))
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == gw["status"]["addresses"][0]["value"]
    assert deploy["status"]["readyReplicas"] == 1
    [ep] = items(lab, "endpoints", "-n", "tigera-gateway")
    [proxy_pod] = items(lab, "pods", "-n", "tigera-gateway")
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == [proxy_pod["status"]["podIP"]]

    # Every pod is owned by its ReplicaSet, named <rs>-<5 chars>; each ReplicaSet by its Deployment.
    for ns in ("default", "tigera-gateway"):
        for pod in items(lab, "pods", "-n", ns):
            [ref] = pod["metadata"]["ownerReferences"]
            rs = json.loads(kubectl(lab, "get", "rs", ref["name"], "-n", ns, "-o", "json"))
            assert ref["kind"] == "ReplicaSet" and ref["uid"] == rs["metadata"]["uid"] and ref["controller"]
            assert pod["metadata"]["name"].rsplit("-", 1)[0] == ref["name"]
            thash = pod["metadata"]["labels"]["pod-template-hash"]
            assert ref["name"].endswith("-" + thash) and rs["status"]["readyReplicas"] == 1
            [owner] = rs["metadata"]["ownerReferences"]
            assert owner["kind"] == "Deployment" and owner["controller"]
    table = kubectl(lab, "get", "deploy,rs,svc", "-A")
    assert f"deployment.apps/{name}" in table and f"service/{name}" in table

    # The user deletes the proxy Deployment: the controller makes it again (a new object), its
    # ReplicaSet too, and the gateway keeps answering.
    uid = deploy["metadata"]["uid"]
    kubectl(lab, "delete", "deploy", name, "-n", "tigera-gateway")

    def remade() -> bool:
        found = items(lab, "deploy", "-n", "tigera-gateway")
        return bool(found) and found[0]["metadata"]["uid"] != uid and len(items(lab, "rs", "-n", "tigera-gateway")) == 1
    eventually("the proxy Deployment made again", remade)
    assert gwlab("verify", "--lab", lab, "--wait", "10").returncode == 0

    # A template change: a new ReplicaSet with the pods, the old one scaled to 0.
    [old_rs] = items(lab, "rs", "-n", "default")
    kubectl(lab, "set", "env", "deploy/passthrough-echoserver", "GWLAB_TEST=1")

    def rolled() -> bool:
        sets = {r["metadata"]["name"]: r for r in items(lab, "rs", "-n", "default")}
        pods = items(lab, "pods", "-n", "default")
        return len(sets) == 2 and len(pods) == 1 and pods[0]["metadata"]["ownerReferences"][0]["name"] != \
            old_rs["metadata"]["name"] and pods[0]["status"]["containerStatuses"][0]["ready"]
    eventually("a new ReplicaSet with the pod", rolled)
    sets = {r["metadata"]["name"]: r for r in items(lab, "rs", "-n", "default")}
    assert sets[old_rs["metadata"]["name"]]["spec"]["replicas"] == 0
    assert sets[old_rs["metadata"]["name"]]["status"]["replicas"] == 0


def test_tcproute_on_a_tcp_listener(lab: str) -> None:
    kubectl(lab, "patch", "gateway", "tls-passthrough-gateway", "--type=json", "-p",
            json.dumps([{"op": "add", "path": "/spec/listeners/-",
                         "value": {"name": "tcp", "protocol": "TCP", "port": 7443}}]))
    kubectl(lab, "apply", "-f", "-", stdin=TCP_ROUTE)

    def accepted() -> bool:
        route = json.loads(kubectl(lab, "get", "tcproute", "tcp-echo", "-o", "json"))
        parents = (route.get("status") or {}).get("parents") or []
        return bool(parents) and {c["type"]: c["status"] for c in parents[0]["conditions"]} == {
            "Accepted": "True", "ResolvedRefs": "True"}
    eventually("the TCPRoute Accepted", accepted)
    assert "tcp-echo" in kubectl(lab, "get", "tcproute")
    gw = json.loads(kubectl(lab, "get", "gateway", "tls-passthrough-gateway", "-o", "json"))
    listeners = {lst["name"]: lst for lst in gw["status"]["listeners"]}
    assert listeners["tcp"]["attachedRoutes"] == 1
    [svc] = items(lab, "svc", "-n", "tigera-gateway")
    assert sorted(p["port"] for p in svc["spec"]["ports"]) == [80, 6443, 7443]

    dump = json.loads(gwlab("egctl", "config", "envoy-proxy", "listener", "--lab", lab).stdout)
    [proxy] = dump["tigera-gateway"].values()
    text = json.dumps(proxy)
    assert "default/tls-passthrough-gateway/tcp" in text and "tcproute/default/tcp-echo" in text

    # The workshop's TLS, end to end through a TCP listener: the echo pod's certificate, verified.
    address = gw["status"]["addresses"][0]["value"]
    ca = Path(gwlab("certs", "--lab", lab).stdout.strip()) / "example.com.crt"
    out = gwlab("exec", "--lab", lab, "bastion", "--", "curl", "-sS", "--max-time", "5", "--resolve",
                f"{HOST}:7443:{address}", "--cacert", str(ca), f"https://{HOST}:7443/get")
    answer = json.loads(out.stdout)
    assert answer["pod"].startswith("passthrough-echoserver-")
