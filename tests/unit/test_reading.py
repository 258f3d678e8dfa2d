"""The control plane reads each stored object once per resourceVersion: an unchanged object is not
read again, a changed one is (its new body in the documents, the fingerprint and the typed objects)."""

from __future__ import annotations

import pytest

from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.registry import Resource, by_kind
from orchestrator.apiserver.store import Store
from orchestrator.controlplane.admission import KindsAdmission
from orchestrator.controlplane.reading import Reading
from orchestrator.errors import ValidationFailed
from orchestrator.manifests import Document



def _res(api_version: str, kind: str) -> Resource:
    r = by_kind(api_version, kind)
    assert r is not None
    return r


SERVICES = _res("v1", "Service")


def service(name: str, selector: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"run": selector}, "allocateLoadBalancerNodePorts": False,
                     "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}]}}


def read(reading: Reading, objects: Objects) -> tuple[list[Document], str]:
    with objects.store.lock:
        return reading.documents(objects)


def test_unchanged_objects_are_not_read_again_and_a_changed_one_is() -> None:
    objects = Objects(Store(), [KindsAdmission()])
    for n in ("a", "b"):
        objects.create(SERVICES, "default", service(n, "x"))
    reading = Reading()
    docs, fp = read(reading, objects)
    again, fp2 = read(reading, objects)
    assert fp2 == fp and all(x is y for x, y in zip(docs, again))
    # a status write (the controllers' own) moves the version, not the user's body
    svc = objects.get(SERVICES, "default", "a")
    objects.update(SERVICES, "default", "a", {**svc, "status": {"loadBalancer": {"ingress": [{"ip": "10.200.0.1"}]}}},
                   subresource="status")
    assert read(reading, objects)[1] == fp
    # a user's change: the new body, fingerprint and typed object
    svc = objects.get(SERVICES, "default", "b")
    objects.update(SERVICES, "default", "b", {**svc, "spec": {**svc["spec"], "selector": {"run": "y"}}})
    docs, fp3 = read(reading, objects)
    assert fp3 != fp
    assert [p.obj.selector for p in reading.parse_objects(docs)] == [{"run": "x"}, {"run": "y"}]
    objects.remove(SERVICES, "default", "a")
    docs, _ = read(reading, objects)
    assert [d.name for d in docs] == ["b"]


def test_a_document_it_did_not_read_is_parsed_and_its_problems_reported() -> None:
    reading = Reading()
    bad = Document("x.yaml", 0, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                                 "spec": {"ports": "nope"}})
    with pytest.raises(ValidationFailed):
        reading.parse_objects([bad])
