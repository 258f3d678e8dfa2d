"""The writeback skips an object whose wanted body did not change since it wrote it, and only then:
an object a user changed (or deleted) since is written again as the controllers want it."""

from __future__ import annotations

from typing import Any

from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.registry import Resource, by_kind
from orchestrator.apiserver.store import Store
from orchestrator.controlplane import writeback
from orchestrator.k8s.world import Endpoint, ServiceSpec



def _res(api_version: str, kind: str) -> Resource:
    r = by_kind(api_version, kind)
    assert r is not None
    return r


SERVICES, ENDPOINTS = _res("v1", "Service"), _res("v1", "Endpoints")
SLICES = _res("discovery.k8s.io/v1", "EndpointSlice")


def lab(names: list[str]) -> Objects:
    objects = Objects(Store())
    for n in names:
        objects.create(SERVICES, "default", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"run": "x"}, "allocateLoadBalancerNodePorts": False,
                     "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}]}})
    return objects


def spec(name: str, ips: list[str]) -> ServiceSpec:
    eps = tuple(Endpoint(ip, 8443, f"default/pod-{i}", "calico-worker") for i, ip in enumerate(ips))
    return ServiceSpec("default", name, "LoadBalancer", "10.96.0.10", "10.200.0.1", (), {443: eps}, "Local")


def addresses(objects: Objects, name: str) -> list[str]:
    subsets = objects.get(ENDPOINTS, "default", name)["subsets"]
    return [a["ip"] for s in subsets for a in s.get("addresses", [])]


def test_an_unchanged_pass_writes_nothing_and_a_changed_service_only_its_own() -> None:
    objects = lab(["a", "b"])
    writeback.endpoints(objects, [spec("a", ["10.50.0.1"]), spec("b", ["10.50.0.2"])], [])
    rv = objects.store.rv
    writeback.endpoints(objects, [spec("a", ["10.50.0.1"]), spec("b", ["10.50.0.2"])], [])
    assert objects.store.rv == rv
    writeback.endpoints(objects, [spec("a", ["10.50.0.1"]), spec("b", ["10.50.0.3"])], [])
    assert objects.store.rv == rv + 2  # b's Endpoints and EndpointSlice
    assert addresses(objects, "b") == ["10.50.0.3"] and addresses(objects, "a") == ["10.50.0.1"]


def test_an_object_a_user_changed_or_deleted_is_written_again() -> None:
    objects = lab(["a"])
    want = [spec("a", ["10.50.0.1"])]
    writeback.endpoints(objects, want, [])
    mine = objects.get(ENDPOINTS, "default", "a")
    objects.update(ENDPOINTS, "default", "a", {**mine, "subsets": []}, strictness="Ignore")
    objects.remove(SLICES, "default", "a")
    writeback.endpoints(objects, want, [])
    assert addresses(objects, "a") == ["10.50.0.1"]
    assert [e["addresses"] for e in objects.get(SLICES, "default", "a")["endpoints"]] == [["10.50.0.1"]]


def test_a_status_is_written_once_and_again_after_someone_else_changed_it() -> None:
    objects = lab(["a"])
    status: dict[str, Any] = {"loadBalancer": {"ingress": [{"ip": "10.200.0.1", "ipMode": "VIP"}]}}
    writeback.statuses(objects, {"Service/default/a": status})
    rv = objects.store.rv
    writeback.statuses(objects, {"Service/default/a": status})
    assert objects.store.rv == rv
    svc = objects.get(SERVICES, "default", "a")
    objects.update(SERVICES, "default", "a", {**svc, "status": {"loadBalancer": {}}}, subresource="status")
    writeback.statuses(objects, {"Service/default/a": status})
    assert objects.get(SERVICES, "default", "a")["status"] == status
