"""File-based xDS delivery: only changed files are written, each by a rename into its watched
directory; an endpoint change is one EDS file; the bootstrap; the access log reader; argv."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from orchestrator.envoy import xds_files
from orchestrator.envoy.accesslog import read_access_log
from orchestrator.envoy.adapter import proxy_ir
from orchestrator.envoy.bootstrap import bootstrap
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.envoy.spawn import envoy_argv
from orchestrator.envoy.translate import XdsResources, translate
from tests.unit.envoy_cases import ECHO_ENDPOINTS, plan_of, workshop_gateway, workshop_route


def step5(layout: ProxyLayout, endpoints: dict[tuple[str, str, int], list[tuple[str, int]]] | None = None,
          step: int = 5) -> XdsResources:
    plan = plan_of(workshop_gateway(step), [workshop_route()])
    return translate(proxy_ir(plan, endpoints or dict(ECHO_ENDPOINTS)).ir, layout, str(layout.log))


def test_first_write_then_nothing_then_only_the_eds_file(tmp_path: Path) -> None:
    layout = ProxyLayout(tmp_path / "pod")
    assert xds_files.prepare(layout, node_id="envoy-x", gateway="default/gw")
    assert stat.S_IMODE(layout.root.stat().st_mode) == 0o700
    first = xds_files.write(layout, step5(layout))
    eds = layout.eds("tlsroute/default/tls-passthrough/rule/-1")
    rds = layout.rds("default/tls-passthrough-gateway/http")
    assert first.written == [eds, rds, layout.cds, layout.lds]  # what a listener names exists first
    assert xds_files.write(layout, step5(layout)).written == []
    inodes = {p: p.stat().st_ino for p in (layout.lds, layout.cds, rds)}
    moved = xds_files.write(layout, step5(layout, {("default", "passthrough-echoserver", 443): [("10.50.0.40", 8443)]}))
    assert moved.written == [eds] and moved.kinds() == {"eds"}
    assert {p: p.stat().st_ino for p in inodes} == inodes
    (cla,) = xds_files.read(eds)
    assert cla["@type"] == "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
    assert cla["endpoints"][0]["lbEndpoints"][0]["endpoint"]["address"]["socketAddress"]["address"] == "10.50.0.40"
    assert not [p for p in layout.root.rglob(".*.tmp")]  # no temporary file left behind


def test_a_route_going_away_removes_its_files_after_the_listener(tmp_path: Path) -> None:
    layout = ProxyLayout(tmp_path)
    xds_files.prepare(layout, node_id="envoy-x", gateway="default/gw")
    xds_files.write(layout, step5(layout))
    report = xds_files.write(layout, step5(layout, step=3))
    eds = layout.eds("tlsroute/default/tls-passthrough/rule/-1")
    assert report.written == [layout.lds, layout.cds] and report.removed == [eds]
    assert xds_files.read(layout.cds) == [] and [r["name"] for r in xds_files.read(layout.lds)] == [
        "default/tls-passthrough-gateway/http"]


def test_bootstrap(tmp_path: Path) -> None:
    layout = ProxyLayout(tmp_path)
    boot = bootstrap(layout, node_id="envoy-default-tls-passthrough-gateway-abc-def",
                     gateway="default/tls-passthrough-gateway")
    assert boot["node"] == {"id": "envoy-default-tls-passthrough-gateway-abc-def",
                            "cluster": "default/tls-passthrough-gateway"}
    assert boot["admin"]["address"] == {"pipe": {"path": str(tmp_path / "admin.sock"), "mode": 0o600}}
    assert "socket_address" not in json.dumps(boot["admin"])  # no TCP admin listener
    lds = boot["dynamic_resources"]["lds_config"]["pathConfigSource"]
    assert lds == {"path": str(layout.lds), "watchedDirectory": {"path": str(layout.lds.parent)}}


def test_argv(tmp_path: Path) -> None:
    argv = envoy_argv(ProxyLayout(tmp_path), binary=Path("/x/envoy"))
    assert argv[0] == "/x/envoy" and Path(argv[0]).name == "envoy"
    assert "--disable-hot-restart" in argv and argv[argv.index("--config-path") + 1] == str(tmp_path / "envoy.yaml")
    assert argv[argv.index("--drain-strategy") + 1] == "immediate"


def test_access_log_lines_among_envoys_own(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    line = {"start_time": "2026-12-04T19:32:05.995Z", "requested_server_name": "passthrough.example.com",
            "upstream_host": "10.50.0.17:8443", "upstream_cluster": "tlsroute/default/tls-passthrough/rule/-1",
            "bytes_received": 517, "bytes_sent": 3021, "duration": 12, "response_flags": "-",
            "response_code": 0, "route_name": None}
    log.write_text("[2026-12-04 19:32:05.877][1][warning][main] something\n" + json.dumps(line) + "\n{broken\n")
    (entry,) = read_access_log(log)
    assert (entry.requested_server_name, entry.upstream_host, entry.bytes_received, entry.bytes_sent,
            entry.duration_ms, entry.response_flags, entry.route_name) == (
        "passthrough.example.com", "10.50.0.17:8443", 517, 3021, 12, "-", None)



def test_a_refused_translation_changes_no_file(tmp_path: Path) -> None:
    import pytest

    from orchestrator.envoy.deliver import deliver
    from orchestrator.envoy.validate import EnvoyRefused

    layout = ProxyLayout(tmp_path)
    xds_files.prepare(layout, node_id="envoy-x", gateway="default/gw")
    deliver(layout, step5(layout))
    before = {p: p.read_bytes() for p in layout.xds.rglob("*.yaml")}
    bad = step5(layout, {("default", "passthrough-echoserver", 443): [("10.50.0.40", 8443)]})
    bad.clusters[0]["connectTimeout"] = "ten seconds"
    with pytest.raises(EnvoyRefused, match="connectTimeout|connect_timeout|Duration"):
        deliver(layout, bad)
    assert {p: p.read_bytes() for p in layout.xds.rglob("*.yaml")} == before
