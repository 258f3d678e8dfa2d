"""The controllers' own objects written into an API server's store (in process): the gateway proxy's
Deployment and Service as Envoy Gateway makes them, ReplicaSets per pod template owning their pods,
and what happens when a Gateway goes or a template changes."""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.store import Store
from orchestrator.controlplane import workloads
from orchestrator.controlplane.admission import KindsAdmission
from orchestrator.controlplane.objects import controllers_own
from orchestrator.k8s.world import Allocations, World
from orchestrator.manifests import Document
from tests.unit.test_world import workshop, world

LABELS = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
          "app.kubernetes.io/managed-by": "envoy-gateway",
          "gateway.envoyproxy.io/owning-gateway-name": "tls-passthrough-gateway",
          "gateway.envoyproxy.io/owning-gateway-namespace": "default"}


def store_with(docs: list[Document]) -> Objects:
    objects = Objects(Store(), [KindsAdmission()])
    for d in docs:
        if d.kind == "Deployment":
            objects.create(workloads.DEPLOYMENTS, "default", copy.deepcopy(d.body))
    return objects


def write_pods(objects: Objects, w: World) -> None:
    """Pod objects as writeback.pods makes them (the part the ReplicaSets need: name and labels)."""
    for pod in w.pods.values():
        if pod.namespace != "default":
            workloads.namespace(objects, pod.namespace)
        try:
            objects.get(workloads.PODS, pod.namespace, pod.name)
        except ApiError:
            objects.create(workloads.PODS, pod.namespace, {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod.name, "namespace": pod.namespace,
                                                                "labels": dict(pod.labels)},
                "spec": {"containers": [{"name": "c", "image": "gwlab/c"}]}})


def one_pass(objects: Objects, w: World) -> list[workloads.Owned]:
    ready = set(w.pods)
    owned = workloads.proxies(objects, w, ready)
    write_pods(objects, w)
    return owned + workloads.replica_sets(objects, w, ready)


def listed(objects: Objects, r: Any, ns: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects.list_of(r, ns)[0]}


def test_the_proxy_deployment_and_service_as_envoy_gateway_makes_them() -> None:
    alloc = Allocations()
    docs = workshop()
    w = world(docs, alloc)
    objects = store_with(docs)
    owned = one_pass(objects, w)
    [(name, deploy)] = listed(objects, workloads.DEPLOYMENTS, "tigera-gateway").items()
    [svc] = listed(objects, workloads.SERVICES, "tigera-gateway").values()
    gw = next(iter(w.gateways.values()))
    assert f"tigera-gateway/{name}" == gw.service and name.startswith("envoy-default-tls-passthrough-gateway-")
    assert deploy["metadata"]["labels"] == LABELS == svc["spec"]["selector"]
    assert (svc["spec"]["type"], svc["spec"]["externalTrafficPolicy"]) == ("LoadBalancer", "Local")
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(80, 10080), (6443, 6443)]
    lb = w.services[gw.service].lb_ip
    assert lb and svc["status"]["loadBalancer"]["ingress"] == [{"ip": lb, "ipMode": "VIP"}]
    assert svc["spec"]["clusterIP"] == w.services[gw.service].cluster_ip  # kube-proxy's address
    assert controllers_own(deploy) and controllers_own(svc)
    assert {(o.resource.kind, o.name) for o in owned} >= {("Deployment", name), ("Service", name)}
    # A second pass with nothing changed writes nothing.
    rv = objects.store.rv
    one_pass(objects, w)
    assert objects.store.rv == rv


def test_replicasets_own_the_pods_and_a_template_change_rolls() -> None:
    alloc = Allocations()
    docs = workshop()
    w = world(docs, alloc)
    objects = store_with(docs)
    one_pass(objects, w)
    for ns in ("default", "tigera-gateway"):
        sets = listed(objects, workloads.REPLICASETS, ns)
        for pod in listed(objects, workloads.PODS, ns).values():
            [ref] = pod["metadata"]["ownerReferences"]
            rs = sets[ref["name"]]
            assert ref["uid"] == rs["metadata"]["uid"] and ref["controller"] is True
            assert pod["metadata"]["name"].rsplit("-", 1)[0] == ref["name"]
            assert rs["metadata"]["labels"]["pod-template-hash"] == pod["metadata"]["labels"]["pod-template-hash"]
            assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
            assert rs["status"]["readyReplicas"] == 1
    [old] = listed(objects, workloads.REPLICASETS, "default")

    changed = workshop()
    for d in changed:
        if d.kind == "Deployment":
            d.body["spec"]["template"]["spec"]["containers"][0].setdefault("env", []).append(
                {"name": "X", "value": "1"})
            current = objects.get(workloads.DEPLOYMENTS, "default", d.name)
            objects.update(workloads.DEPLOYMENTS, "default", d.name, {**current, "spec": copy.deepcopy(d.body["spec"])})
    w2 = world(changed, alloc)
    one_pass(objects, w2)
    sets = listed(objects, workloads.REPLICASETS, "default")
    [new] = set(sets) - {old}
    assert sets[old]["spec"]["replicas"] == 0 and sets[old]["status"]["replicas"] == 0
    assert sets[new]["spec"]["replicas"] == 1
    assert sets[new]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    events = {(e["involvedObject"]["name"], e["reason"]) for e in objects.list_of(workloads._res("v1", "Event"),
                                                                                  "default")[0]}
    assert ("passthrough-echoserver", "ScalingReplicaSet") in events


def test_a_gateway_gone_takes_its_proxy_objects_and_a_deleted_one_is_missed() -> None:
    alloc = Allocations()
    docs = workshop()
    w = world(docs, alloc)
    objects = store_with(docs)
    owned = one_pass(objects, w)
    name = next(iter(w.gateways.values())).service.partition("/")[2]
    objects.remove(workloads.DEPLOYMENTS, "tigera-gateway", name)
    assert [o.name for o in owned if o.missing(objects)] == [name]  # the reconciler's cue for a whole pass
    one_pass(objects, w)
    assert not any(o.missing(objects) for o in owned)

    without = [d for d in docs if d.kind != "Gateway"]
    one_pass(objects, world(without, alloc))
    for r in (workloads.DEPLOYMENTS, workloads.SERVICES, workloads.REPLICASETS, workloads.ENDPOINTS):
        assert listed(objects, r, "tigera-gateway") == {}, r.kind
    assert list(listed(objects, workloads.REPLICASETS, "default"))  # the echo server's stays


def test_admission_lets_the_controllers_proxy_through_and_judges_the_same_object_of_a_user() -> None:
    objects = store_with([])
    workloads.namespace(objects, "tigera-gateway")
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "envoy-x", "namespace": "tigera-gateway", "labels": LABELS},
            "spec": {"selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS},
                                  "spec": {"containers": [{"name": "envoy", "image": "gwlab/envoy"}]}}}}
    verdict = KindsAdmission().validate(workloads.DEPLOYMENTS, body, None)
    assert not verdict.causes
    user = copy.deepcopy(body)
    user["metadata"]["labels"] = {"app": "envoy"}
    assert any("image" in c.field for c in KindsAdmission().validate(workloads.DEPLOYMENTS, user, None).causes)
