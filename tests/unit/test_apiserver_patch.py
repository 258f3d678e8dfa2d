"""Strategic merge patch (built-ins, merge keys from the 1.37 schemas) and JSON merge patch."""

from __future__ import annotations

from typing import Any

from orchestrator.apiserver.patch import merge_patch, strategic_merge
from orchestrator.apiserver.registry import lookup
from orchestrator.apiserver.schemas import resource_schema

DEPLOY = lookup("apps", "v1", "deployments")
assert DEPLOY is not None
SCHEMA, POOL = resource_schema(DEPLOY)


def _deploy(env: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1", "env": env}]}}, **spec}}


def _env(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[no-any-return]


def test_merge_key_keeps_items_the_patch_does_not_name() -> None:
    current = _deploy([{"name": "A", "value": "1"}, {"name": "EXTRA", "value": "kept"}])
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "2"}]}]}}}}
    out = strategic_merge(current, patch, SCHEMA, POOL)
    assert _env(out) == [{"name": "A", "value": "2"}, {"name": "EXTRA", "value": "kept"}]
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "i:1"


def test_patch_delete_and_set_element_order() -> None:
    current = _deploy([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}])
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "c", "$setElementOrder/env": [{"name": "C"}, {"name": "A"}],
        "env": [{"name": "B", "$patch": "delete"}]}]}}}}
    out = strategic_merge(current, patch, SCHEMA, POOL)
    assert [e["name"] for e in _env(out)] == ["C", "A"]


def test_replace_directive_retain_keys_and_null() -> None:
    current = _deploy([{"name": "A", "value": "1"}], replicas=3,
                      strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
    patch = {"spec": {"replicas": None, "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                      "template": {"spec": {"containers": [{"name": "c", "env": [
                          {"name": "Z", "value": "9"}, {"$patch": "replace"}]}]}}}}
    out = strategic_merge(current, patch, SCHEMA, POOL)
    assert "replicas" not in out["spec"]
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert _env(out) == [{"name": "Z", "value": "9"}]


def test_primitive_merge_list_and_delete_from_primitive_list() -> None:
    ns = lookup("", "v1", "namespaces")
    assert ns is not None
    schema, pool = resource_schema(ns)
    current = {"metadata": {"name": "n", "finalizers": ["a", "b"]}}
    out = strategic_merge(current, {"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]}},
                          schema, pool)
    assert out["metadata"]["finalizers"] == ["b", "c"]


def test_lists_without_a_strategy_are_replaced() -> None:
    current = _deploy([])
    current["spec"]["template"]["spec"]["containers"][0]["args"] = ["x", "y"]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["z"]}]}}}}
    out = strategic_merge(current, patch, SCHEMA, POOL)
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["z"]


def test_json_merge_patch_rfc7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    assert merge_patch(target, {"a": "z", "c": {"f": None}, "l": [3]}) == {"a": "z", "c": {"d": "e"}, "l": [3]}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"a": "b"}, ["c"]) == ["c"]
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    listeners = {"spec": {"listeners": [{"name": "http"}, {"name": "tls"}]}}
    assert merge_patch(listeners, {"spec": {"listeners": [{"name": "http"}]}}) == {"spec": {"listeners": [{"name": "http"}]}}
