"""What the controllers make of the workshop's objects, computed without touching anything."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from orchestrator import PROJECT_ROOT, cluster, manifests, pki, topology
from orchestrator.engines.netns.controllers import objects_of
from orchestrator.k8s import kube_proxy
from orchestrator.k8s.core import ServicePort
from orchestrator.k8s.world import Allocations, Endpoint, ServiceSpec, World, compute
from orchestrator.manifests import Document

TOPO = topology.load(PROJECT_ROOT / "topology.clab.yml")
M = PROJECT_ROOT / "lab" / "manifests"
SERVICES = IPv4Network("10.96.0.0/16")
CA = pki.make_ca()
LEAF = pki.make_leaf(CA)
SECRET = Document("secret", 0, dict(pki.tls_secret("server-certs", LEAF.cert_pem, LEAF.key_pem)))


def world(docs: list[Document], alloc: Allocations) -> World:
    plan = cluster.plan(TOPO, [], cluster.base_documents() + docs)
    blocks = {n: s.blocks[0] for n, s in plan.speakers.items()}
    return compute(TOPO, objects_of(plan), blocks, alloc, SERVICES, "2026-01-01T00:00:00Z")


def workshop(step5: bool = True) -> list[Document]:
    docs = [SECRET] + manifests.read_documents([M / "app", M / "gateway"])
    if step5:
        for d in docs:
            if d.kind == "Gateway":
                d.body["spec"]["listeners"].append({"name": "tls", "protocol": "TLS", "port": 6443,
                                                    "hostname": "passthrough.example.com",
                                                    "tls": {"mode": "Passthrough"}})
    return docs


def test_pods_addresses_and_gateway() -> None:
    alloc = Allocations()
    w = world(workshop(), alloc)
    echo = [p for p in w.pods.values() if p.role == "echo"]
    gw = [p for p in w.pods.values() if p.role == "gateway"]
    assert len(echo) == 1 and len(gw) == 1
    assert echo[0].name.startswith("passthrough-echoserver-") and echo[0].env["POD_NAME"] == echo[0].name
    assert echo[0].node in ("calico-worker", "calico-worker2")  # the control plane is tainted
    assert gw[0].namespace == "tigera-gateway" and gw[0].node != echo[0].node  # spread over the workers
    block = {"calico-worker": IPv4Network("10.50.0.16/28"), "calico-worker2": IPv4Network("10.50.0.32/28")}
    assert IPv4Address(echo[0].ip) in block[echo[0].node]
    lb = [s for s in w.services.values() if s.type == "LoadBalancer"]
    assert len(lb) == 1 and IPv4Address(lb[0].lb_ip) in IPv4Network("10.10.10.0/26")
    assert IPv4Address(w.services["default/passthrough-echoserver"].cluster_ip) in SERVICES
    # Nothing is ready yet: no endpoints; a gateway that is not ready is not Programmed.
    assert w.services["default/passthrough-echoserver"].endpoints == {443: ()}
    status = w.result.gateways[next(iter(w.result.gateways))] if w.result else None
    assert status is not None and status.addresses == (lb[0].lb_ip,)


def test_allocations_are_stable_and_endpoints_follow_readiness() -> None:
    alloc = Allocations()
    first = world(workshop(), alloc)
    alloc.ready = sorted(first.pods)
    again = world(workshop(), alloc)
    assert set(again.pods) == set(first.pods)
    eps = again.services["default/passthrough-echoserver"].endpoints[443]
    echo = next(p for p in again.pods.values() if p.role == "echo")
    assert [(e.ip, e.port) for e in eps] == [(echo.ip, 8443)]
    plan = next(iter(again.gateways.values())).plan
    assert plan is not None and [p.port for p in plan.ports] == [6443]


def test_scale_spreads_and_keeps_running_pods() -> None:
    alloc = Allocations()
    first = world(workshop(), alloc)
    docs = workshop()
    for d in docs:
        if d.kind == "Deployment":
            d.body["spec"]["replicas"] = 3
    scaled = world(docs, alloc)
    echo = [p for p in scaled.pods.values() if p.role == "echo"]
    assert len(echo) == 3 and {p.key for p in first.pods.values() if p.role == "echo"} <= {p.key for p in echo}
    assert {p.node for p in echo} == {"calico-worker", "calico-worker2"}
    assert len({p.ip for p in scaled.pods.values()}) == len(scaled.pods)


def test_two_replicas_land_on_different_workers_beside_the_gateway() -> None:
    # The gateway's proxy takes the worker the first echo pod left free; a second replica still goes
    # to the other worker (kube-scheduler spreads a workload's replicas), not to the emptier one.
    alloc = Allocations()
    first = world(workshop(), alloc)
    gw = next(p for p in first.pods.values() if p.role == "gateway")
    docs = workshop()
    for d in docs:
        if d.kind == "Deployment":
            d.body["spec"]["replicas"] = 2
    echo = [p for p in world(docs, alloc).pods.values() if p.role == "echo"]
    assert sorted(p.node for p in echo) == ["calico-worker", "calico-worker2"]
    assert gw.node in {p.node for p in echo}


def test_kube_proxy_rules() -> None:
    alloc = Allocations()
    first = world(workshop(), alloc)
    alloc.ready = sorted(first.pods)
    w = world(workshop(), alloc)
    lb = next(s for s in w.services.values() if s.lb_ip)
    gw = next(p for p in w.pods.values() if p.role == "gateway")
    other = next(n.name for n in TOPO.k8s_nodes if n.name != gw.node)
    ip = {n.name: str(n.ip) for n in TOPO.k8s_nodes}
    # externalTrafficPolicy Local: the proxy's node forwards its LoadBalancer address to the local
    # proxy (port 80 to Envoy's 10080), another node refuses it; the ClusterIP goes anywhere.
    here = kube_proxy.ruleset(ip[gw.node], list(w.services.values()), gw.node)
    assert lb.external_traffic_policy == "Local"
    assert f"ip daddr {lb.lb_ip} tcp dport 6443 counter dnat ip to {gw.ip}:6443" in here
    assert f"ip daddr {lb.lb_ip} tcp dport 80 counter dnat ip to {gw.ip}:10080" in here
    there = kube_proxy.ruleset(ip[other], list(w.services.values()), other)
    assert f"ip daddr {lb.lb_ip} tcp dport 6443 counter reject with tcp reset" in there
    assert f"ip daddr {lb.cluster_ip} tcp dport 6443 counter dnat ip to {gw.ip}:6443" in there
    assert f"snat ip to {ip[other]}" in there
    assert w.local_services() == {gw.node: [lb.lb_ip]}


def test_an_endpoint_set_many_services_share_is_one_named_map() -> None:
    eps = (Endpoint("10.50.0.17", 8443, "default/a", "calico-worker"), Endpoint("10.50.0.34", 8443, "default/b",
                                                                                 "calico-worker2"))
    alone = (Endpoint("10.50.0.18", 8443, "default/c", "calico-worker"), Endpoint("10.50.0.35", 8443, "default/d",
                                                                                  "calico-worker2"))
    port = ServicePort(443, 8443, "TCP", "")
    many = [ServiceSpec("default", f"s{i}", "ClusterIP", f"10.96.0.{10 + i}", "", (port,), {443: eps})
            for i in range(3)]
    one = ServiceSpec("default", "z", "ClusterIP", "10.96.1.1", "", (port,), {443: alone})
    text = kube_proxy.ruleset("10.0.1.12", many + [one], "calico-worker")
    assert text.count("typeof numgen random mod 2 : ip daddr . tcp dport") == 1
    assert "elements = { 0 : 10.50.0.17 . 8443, 1 : 10.50.0.34 . 8443 }" in text
    named = [ln for ln in text.splitlines() if "map @endpoints_" in ln]
    assert len(named) == 3 and all('counter dnat ip to numgen random mod 2 map @endpoints_' in ln for ln in named)
    assert len({ln.split("map @")[1].split()[0] for ln in named}) == 1
    # an endpoint set only one rule uses stays inline, as the trace prints it
    assert ('ip daddr 10.96.1.1 tcp dport 443 counter dnat ip to numgen random mod 2 map '
            '{ 0 : 10.50.0.18 . 8443, 1 : 10.50.0.35 . 8443 } comment "default/z:443 ClusterIP"') in text


def test_local_service_addresses_in_the_node_speakers_config() -> None:
    speakers = cluster.plan(TOPO, [], cluster.base_documents()).speakers
    node = sorted(speakers)[1]
    text = speakers[node].with_local_services(["10.10.10.0"]).render(Path("/x"))["bird_aggr.cfg"]
    assert "route 10.10.10.0/32 blackhole;" in text
    assert "10.10.10.0/32" not in speakers[node].render(Path("/x"))["bird_aggr.cfg"]


def test_a_second_gateway_gets_its_own_proxy_address() -> None:
    alloc = Allocations()
    first = world(workshop(), alloc)
    second = Document("gw2", 0, {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                                 "metadata": {"name": "aaa-gateway"},
                                 "spec": {"gatewayClassName": "tigera-gateway-class",
                                          "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}})
    both = world(workshop() + [second], alloc)
    ips = [p.ip for p in both.pods.values()]
    assert len(ips) == len(set(ips)) == len(first.pods) + 1
    lbs = [s.lb_ip for s in both.services.values() if s.type == "LoadBalancer"]
    assert len(lbs) == 2 and len(set(lbs)) == 2


def test_the_selected_pods_not_ready_are_kept_apart_from_the_ready_endpoints() -> None:
    from orchestrator.controlplane.writeback import endpoint_lists

    alloc = Allocations()
    w = world(workshop(), alloc)
    echo = next(p for p in w.pods.values() if p.role == "echo")
    svc = w.services["default/passthrough-echoserver"]
    assert svc.endpoints[443] == () and [e.pod for e in svc.not_ready[443]] == [echo.key]
    assert endpoint_lists(svc) == ({}, {echo.ip: echo.key}, [8443])
    assert endpoint_lists(svc, frozenset({echo.key})) == ({}, {}, [])  # waiting for its Secret: no address
    alloc.ready = [echo.key]
    svc = world(workshop(), alloc).services["default/passthrough-echoserver"]
    assert [e.pod for e in svc.endpoints[443]] == [echo.key] and svc.not_ready[443] == ()
    assert endpoint_lists(svc) == ({echo.ip: echo.key}, {}, [8443])


def test_a_deleted_pod_is_replaced_under_a_new_name_and_address_while_it_terminates() -> None:
    alloc = Allocations()
    w = world(workshop(), alloc)
    old = next(p for p in w.pods.values() if p.role == "echo")
    alloc.deleted = [p for p in alloc.pods if p["name"] == old.name]
    alloc.pods = [p for p in alloc.pods if p["name"] != old.name]
    w = world(workshop(), alloc)
    new = next(p for p in w.pods.values() if p.role == "echo")
    assert new.name != old.name and new.ip != old.ip
    assert new.name.rsplit("-", 1)[0] == old.name.rsplit("-", 1)[0]  # the same ReplicaSet
    assert old.key not in w.pods and [p.key for p in alloc.deleted_specs()] == [old.key]


def test_endpoints_and_slices_as_the_endpoints_controllers_write_them() -> None:
    from orchestrator.apiserver.crud import Objects
    from orchestrator.apiserver.registry import by_kind
    from orchestrator.apiserver.store import Store
    from orchestrator.controlplane import writeback

    alloc = Allocations()
    workshop_docs = workshop()
    w = world(workshop_docs, alloc)
    echo = next(p for p in w.pods.values() if p.role == "echo")
    svc_r, eps_r = by_kind("v1", "Service"), by_kind("v1", "Endpoints")
    slices_r = by_kind("discovery.k8s.io/v1", "EndpointSlice")
    assert svc_r and eps_r and slices_r
    objects = Objects(Store())
    svc = next(d for d in workshop_docs if d.kind == "Service")
    objects.create(svc_r, "default", {**svc.body, "metadata": {**svc.body["metadata"], "namespace": "default"}})
    specs = list(w.pods.values())
    writeback.endpoints(objects, list(w.services.values()), specs)
    ep = objects.get(eps_r, "default", "passthrough-echoserver")
    assert ep["subsets"] == [{"notReadyAddresses": [{"ip": echo.ip, "nodeName": echo.node, "targetRef": {
        "kind": "Pod", "namespace": "default", "name": echo.name}}], "ports": [{"port": 8443, "protocol": "TCP"}]}]
    entry, = objects.get(slices_r, "default", "passthrough-echoserver")["endpoints"]
    assert entry["conditions"] == {"ready": False, "serving": False, "terminating": False}

    alloc.ready = [echo.key]
    w = world(workshop_docs, alloc)
    writeback.endpoints(objects, list(w.services.values()), specs)
    subset, = objects.get(eps_r, "default", "passthrough-echoserver")["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == [echo.ip] and "notReadyAddresses" not in subset
    entry, = objects.get(slices_r, "default", "passthrough-echoserver")["endpoints"]
    assert entry["conditions"] == {"ready": True, "serving": True, "terminating": False}


def test_services_sharing_a_selector_get_endpoints_of_their_own_target_port_and_readiness() -> None:
    def svc(name: str, target: int) -> Document:
        return Document("s.yaml", 0, {"apiVersion": "v1", "kind": "Service",
                                      "metadata": {"name": name, "namespace": "default"},
                                      "spec": {"selector": {"run": "passthrough-echoserver"},
                                               "ports": [{"port": 443, "targetPort": target}]}})
    alloc = Allocations()
    world(workshop() + [svc("a", 8443), svc("b", 9443)], alloc)
    echo = [p["namespace"] + "/" + p["name"] for p in alloc.pods if p["owner"].startswith("Deployment/")]
    alloc.ready = echo
    w = world(workshop() + [svc("a", 8443), svc("b", 9443)], alloc)
    assert [e.port for e in w.services["default/a"].endpoints[443]] == [8443]
    assert [e.port for e in w.services["default/b"].endpoints[443]] == [9443]
    alloc.ready = []
    w = world(workshop() + [svc("a", 8443), svc("b", 9443)], alloc)
    assert w.services["default/a"].endpoints[443] == () and [e.port for e in w.services["default/b"].not_ready[443]] == [9443]
