"""The gateway pod's Envoy as the netns engine drives it: an endpoint move skips Envoy's verdict
(only EDS changes), anything else gets it; a refused translation marks the Gateway not Programmed;
the /32 checks follow the nodes of the ready proxy pods; Services carry externalTrafficPolicy."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from orchestrator import PROJECT_ROOT, checks, topology
from orchestrator.engines.base import KernelRoute
from orchestrator.engines.netns.proxy import mark_refused, prepare
from orchestrator.envoy import validate, xds_files
from orchestrator.envoy.deliver import deliver, only_endpoints_change
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.errors import ValidationFailed
from orchestrator.k8s.core import Service
from orchestrator.k8s.kinds import parse_objects
from orchestrator.manifests import Document
from tests.unit.test_checks import SavedBastion
from tests.unit.test_envoy_files import step5

TOPO = topology.load(PROJECT_ROOT / "topology.clab.yml")
MOVED = {("default", "passthrough-echoserver", 443): [("10.50.0.40", 8443)]}


def test_an_endpoint_move_skips_envoys_verdict_and_a_listener_change_does_not(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    layout = ProxyLayout(tmp_path)
    xds_files.prepare(layout, node_id="envoy-x", gateway="default/gw")
    calls: list[int] = []
    monkeypatch.setattr(validate, "check", lambda *a, **k: calls.append(1))
    deliver(layout, step5(layout))
    assert calls == [1]
    assert only_endpoints_change(layout, step5(layout, MOVED))
    assert deliver(layout, step5(layout, MOVED)).kinds() == {"eds"} and calls == [1]
    assert not only_endpoints_change(layout, step5(layout, step=4))
    deliver(layout, step5(layout, step=4))
    assert calls == [1, 1]


def test_a_refused_translation_marks_the_gateway_and_its_listeners_not_programmed() -> None:
    status: dict[str, Any] = {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "ok"},
                             {"type": "Programmed", "status": "True", "reason": "Programmed", "message": "ok"}],
              "listeners": [{"name": "tls", "conditions": [
                  {"type": "Programmed", "status": "True", "reason": "Programmed", "message": "ok"}]}]}
    out = mark_refused(status, "Envoy refused the translation: bad")
    assert out["conditions"][0] == status["conditions"][0]
    for cond in (out["conditions"][1], out["listeners"][0]["conditions"][0]):
        assert (cond["status"], cond["reason"]) == ("False", "Invalid")
        assert cond["message"].startswith("Envoy refused the translation: bad")


def test_the_slash_32_checks_follow_the_ready_proxy_pods() -> None:
    lb = IPv4Network("10.10.10.0/32")
    w2 = IPv4Address("10.0.1.13")
    engine = SavedBastion({}, {lb: [KernelRoute(lb, (w2,), "unicast")]})
    where = ["calico-worker2"]
    table, kernel = checks.local_service_checks(TOPO, "proxy pod", lb, lambda: where)
    snap = checks.Snapshot(engine)  # type: ignore[arg-type]
    assert kernel.evaluate(snap) == (True, "1 route, via worker2; ready proxy pod on worker2")
    where[:] = ["calico-worker"]  # the proxy moved: the same route is now wrong
    ok, observed = kernel.evaluate(checks.Snapshot(engine))  # type: ignore[arg-type]
    assert not ok and observed.endswith("ready proxy pod on worker1")
    where[:] = []
    assert not kernel.evaluate(checks.Snapshot(engine))[0]  # type: ignore[arg-type]
    assert table.name == "10.10.10.0/32 (proxy pod) in the bastion's BGP table"


def service(policy: object) -> Document:
    return Document("svc.yaml", 0, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                                    "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                                             "ports": [{"port": 443}]}})


def test_external_traffic_policy_is_parsed() -> None:
    [parsed] = parse_objects([service("Local")])
    assert isinstance(parsed.obj, Service) and parsed.obj.external_traffic_policy == "Local"
    with pytest.raises(ValidationFailed, match="externalTrafficPolicy"):
        parse_objects([service("Nearest")])


def btp(spec: dict[str, Any]) -> Document:
    return Document("btp.yaml", 0, {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "BackendTrafficPolicy",
                                    "metadata": {"name": "hc", "namespace": "default"}, "spec": spec})


GW_TARGET = [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "tls-passthrough-gateway"}]


def test_a_backend_traffic_policy_is_read_strictly() -> None:
    from orchestrator.k8s.policy import BackendTrafficPolicy

    [parsed] = parse_objects([btp({"targetRefs": GW_TARGET, "healthCheck": {
        "active": {"type": "TCP", "interval": "2s", "timeout": "500ms", "unhealthyThreshold": 2},
        "passive": {"consecutiveGatewayErrors": 3, "baseEjectionTime": "1m"}}})])
    policy = parsed.obj
    assert isinstance(policy, BackendTrafficPolicy)
    assert policy.active is not None and (policy.active.interval_ms, policy.active.timeout_ms) == (2000, 500)
    assert policy.passive is not None and policy.passive.base_ejection_time_ms == 60000
    with pytest.raises(ValidationFailed) as err:
        parse_objects([btp({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Service", "name": "x"}],
                            "healthCheck": {"active": {"type": "HTTP", "interval": "soon"}, "pasive": {}}})])
    text = str(err.value)
    for field in ("targetRefs[0].kind", "active.type", "active.interval", "pasive"):
        assert field in text, text


def test_the_policys_health_checks_reach_envoys_clusters_and_envoy_accepts_them(tmp_path: Path) -> None:
    from orchestrator.engines.netns.proxy import with_policies
    from orchestrator.envoy.adapter import proxy_ir
    from orchestrator.envoy.translate import translate
    from orchestrator.k8s.gateway.status import ObjKey
    from orchestrator.k8s.world import GatewaySpec
    from tests.unit.envoy_cases import ECHO_ENDPOINTS, plan_of, workshop_gateway, workshop_route

    [parsed] = parse_objects([btp({"targetRefs": GW_TARGET, "healthCheck": {
        "active": {"type": "TCP", "interval": "2s"}, "passive": {"consecutiveGatewayErrors": 3}}})])
    ir = proxy_ir(plan_of(workshop_gateway(5), [workshop_route()]), ECHO_ENDPOINTS).ir
    gw = GatewaySpec(ObjKey("default", "tls-passthrough-gateway"), "p", "s", None)
    layout = ProxyLayout(tmp_path)
    plain = translate(ir, layout, str(layout.log))
    assert all("healthChecks" not in c and "outlierDetection" not in c for c in plain.clusters)
    res = translate(with_policies(ir, gw, [parsed.obj]), layout, str(layout.log))
    [cluster] = [c for c in res.clusters if c["name"] == "tlsroute/default/tls-passthrough/rule/-1"]
    assert cluster["healthChecks"][0]["interval"] == "2s" and "tcpHealthCheck" in cluster["healthChecks"][0]
    assert cluster["outlierDetection"]["consecutiveGatewayFailure"] == 3
    validate.check(layout, res)  # the real Envoy's verdict


def test_a_new_proxy_starts_on_empty_lds_and_cds_and_a_restarted_one_on_its_own(tmp_path: Path) -> None:
    layout = ProxyLayout(tmp_path / "pod")
    prepare(layout, "envoy-x", "default/gw")
    assert layout.bootstrap.is_file()
    assert xds_files.read(layout.lds) == [] and xds_files.read(layout.cds) == []
    xds_files.write(layout, step5(layout))
    listeners, clusters = xds_files.read(layout.lds), xds_files.read(layout.cds)
    prepare(layout, "envoy-x", "default/gw")  # the kubelet starting the same pod's Envoy again
    assert listeners and xds_files.read(layout.lds) == listeners and xds_files.read(layout.cds) == clusters
