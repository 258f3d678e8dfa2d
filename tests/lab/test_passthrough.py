"""The workshop's TLS passthrough demo on real namespaces: echo pods, kube-proxy nftables, Envoy
doing SNI passthrough, real curl from the bastion across the BGP-learned route."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT
from orchestrator.engines.netns import namespaces as netns
from orchestrator.rundir import RunDir
from orchestrator.state import lab_of_ns, ns_name, run_dir

from tests.workshop_texts import STEP5_PATCH

from .helpers import gwlab, leftovers

pytestmark = pytest.mark.lab
HOST = "passthrough.example.com"
WAIT = 30  # the most a test waits for an event it expects; it goes on as soon as it happens


def gateway_ip(lab: str) -> str:
    return gwlab("get", "--lab", lab, "gateway", "tls-passthrough-gateway", "-o",
                 "jsonpath={.status.addresses[0].value}").stdout.strip()


@functools.cache
def ca_file(lab: str) -> Path:
    """The lab's CA, from `gwlab certs` (made once with the lab)."""
    return Path(gwlab("certs", "--lab", lab).stdout.strip().splitlines()[-1]) / "example.com.crt"


def curl(lab: str, host: str = HOST, *extra: str, url: str = "", gw: str = "") -> subprocess.CompletedProcess[str]:
    """The workshop's command, run in the bastion with the CA from `gwlab certs`, to the Gateway's
    address (`gw`, or as `gwlab get gateway` shows it now)."""
    return gwlab("exec", "--lab", lab, "bastion", "--", "curl", "-sS", "-v", "--max-time", "5", f"-HHost:{host}",
                 "--resolve", f"{host}:6443:{gw or gateway_ip(lab)}", "--cacert", str(ca_file(lab)), *extra,
                 url or f"https://{host}:6443/get", check=False)


def echo_pods(lab: str) -> set[str]:
    pods = json.loads(gwlab("get", "--lab", lab, "pods", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("passthrough-echoserver-")}


def route_condition(lab: str, route: str, ctype: str) -> tuple[str, str]:
    out = gwlab("get", "--lab", lab, "tlsroute", route, "-o",
                f'jsonpath={{.status.parents[0].conditions[?(@.type=="{ctype}")].status}} '
                f'{{.status.parents[0].conditions[?(@.type=="{ctype}")].reason}}').stdout.split()
    return (out[0], out[1]) if len(out) == 2 else ("", "")


def lab_processes(lab: str) -> list[str]:
    return [line for line in leftovers(lab) if line.startswith("process")]


def test_up_runs_the_workshop_and_its_clean_up_leaves_no_pod(lab_name: str) -> None:
    out = gwlab("up", "--lab", lab_name)
    assert "18/18 checks passed" in out.stdout, out.stdout
    r = curl(lab_name)
    assert r.returncode == 0, r.stderr
    assert "< HTTP/2 200" in r.stderr and "SSL certificate verify ok" in r.stderr
    assert "issuer: O=example Inc.; CN=example.com" in r.stderr
    body = json.loads(r.stdout)
    assert body["pod"] in echo_pods(lab_name) and body["tls"]["serverName"] == HOST
    assert body["proto"] == "HTTP/2.0" and body["tls"]["negotiatedProtocol"] == "h2"
    pod_namespaces = [n for n in netns.list_names() if lab_of_ns(n) == lab_name and ".pod-" in n]
    assert len(pod_namespaces) == 2  # the echo pod and the gateway's proxy pod

    # The workshop's clean-up.
    for kind, name in (("service", "passthrough-echoserver"), ("deployment", "passthrough-echoserver"),
                       ("gateway", "tls-passthrough-gateway"), ("TLSRoute", "tls-passthrough"),
                       ("secret", "server-certs")):
        gwlab("delete", "--lab", lab_name, kind, name)
    assert [n for n in netns.list_names() if lab_of_ns(n) == lab_name and ".pod-" in n] == []
    procs = lab_processes(lab_name)
    assert procs and all("bird" in p for p in procs), procs  # only the routers are left
    assert not (run_dir(lab_name) / "pods").exists() or not any((run_dir(lab_name) / "pods").iterdir())
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


def test_traffic_crosses_bgp_and_a_node_dnat(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    nodes = ["calico-control-plane", "calico-worker", "calico-worker2"]

    def lb_counters() -> dict[str, int]:
        counts = {}
        for node in nodes:
            # The rule is in chain services on the proxy's node, in no_endpoints elsewhere (Local).
            text = gwlab("exec", "--lab", lab_name, node, "--", "nft", "list", "table", "ip",
                         "gwlab_kube_proxy").stdout
            line = next(x for x in text.splitlines() if ":6443 LoadBalancer" in x)
            counts[node] = int(line.split("counter packets ")[1].split()[0])
        return counts

    before = lb_counters()
    assert curl(lab_name).returncode == 0
    after = lb_counters()
    grew = [n for n in nodes if after[n] > before[n]]
    # The bastion's /32 route (externalTrafficPolicy Local) took it to the proxy's node, which DNATed it.
    pods = json.loads(gwlab("get", "--lab", lab_name, "pods", "-A", "-o", "json").stdout)["items"]
    [proxy_node] = [p["spec"]["nodeName"] for p in pods if p["metadata"]["namespace"] == "tigera-gateway"]
    assert grew == [proxy_node], (before, after)

    for node in ("control1", "worker1", "worker2"):
        gwlab("bird", "stop", "--lab", lab_name, node)
    deadline = time.monotonic() + WAIT
    while "10.10.10.0" in gwlab("exec", "--lab", lab_name, "bastion", "--", "ip", "route").stdout:
        assert time.monotonic() < deadline, "the bastion kept the LB route with every node's BIRD stopped"
        time.sleep(0.05)
    failed = curl(lab_name)
    assert failed.returncode != 0 and "< HTTP" not in failed.stderr
    for node in ("control1", "worker1", "worker2"):
        gwlab("bird", "start", "--lab", lab_name, node)
    assert gwlab("verify", "--lab", lab_name, "--wait", str(WAIT), check=False).returncode == 0
    assert curl(lab_name).returncode == 0


def test_workshop_steps_by_hand_and_step5_patch_on_a_running_gateway(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name, "--bgp-only")
    m = PROJECT_ROOT / "lab" / "manifests"
    # Step 2 before step 1: the pod waits for its Secret, as on a cluster.
    out = gwlab("apply", "--lab", lab_name, "-f", str(m / "app"))
    assert "waiting for Secret server-certs" in out.stdout
    assert "ContainerCreating" in gwlab("get", "--lab", lab_name, "pods").stdout  # its volume waits
    assert "secret/server-certs created" in gwlab("certs", "--lab", lab_name, "--apply").stdout
    assert "Running" in gwlab("get", "--lab", lab_name, "pods").stdout
    gwlab("apply", "--lab", lab_name, "-f", str(m / "app"), "-f", str(m / "gateway"))
    assert route_condition(lab_name, "tls-passthrough", "Accepted") == ("False", "NotAllowedByListeners")
    assert curl(lab_name).returncode != 0  # the Gateway has no TLS listener yet
    # Demo step 5, exactly as the workshop writes it.
    out = gwlab("patch", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "--type=json",
                "--patch", STEP5_PATCH)
    assert "gateway.gateway.networking.k8s.io/tls-passthrough-gateway patched" in out.stdout
    assert route_condition(lab_name, "tls-passthrough", "Accepted") == ("True", "Accepted")
    attached = gwlab("get", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "-o",
                     'jsonpath={.status.listeners[?(@.name=="tls")].attachedRoutes}').stdout
    assert attached == "1"
    r = curl(lab_name)
    assert r.returncode == 0 and "< HTTP/2 200" in r.stderr
    assert json.loads(gwlab("verify", "--lab", lab_name, "--json", check=False).stdout)["checks"]
    renamed = gwlab("patch", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "--type=json", "--patch",
                    '[{"op": "replace", "path": "/metadata/name", "value": "other"}]', check=False)
    assert renamed.returncode == 1 and "does not match the name on the URL" in renamed.stderr  # kubectl, as on kind


def test_scale_delete_and_reapply(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    gwlab("scale", "--lab", lab_name, "deployment", "passthrough-echoserver", "--replicas", "3")
    pods = echo_pods(lab_name)
    assert len(pods) == 3
    gw = gateway_ip(lab_name)
    seen = set()
    for _ in range(12):
        r = curl(lab_name, gw=gw)
        assert r.returncode == 0, r.stderr
        seen.add(json.loads(r.stdout)["pod"])
    assert seen == pods

    gwlab("delete", "--lab", lab_name, "deployment", "passthrough-echoserver")
    assert echo_pods(lab_name) == set()
    failed = curl(lab_name)
    # Refused at once, not left hanging: curl's own verdict, not its time (28 is its timeout).
    assert failed.returncode not in (0, 28) and "< HTTP" not in failed.stderr, failed.stderr
    gwlab("apply", "--lab", lab_name, "-f", str(PROJECT_ROOT / "lab/manifests/app"))
    r = curl(lab_name)
    assert r.returncode == 0 and json.loads(r.stdout)["pod"] in echo_pods(lab_name)


def transfer(lab: str, gateway: str) -> tuple[str, int] | None:
    """The bastion's established connection to the gateway's :6443: (its ends, bytes received)."""
    with netns.inside(ns_name(lab, "bastion")):
        out = subprocess.run(["ss", "-Htin", "state", "established", "dst", f"{gateway}:6443"],
                             capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    if not lines:
        return None
    ends = " ".join(lines[0].split()[2:4])
    got = re.search(r"bytes_received:(\d+)", out)
    return ends, int(got.group(1)) if got else 0


def program(pid: int) -> str:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""  # gone meanwhile


def test_reload_keeps_established_connections(lab_name: str) -> None:
    """A large download survives a proxy reload (the scale-up changes its config). The client is held
    mid-transfer (SIGSTOP) while the proxy reloads, so the reload lands inside the transfer. The body
    (64 MB) is larger than any socket buffer, so a held client cannot have it all whatever the timing;
    after the reload the same connection goes on receiving."""
    gwlab("up", "--lab", lab_name)
    ca = Path(gwlab("certs", "--lab", lab_name).stdout.strip()) / "example.com.crt"
    gw = gateway_ip(lab_name)
    size = 64 * 1024 * 1024
    download = subprocess.Popen(
        [".venv/bin/gwlab", "exec", "--lab", lab_name, "bastion", "--", "curl", "-sS", "--max-time", "120",
         "--limit-rate", "2M", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "--resolve",
         f"{HOST}:6443:{gw}", "--cacert", str(ca), f"https://{HOST}:6443/bytes/{size}"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = 0
    try:
        deadline = time.monotonic() + WAIT
        while (conn := transfer(lab_name, gw)) is None or conn[1] < 100_000:  # the body is flowing
            assert time.monotonic() < deadline and download.poll() is None, conn
            time.sleep(0.01)
        [client] = [pid for pid in netns.pids_in([ns_name(lab_name, "bastion")]) if program(pid) == "curl"]
        os.kill(client, signal.SIGSTOP)
        try:
            assert (held := transfer(lab_name, gw)) is not None and held[1] < size, held
            out = gwlab("scale", "--lab", lab_name, "deployment", "passthrough-echoserver", "--replicas", "2")
            assert "gateway proxy reloaded" in out.stdout
            assert (after := transfer(lab_name, gw)) is not None and after[0] == conn[0], (conn, after)
        finally:
            os.kill(client, signal.SIGCONT)
        # The same connection receives a further megabyte after the reload.
        deadline = time.monotonic() + WAIT
        while (now := transfer(lab_name, gw)) is None or now[0] != conn[0] or now[1] < held[1] + 1_000_000:
            assert now is not None and now[0] == conn[0], (conn, now)
            assert time.monotonic() < deadline and download.poll() is None, (held, now, download.poll())
            time.sleep(0.05)
    finally:
        if client:  # the curl itself (a child of `gwlab exec`), by the PID found above
            with contextlib.suppress(ProcessLookupError):
                os.kill(client, signal.SIGKILL)
        if download.poll() is None:
            download.kill()
            download.communicate()

ROUTES = """
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: missing-backend}
spec:
  parentRefs: [{name: tls-passthrough-gateway}]
  hostnames: ["missing.example.com"]
  rules: [{backendRefs: [{name: no-such-service, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: wrong-section}
spec:
  parentRefs: [{name: tls-passthrough-gateway, sectionName: nope}]
  rules: [{backendRefs: [{name: passthrough-echoserver, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: other-host}
spec:
  parentRefs: [{name: tls-passthrough-gateway, sectionName: tls}]
  hostnames: ["other.example.org"]
  rules: [{backendRefs: [{name: passthrough-echoserver, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: bad-kind}
spec:
  parentRefs: [{name: tls-passthrough-gateway}]
  hostnames: ["kind.example.com"]
  rules: [{backendRefs: [{kind: ConfigMap, name: passthrough-echoserver, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: cross-namespace}
spec:
  parentRefs: [{name: tls-passthrough-gateway}]
  hostnames: ["cross.example.com"]
  rules: [{backendRefs: [{name: echo, namespace: other, port: 443}]}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: other}
spec:
  ports: [{port: 443, targetPort: 8443}]
  selector: {run: nothing}
"""


GRANT = """
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow-default-routes, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: default}]
  to: [{group: "", kind: Service}]
"""


def test_route_status_cases(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    # The workshop's listener takes passthrough.example.com only: widen it so other hostnames can attach.
    gwlab("patch", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "--type=json", "--patch",
          '[{"op": "add", "path": "/spec/listeners/-", "value": {"name": "any", "protocol": "TLS", '
          '"port": 6443, "hostname": "*.example.com", "tls": {"mode": "Passthrough"}}}]')
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    gwlab("--lab", lab_name, "kubectl", "create", "namespace", "other")  # as on a cluster: made before use
    gwlab("apply", "--lab", lab_name, "-f", str(routes))
    assert route_condition(lab_name, "missing-backend", "ResolvedRefs") == ("False", "BackendNotFound")
    assert route_condition(lab_name, "wrong-section", "Accepted") == ("False", "NoMatchingParent")
    assert route_condition(lab_name, "other-host", "Accepted") == ("False", "NoMatchingListenerHostname")
    assert route_condition(lab_name, "bad-kind", "ResolvedRefs") == ("False", "InvalidKind")
    assert route_condition(lab_name, "cross-namespace", "ResolvedRefs") == ("False", "RefNotPermitted")
    refused = curl(lab_name, "missing.example.com")
    assert refused.returncode != 0 and "< HTTP" not in refused.stderr
    assert curl(lab_name).returncode == 0  # the workshop's route is untouched
    grant = tmp_path / "grant.yaml"
    grant.write_text(GRANT)
    gwlab("apply", "--lab", lab_name, "-f", str(grant))
    assert route_condition(lab_name, "cross-namespace", "ResolvedRefs") == ("True", "ResolvedRefs")
    attached = gwlab("get", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "-o",
                     'jsonpath={.status.listeners[?(@.name=="any")].attachedRoutes}').stdout
    assert attached == "4"  # missing-backend, bad-kind, cross-namespace, tls-passthrough


def test_gateway_without_gateway_class_is_not_accepted(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name, "--bgp-only")
    gwlab("apply", "--lab", lab_name, "-f", str(PROJECT_ROOT / "lab/manifests/gateway/20-gateway.yaml"))
    accepted = gwlab("get", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "-o",
                     'jsonpath={.status.conditions[?(@.type=="Accepted")].status}').stdout
    assert accepted != "True"
    assert gateway_ip(lab_name) == ""
    assert not any(".pod-envoy" in n for n in netns.list_names() if lab_of_ns(n) == lab_name)
    gwlab("apply", "--lab", lab_name, "-f", str(PROJECT_ROOT / "lab/manifests/gateway/10-gatewayapi.yaml"))
    accepted = gwlab("get", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "-o",
                     'jsonpath={.status.conditions[?(@.type=="Accepted")].status}').stdout
    assert accepted == "True" and gateway_ip(lab_name).startswith("10.10.10.")


def test_unsupported_kind_and_field_are_clear_errors(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name, "--bgp-only")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x}\nspec: {}\n"
                   "---\napiVersion: v1\nkind: Service\nmetadata: {name: y}\n"
                   "spec: {ports: [{port: 80}], colour: blue}\n")
    out = gwlab("apply", "--lab", lab_name, "-f", str(bad), check=False)
    assert out.returncode == 1
    assert str(bad) in out.stderr, out.stderr  # kubectl names the file; nothing of it is applied
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: svc-y}\nspec: {ports: [{port: 80}], colour: blue}\n")
    out = gwlab("apply", "--lab", lab_name, "-f", str(bad), check=False)
    assert out.returncode == 1 and 'unknown field "spec.colour"' in out.stderr, out.stderr
    assert "service" not in gwlab("get", "--lab", lab_name, "svc", "-o", "name").stdout


def test_a_dead_pod_process_is_restarted_on_the_next_sync(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    state = json.loads(RunDir(lab_name).pod_records.read_text())  # the control plane's record of its pods
    echo = next(p for p in state["processes"] if p["role"].startswith("pod:default/passthrough-echoserver-"))
    os.kill(echo["pid"], signal.SIGKILL)
    # the control plane sees the process gone and starts the pod again (same name, new process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = json.loads(RunDir(lab_name).pod_records.read_text())
        again = [p for p in now["processes"] if p["role"] == echo["role"]]
        if again and again[0]["pid"] != echo["pid"]:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the killed echo pod was not started again within 15 s")
    r = curl(lab_name)
    assert r.returncode == 0 and json.loads(r.stdout)["pod"] == echo["role"].split("/")[-1]
