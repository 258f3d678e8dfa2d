"""The lab's Kubernetes through the real kubectl (`gwlab kubectl`, from the bastion): the pods and
statuses the lab's controllers make, the workshop's kubectl lines as written, re-apply behaviours,
deletes that remove pods and proxies, namespace deletion, and bad input refused whole."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT
from orchestrator.engines.netns import namespaces as netns
from orchestrator.rundir import RunDir

from tests.workshop_texts import STEP3_GATEWAY, STEP5_PATCH

from .helpers import gwlab

pytestmark = pytest.mark.lab
ECHO = PROJECT_ROOT / "lab/manifests/app/echoserver.yaml"
GW = "gateway/tls-passthrough-gateway"


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    name = f"kc{os.getpid() % 100000}"
    try:
        gwlab("up", "--lab", name, timeout=180)
        yield name
    finally:
        gwlab("down", "--lab", name, check=False)


def kubectl(lab: str, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(PROJECT_ROOT / ".venv/bin/gwlab"), "--lab", lab, "kubectl", *args], input=stdin,
                         capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out


def pods(lab: str, *args: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = json.loads(kubectl(lab, "get", "pods", "-o", "json", *args).stdout)["items"]
    return items


def eventually(what: str, probe: object, timeout: float = 30.0) -> None:
    """Until probe() is true (the controllers act on a watch, after kubectl returned)."""
    assert callable(probe)
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


def test_nodes_and_pods_as_kind_shows_them(lab: str) -> None:
    nodes = kubectl(lab, "get", "nodes", "-o", "wide").stdout.splitlines()
    assert nodes[0].split()[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    rows = {line.split()[0]: line.split() for line in nodes[1:]}
    assert rows["calico-control-plane"][1:3] == ["Ready", "control-plane"]
    assert [rows[n][5] for n in ("calico-control-plane", "calico-worker", "calico-worker2")] == \
        ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
    table = kubectl(lab, "get", "pods", "-A", "-o", "wide").stdout.splitlines()
    assert table[0].split()[:8] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    by_ns = {line.split()[0]: line.split() for line in table[1:]}
    assert by_ns["default"][1].startswith("passthrough-echoserver-") and by_ns["default"][2:5] == ["1/1", "Running", "0"]
    assert by_ns["tigera-gateway"][1].startswith("envoy-default-tls-passthrough-gateway-")
    assert by_ns["tigera-gateway"][2:4] == ["1/1", "Running"]
    # each pod is a namespace of the lab, named as before
    for row in table[1:]:
        assert netns.exists(f"gwlab-{lab}.pod-{row.split()[1]}")


def test_workshop_jsonpath_line_and_statuses(lab: str) -> None:
    assert kubectl(lab, "get", "gateway/tls-passthrough-gateway", "-o",
                   "jsonpath={.status.addresses[0].value}").stdout == "10.10.10.0"
    accepted = kubectl(lab, "get", "tlsroute", "tls-passthrough", "-o",
                       'jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")].status}').stdout
    assert accepted == "True"
    cls = kubectl(lab, "get", "gatewayclass", "tigera-gateway-class", "-o",
                  'jsonpath={.status.conditions[?(@.type=="Accepted")].status}').stdout
    assert cls == "True"
    ready = kubectl(lab, "get", "deploy", "passthrough-echoserver", "-o", "jsonpath={.status.readyReplicas}").stdout
    assert ready == "1"
    logs = kubectl(lab, "logs", "-l", "run=passthrough-echoserver", "--tail=50")
    assert "echo-basic listening https=8443" in logs.stdout  # the pod's own log file
    ips = kubectl(lab, "get", "endpoints", "passthrough-echoserver", "-o", "jsonpath={.subsets[0].addresses[*].ip}")
    assert ips.stdout.startswith("10.50.0.")
    events = kubectl(lab, "get", "events", "-o", "jsonpath={.items[*].reason}").stdout.split()
    assert "Started" in events


def test_reapply_keeps_env_var_and_gateway_reapply_drops_tls(lab: str) -> None:
    kubectl(lab, "set", "env", "deployment/passthrough-echoserver", "EXTRA=kept")
    out = kubectl(lab, "apply", "-f", str(ECHO))
    assert "deployment.apps/passthrough-echoserver" in out.stdout
    env = json.loads(kubectl(lab, "get", "deploy", "passthrough-echoserver", "-o",
                             "jsonpath={.spec.template.spec.containers[0].env}").stdout)
    assert env[-1] == {"name": "EXTRA", "value": "kept"}
    eventually("an echo pod Running", lambda: any(p["status"]["phase"] == "Running"  # type: ignore[index]
                                                  for p in pods(lab, "-l", "run=passthrough-echoserver")))
    # step 3's Gateway again after step 5: a custom resource's list is replaced, the tls listener goes
    out = kubectl(lab, "apply", "-f", "-", stdin=STEP3_GATEWAY)
    assert out.stdout.strip() == "gateway.gateway.networking.k8s.io/tls-passthrough-gateway configured"
    names = kubectl(lab, "get", GW, "-o", "jsonpath={.spec.listeners[*].name}").stdout
    assert names == "http"
    kubectl(lab, "wait", "--for=jsonpath={.status.parents[0].conditions[0].status}=False", "tlsroute/tls-passthrough",
            "--timeout=30s")
    # step 5's patch, as written, brings it back
    kubectl(lab, "patch", "gateway", "tls-passthrough-gateway", "--type=json", "--patch", STEP5_PATCH)
    kubectl(lab, "wait", "--for=jsonpath={.status.parents[0].conditions[0].status}=True", "tlsroute/tls-passthrough",
            "--timeout=30s")


def test_bad_objects_are_refused_whole(lab: str) -> None:
    bad = STEP3_GATEWAY.replace("name: http", "name: Bad_Name").replace("port: 80", "port: 0")
    out = kubectl(lab, "apply", "-f", "-", stdin=bad, check=False)
    assert out.returncode == 1
    assert "is invalid" in out.stderr
    assert "spec.listeners[0].name" in out.stderr and "spec.listeners[0].port" in out.stderr  # every cause at once
    names = kubectl(lab, "get", GW, "-o", "jsonpath={.spec.listeners[*].name}").stdout
    assert names == "http tls"  # nothing half-applied


def test_namespace_deletion_removes_its_pods(lab: str) -> None:
    kubectl(lab, "create", "namespace", "bars")
    kubectl(lab, "-n", "bars", "apply", "-f", str(ECHO))
    eventually("a pod in bars, waiting for its Secret", lambda: len(pods(lab, "-n", "bars")) == 1)
    certs = Path(gwlab("certs", "--lab", lab).stdout.strip().splitlines()[-1])
    out = kubectl(lab, "-n", "bars", "create", "secret", "tls", "server-certs",
                  f"--key={certs / 'passthrough.example.com.key'}", f"--cert={certs / 'passthrough.example.com.crt'}")
    assert out.stdout.strip() == "secret/server-certs created"
    name = str(pods(lab, "-n", "bars")[0]["metadata"]["name"])  # type: ignore[index]
    eventually("its namespace on the host", lambda: netns.exists(f"gwlab-{lab}.pod-{name}"))
    kubectl(lab, "delete", "namespace", "bars", "--timeout=60s")
    assert kubectl(lab, "get", "namespace", "bars", check=False).returncode == 1
    eventually("the pod's namespace gone from the host", lambda: not netns.exists(f"gwlab-{lab}.pod-{name}"))


def test_workshop_clean_up_lines_in_order(lab: str) -> None:
    proxy = [p for p in pods(lab, "-n", "tigera-gateway")]
    assert len(proxy) == 1
    for line in ("delete service passthrough-echoserver", "delete deployment passthrough-echoserver",
                 "delete gateway tls-passthrough-gateway", "delete TLSRoute tls-passthrough",
                 "delete secret server-certs"):
        out = kubectl(lab, *line.split())
        assert " deleted" in out.stdout
    eventually("no echo pod and no proxy pod", lambda: not pods(lab) and not pods(lab, "-n", "tigera-gateway"))
    state = json.loads(RunDir(lab).pod_records.read_text())
    assert not [p for p in state["processes"] if p["role"].startswith("pod:")]


def test_a_secret_whose_certificate_does_not_parse_is_stored_and_its_pod_says_why(lab: str) -> None:
    kubectl(lab, "create", "namespace", "badcert")
    try:
        out = kubectl(lab, "-n", "badcert", "create", "secret", "generic", "server-certs", "--type=kubernetes.io/tls",
                      "--from-literal=tls.crt=not a certificate", "--from-literal=tls.key=not a key")
        assert out.stdout.strip() == "secret/server-certs created"  # stored, as kube-apiserver stores it
        kubectl(lab, "-n", "badcert", "apply", "-f", str(ECHO))

        def said_why() -> bool:
            events = kubectl(lab, "-n", "badcert", "get", "events", "-o", "json").stdout
            return "does not parse" in events
        eventually("an event saying the certificate does not parse", said_why, timeout=60)
        [pod] = pods(lab, "-n", "badcert")
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]  # type: ignore[index]
        assert ready[0]["status"] == "False"
    finally:
        kubectl(lab, "delete", "namespace", "badcert", "--timeout=60s", check=False)
