"""The API server's pure parts: selectors, tables, defaults, validation, bodies, the store."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.apiserver import protobuf
from orchestrator.apiserver.body import decode_body, load_yaml
from orchestrator.apiserver.defaults import allocate_cluster_ip, apply_defaults
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.registry import RESOURCES, by_kind, lookup
from orchestrator.apiserver.schemas import resource_schema
from orchestrator.apiserver.selectors import label_matcher, parse_fields
from orchestrator.apiserver import store as store_module
from orchestrator.apiserver.store import Store, TooOld, journal_of, read_persisted
from orchestrator.apiserver.tables import age, cells, human_duration, json_path
from orchestrator.apiserver.validation import validate


def _obj(labels: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": "x", "labels": labels}}


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("app=web", {"app": "web"}, True), ("app==web", {"app": "db"}, False), ("app!=web", {}, True),
    ("env in (a,b)", {"env": "b"}, True), ("env notin (a,b)", {"env": "b"}, False), ("env notin (a)", {}, True),
    ("env", {"env": ""}, True), ("!env", {"env": "x"}, False), ("app=web,env in (a, b),!old", {"app": "web", "env": "a"},
                                                                True)])
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert label_matcher(selector)(_obj(labels)) is expected


def test_field_selectors_and_their_errors() -> None:
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"nodeName": "w1"}, "status": {"phase": "Running"}}
    assert parse_fields("spec.nodeName=w1,status.phase!=Pending", "Pod", "pods")(pod)
    assert not parse_fields("metadata.name=q", "Pod", "pods")(pod)
    event = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}}
    assert parse_fields("involvedObject.kind=Pod,involvedObject.name=p", "Event", "events")(event)
    with pytest.raises(ApiError, match="field label not supported: spec.foo"):
        parse_fields("spec.foo=1", "Pod", "pods")


def test_human_duration_matches_kubectl() -> None:
    assert [human_duration(s) for s in (0, 119, 120, 125, 600, 3 * 3600 + 60, 30 * 3600, 3 * 86400 + 3600)] == \
        ["0s", "119s", "2m", "2m5s", "10m", "3h1m", "30h", "3d1h"]
    now = dt.datetime(2026, 1, 1, 0, 1, 0, tzinfo=dt.timezone.utc)
    assert age("2026-01-01T00:00:00Z", now) == "60s"


def test_table_cells_for_pods_services_and_a_gateway() -> None:
    pod = lookup("", "v1", "pods")
    svc = lookup("", "v1", "services")
    gw = lookup("gateway.networking.k8s.io", "v1", "gateways")
    assert pod and svc and gw
    p = {"metadata": {"name": "p"}, "spec": {"containers": [{}, {}], "nodeName": "w1"},
         "status": {"phase": "Running", "podIP": "10.50.0.17",
                    "containerStatuses": [{"ready": True, "restartCount": 2}, {"ready": False, "restartCount": 1}]}}
    assert cells(pod, p)[:4] == ["p", "1/2", "Running", 3]
    assert cells(pod, p)[5:7] == ["10.50.0.17", "w1"]
    # as kubectl prints a container that ended before: "3 (12s ago)", from the last termination
    ended = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"exitCode": 137, "finishedAt": ended}}
    assert cells(pod, p)[3] == "3 (3h ago)"  # seconds are not shown at this age
    s = {"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10",
                                             "ports": [{"port": 6443, "nodePort": 31000, "protocol": "TCP"}]}}
    assert cells(svc, s)[1:5] == ["LoadBalancer", "10.96.0.10", "<pending>", "6443:31000/TCP"]
    g = {"metadata": {"name": "g"}, "spec": {"gatewayClassName": "c"},
         "status": {"addresses": [{"value": "10.10.10.0"}, {"value": "10.10.10.1"}],
                    "conditions": [{"type": "Accepted", "status": "True"}, {"type": "Programmed", "status": "False"}]}}
    assert cells(gw, g)[:4] == ["g", "c", "10.10.10.0,10.10.10.1", "False"]
    assert json_path(g, '.status.conditions[?(@.type=="Accepted")].status') == ["True"]


def test_defaults_and_cluster_ip() -> None:
    svc = lookup("", "v1", "services")
    deploy = lookup("apps", "v1", "deployments")
    assert svc and deploy
    s: dict[str, Any] = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 443}]}}
    apply_defaults(svc, s)
    assert s["spec"]["ports"] == [{"port": 443, "protocol": "TCP", "targetPort": 443}]
    assert allocate_cluster_ip(s["spec"], set()) is None and s["spec"]["clusterIP"].startswith("10.96.")
    taken: dict[str, Any] = {"spec": {"clusterIP": s["spec"]["clusterIP"]}}
    cause = allocate_cluster_ip(taken["spec"], {s["spec"]["clusterIP"]})
    assert cause is not None and "provided IP is already allocated" in cause.message
    d: dict[str, Any] = {"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    apply_defaults(deploy, d)
    assert (d["spec"]["replicas"], d["spec"]["revisionHistoryLimit"], d["spec"]["progressDeadlineSeconds"]) == (1, 10, 600)
    container = d["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Always" and container["terminationMessagePolicy"] == "File"


def test_validation_lists_every_unknown_field_and_type_problem() -> None:
    deploy = lookup("apps", "v1", "deployments")
    assert deploy
    schema, pool = resource_schema(deploy)
    found = validate({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "colour": 1},
                      "spec": {"replicas": "two", "selector": {}, "bogus": True,
                               "template": {"spec": {"containers": [{"image": "x", "portz": 1}]}}}}, schema, pool)
    assert found.unknown == ["metadata.colour", "spec.bogus", "spec.template.spec.containers[0].portz"]
    assert {c.field for c in found.causes} == {"spec.replicas", "spec.template.spec.containers[0].name"}


def test_every_resource_has_a_schema() -> None:
    for r in RESOURCES:
        schema, _ = resource_schema(r)
        assert "metadata" in schema["properties"], r.kind
    assert by_kind("gateway.networking.k8s.io/v1", "Gateway") is not None


def test_yaml_alias_bombs_are_refused_before_expansion() -> None:
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    with pytest.raises(ApiError, match="anchors and aliases"):
        load_yaml(bomb)
    with pytest.raises(ApiError) as exc:
        decode_body(b"x" * (3 * 1024 * 1024 + 1), {"content-type": "application/json"})
    assert exc.value.reason == "RequestEntityTooLarge"
    assert load_yaml("t: 2026-01-01T00:00:00Z") == {"t": "2026-01-01T00:00:00Z"}


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_secret_as_kubectl_create_secret_sends_it() -> None:
    meta = _field(1, b"server-certs") + _field(2, b"") + _field(3, b"default")
    data = _field(2, _field(1, b"tls.crt") + _field(2, b"CERT"))
    raw = _field(1, meta) + data + _field(3, b"kubernetes.io/tls")
    body = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"Secret")) + _field(2, raw)
    assert protobuf.decode(body) == {"apiVersion": "v1", "kind": "Secret",
                                     "metadata": {"name": "server-certs", "namespace": "default"},
                                     "data": {"tls.crt": base64.b64encode(b"CERT").decode()},
                                     "type": "kubernetes.io/tls"}


def test_store_persists_before_answering_and_continues_versions(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    store = Store(path)
    store.write("/configmaps", {"metadata": {"name": "a", "namespace": "default"}})
    store.write("/configmaps", {"metadata": {"name": "b", "namespace": "default"}})
    store.write("/configmaps", {"metadata": {"name": "a", "namespace": "default"}}, deleted=True)
    store.write("/configmaps", {"metadata": {"name": "a", "namespace": "default"}})
    rv, persisted = read_persisted(path)  # what another process reads, before any snapshot is rewritten
    assert rv == 4 and sorted(persisted["/configmaps"]) == [("default", "a"), ("default", "b")]
    assert persisted["/configmaps"][("default", "a")]["metadata"]["resourceVersion"] == "4"
    again = Store(path)
    assert [o["metadata"]["name"] for o in again.list("/configmaps")[0]] == ["a", "b"]
    written = again.write("/configmaps", {"metadata": {"name": "c", "namespace": "default"}})
    assert written["metadata"]["resourceVersion"] == "5"
    with pytest.raises(TooOld):
        again.watch("/configmaps", 1)


def test_store_log_is_folded_into_the_snapshot_and_a_write_costs_one_line(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "COMPACT_MIN", 5)
    path = tmp_path / "store.json"
    store = Store(path)
    snapshot = path.read_bytes()
    for i in range(4):
        store.write("/configmaps", {"metadata": {"name": f"c{i}", "namespace": "default"}, "data": {"i": str(i)}})
    assert path.read_bytes() == snapshot  # four writes: four lines of the log, the snapshot untouched
    assert len(journal_of(path).read_bytes().splitlines()) == 4
    for i in range(4, 12):
        store.write("/configmaps", {"metadata": {"name": f"c{i}", "namespace": "default"}, "data": {"i": str(i)}})
    store.write("/configmaps", {"metadata": {"name": "c0", "namespace": "default"}}, deleted=True)
    assert json.loads(path.read_bytes())["resourceVersion"] > 4  # rewritten once the log outgrew it
    assert len(journal_of(path).read_bytes().splitlines()) < 13
    rv, persisted = read_persisted(path)
    assert rv == store.rv == 13
    assert persisted["/configmaps"] == dict(store.objects["/configmaps"])
    assert (journal_of(path).stat().st_mode & 0o777) == 0o600


def test_store_index_follows_every_write() -> None:
    store = Store()
    store.write("/services", {"metadata": {"name": "a", "namespace": "n"}, "spec": {"clusterIP": "10.96.0.10"}})
    ips = store.index("/services", "clusterIP", lambda o: [o["spec"]["clusterIP"]])
    assert dict(ips) == {"10.96.0.10": 1}
    store.write("/services", {"metadata": {"name": "b", "namespace": "n"}, "spec": {"clusterIP": "10.96.0.11"}})
    store.write("/services", {"metadata": {"name": "a", "namespace": "n"}, "spec": {"clusterIP": "10.96.0.12"}})
    assert dict(ips) == {"10.96.0.11": 1, "10.96.0.12": 1}
    store.write("/services", {"metadata": {"name": "b", "namespace": "n"}, "spec": {"clusterIP": "10.96.0.11"}},
                deleted=True)
    assert dict(ips) == {"10.96.0.12": 1}


def test_store_watch_replays_and_follows() -> None:
    store = Store()
    store.write("/configmaps", {"metadata": {"name": "a", "namespace": "n1"}})
    w = store.watch("/configmaps", 0, namespace="n1")
    store.write("/configmaps", {"metadata": {"name": "b", "namespace": "n2"}})
    store.write("/configmaps", {"metadata": {"name": "a", "namespace": "n1"}}, deleted=True)
    seen = [w.next(1), w.next(1), w.next(0.01)]
    w.close()
    assert [(e.type, e.object["metadata"]["name"]) for e in seen if e] == [("ADDED", "a"), ("DELETED", "a")]
