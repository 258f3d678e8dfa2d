"""The REST surface in process (no HTTP): kube-apiserver's statuses and wording."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.apiserver.admission import Verdict
from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.errors import Cause
from orchestrator.apiserver.registry import Resource
from orchestrator.apiserver.messages import Request, Response
from orchestrator.apiserver.rest import Api
from orchestrator.apiserver.store import Store


def _api(*admissions: Any) -> Api:
    return Api(Objects(Store(), list(admissions)), "127.0.0.1:6443")


def _call(api: Api, method: str, path: str, body: Any = None, ctype: str = "application/json",
          **query: str) -> Response:
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    return api.handle(Request(method, path, query, {"content-type": ctype, "accept": "application/json"}, data))


def _body(resp: Response) -> dict[str, Any]:
    assert isinstance(resp.body, dict)
    return resp.body


SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "server-certs"}, "type": "kubernetes.io/tls"}
GATEWAY = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"},
           "spec": {"gatewayClassName": "c", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}


def test_already_exists_and_not_found_wording() -> None:
    api = _api()
    assert _call(api, "POST", "/api/v1/namespaces/default/secrets", SECRET).code == 201
    again = _body(_call(api, "POST", "/api/v1/namespaces/default/secrets", SECRET))
    assert (again["code"], again["reason"], again["message"]) == (409, "AlreadyExists",
                                                                  'secrets "server-certs" already exists')
    missing = _body(_call(api, "POST", "/api/v1/namespaces/nowhere/secrets", SECRET))
    assert (missing["code"], missing["message"]) == (404, 'namespaces "nowhere" not found')
    gone = _body(_call(api, "GET", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/x"))
    assert gone["message"] == 'gateways.gateway.networking.k8s.io "x" not found'
    assert _call(api, "GET", "/apis/gateway.networking.k8s.io/v9/gateways").code == 404


def test_strategic_merge_patch_on_a_custom_resource_is_415() -> None:
    api = _api()
    _call(api, "POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways", GATEWAY)
    resp = _call(api, "PATCH", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/g", {"spec": {}},
                 "application/strategic-merge-patch+json")
    assert resp.code == 415 and _body(resp)["reason"] == "UnsupportedMediaType"
    merged = _call(api, "PATCH", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/g",
                   {"spec": {"listeners": [{"name": "tls", "protocol": "TLS", "port": 6443}]}},
                   "application/merge-patch+json")
    assert [x["name"] for x in _body(merged)["spec"]["listeners"]] == ["tls"]
    assert _body(merged)["metadata"]["generation"] == 2


def test_stale_update_conflicts_and_status_is_separate() -> None:
    api = _api()
    path = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways"
    created = _body(_call(api, "POST", path, GATEWAY))
    stale = dict(created, status={"addresses": [{"value": "1.2.3.4"}]})
    status = _body(_call(api, "PUT", path + "/g/status", stale))
    assert status["status"]["addresses"] == [{"value": "1.2.3.4"}] and status["metadata"]["generation"] == 1
    conflict = _body(_call(api, "PUT", path + "/g", stale))
    assert conflict["reason"] == "Conflict" and conflict["code"] == 409
    fresh = dict(status, status={})
    kept = _body(_call(api, "PUT", path + "/g", fresh))
    assert kept["status"]["addresses"] == [{"value": "1.2.3.4"}]


def test_invalid_lists_every_cause_and_admission_warns() -> None:
    class Strict:
        def validate(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> Verdict:
            return Verdict([Cause("spec.gatewayClassName", 'Unsupported value: "c"')], ["gateway is odd"])

    api = _api()
    bad = json.loads(json.dumps(GATEWAY))
    bad["metadata"]["name"] = "Bad_Name"
    bad["spec"]["listeners"][0]["port"] = "eighty"
    del bad["spec"]["gatewayClassName"]
    resp = _body(_call(api, "POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways", bad))
    assert resp["reason"] == "Invalid"
    assert [c["field"] for c in resp["details"]["causes"]] == ["metadata.name", "spec.gatewayClassName",
                                                               "spec.listeners[0].port"]
    strict = _api(Strict())
    refused = _body(_call(strict, "POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways", GATEWAY))
    assert refused["message"] == 'Gateway.gateway.networking.k8s.io "g" is invalid: spec.gatewayClassName: ' \
                                 'Unsupported value: "c"'


def test_unknown_fields_warn_by_default_and_are_dropped() -> None:
    api = _api()
    body = json.loads(json.dumps(SECRET))
    body["colour"] = "red"
    resp = _call(api, "POST", "/api/v1/namespaces/default/secrets", body)
    assert resp.headers["Warning"] == '299 - "unknown field \\"colour\\""'
    assert "colour" not in _body(resp)
    strict = _call(api, "POST", "/api/v1/namespaces/default/secrets", body, fieldValidation="Strict")
    assert _body(strict)["message"] == ('Secret in version "v1" cannot be handled as a Secret: strict decoding '
                                        'error: unknown field "colour"')


def test_namespace_deletion_and_cascade() -> None:
    api = _api()
    _call(api, "POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    _call(api, "POST", "/api/v1/namespaces/doomed/secrets", SECRET)
    term = _body(_call(api, "DELETE", "/api/v1/namespaces/doomed"))
    assert term["status"]["phase"] == "Terminating"
    forbidden = _body(_call(api, "DELETE", "/api/v1/namespaces/kube-system"))
    assert forbidden["message"] == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'


def test_watch_streams_lines_and_expires_old_versions() -> None:
    api = _api()
    _call(api, "POST", "/api/v1/namespaces/default/secrets", SECRET)
    resp = _call(api, "GET", "/api/v1/namespaces/default/secrets", watch="true", sendInitialEvents="true",
                 resourceVersionMatch="NotOlderThan", allowWatchBookmarks="true", timeoutSeconds="1",
                 fieldSelector="metadata.name=server-certs")
    assert resp.stream is not None
    lines = [json.loads(line) for line in resp.stream if line]
    assert [x["type"] for x in lines] == ["ADDED", "BOOKMARK"]
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    api.objects.store.history.clear()
    api.objects.store.history.append(_fake_event())  # the history kept now starts at 40
    old = _call(api, "GET", "/api/v1/namespaces/default/secrets", watch="true", resourceVersion="1")
    assert old.stream is not None
    error = json.loads(next(line for line in old.stream if line))
    assert error["type"] == "ERROR" and error["object"]["code"] == 410 and error["object"]["reason"] == "Expired"


def _fake_event() -> Any:
    from orchestrator.apiserver.store import Event

    return Event("ADDED", "/secrets", 40, {"metadata": {"name": "x"}})


def test_dry_run_changes_nothing() -> None:
    api = _api()
    made = _call(api, "POST", "/api/v1/namespaces/default/secrets", SECRET, dryRun="All")
    assert made.code == 201 and _body(made)["metadata"]["uid"]
    assert _call(api, "GET", "/api/v1/namespaces/default/secrets/server-certs").code == 404
    _call(api, "POST", "/api/v1/namespaces/default/secrets", SECRET)
    patched = _call(api, "PATCH", "/api/v1/namespaces/default/secrets/server-certs", {"type": "Opaque"},
                    "application/merge-patch+json", dryRun="All")
    assert _body(patched)["type"] == "Opaque"
    assert _body(_call(api, "GET", "/api/v1/namespaces/default/secrets/server-certs"))["type"] == "kubernetes.io/tls"
    _call(api, "DELETE", "/api/v1/namespaces/default/secrets/server-certs", dryRun="All")
    assert _call(api, "GET", "/api/v1/namespaces/default/secrets/server-certs").code == 200


def test_finalizers_hold_a_deletion_until_removed() -> None:
    api = _api()
    path = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways"
    held = json.loads(json.dumps(GATEWAY))
    held["metadata"]["finalizers"] = ["gateway-exists-finalizer.gateway.networking.k8s.io"]
    _call(api, "POST", path, held)
    marked = _body(_call(api, "DELETE", path + "/g"))
    assert marked["metadata"]["deletionTimestamp"]
    assert _call(api, "GET", path + "/g").code == 200
    _call(api, "PATCH", path + "/g", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert _call(api, "GET", path + "/g").code == 404


def test_a_bug_answers_internal_error() -> None:
    api = _api()
    api.objects.list_of = None  # type: ignore[assignment, method-assign]
    resp = _call(api, "GET", "/api/v1/namespaces/default/secrets")
    assert resp.code == 500 and _body(resp)["reason"] == "InternalError"


def test_load_balancer_node_ports_and_immutable_fields() -> None:
    api = _api()
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw"},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 6443}], "selector": {"app": "gw"}}}
    made = _body(_call(api, "POST", "/api/v1/namespaces/default/services", svc))
    node_port = made["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767 and made["spec"]["allocateLoadBalancerNodePorts"] is True
    again = _body(_call(api, "PATCH", "/api/v1/namespaces/default/services/gw", {"spec": {"selector": {"app": "x"}}},
                        "application/strategic-merge-patch+json"))
    assert again["spec"]["ports"][0]["nodePort"] == node_port
    moved = _body(_call(api, "PATCH", "/api/v1/namespaces/default/services/gw", {"spec": {"clusterIP": "10.96.9.9"}},
                        "application/merge-patch+json"))
    assert moved["reason"] == "Invalid" and moved["details"]["causes"][0]["field"] == "spec.clusterIP"
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                                                           "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    _call(api, "POST", "/apis/apps/v1/namespaces/default/deployments", deploy)
    changed = _body(_call(api, "PATCH", "/apis/apps/v1/namespaces/default/deployments/d",
                          {"spec": {"selector": {"matchLabels": {"a": "c"}}}}, "application/merge-patch+json"))
    assert changed["message"].startswith('Deployment.apps "d" is invalid: spec.selector: Invalid value: ')
    assert changed["message"].endswith("field is immutable")


def test_events_are_one_storage_seen_at_two_versions() -> None:
    api = _api()
    new_style = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
                 "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "gwlab/kubelet",
                 "reportingInstance": "worker1", "action": "Pulling", "reason": "Pulled", "type": "Normal",
                 "regarding": {"kind": "Pod", "name": "web-1", "namespace": "default"}, "note": "image pulled"}
    made = _call(api, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", new_style)
    assert made.code == 201 and _body(made)["note"] == "image pulled"
    core = _body(_call(api, "GET", "/api/v1/namespaces/default/events/e1"))
    assert (core["apiVersion"], core["message"], core["involvedObject"]["name"], core["reportingComponent"]) == (
        "v1", "image pulled", "web-1", "gwlab/kubelet")
    listed = _body(_call(api, "GET", "/apis/events.k8s.io/v1/namespaces/default/events"))
    assert [e["regarding"]["name"] for e in listed["items"]] == ["web-1"]


def test_quiet_watches_get_bookmarks_at_the_current_version(monkeypatch: Any) -> None:
    from orchestrator.apiserver import watch

    monkeypatch.setattr(watch, "BOOKMARK_EVERY", 0.0)
    api = _api()
    _call(api, "POST", "/api/v1/namespaces/default/secrets", SECRET)
    rv = api.objects.store.rv
    resp = _call(api, "GET", "/api/v1/namespaces/default/secrets", watch="true", resourceVersion=str(rv),
                 allowWatchBookmarks="true", timeoutSeconds="2")
    assert resp.stream is not None
    first = json.loads(next(line for line in resp.stream if line))
    assert first == {"type": "BOOKMARK", "object": {"kind": "Secret", "apiVersion": "v1",
                                                    "metadata": {"resourceVersion": str(rv)}}}
