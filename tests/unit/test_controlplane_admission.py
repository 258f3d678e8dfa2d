"""The lab's kinds as the API server's admission, and YAML readers that refuse aliases."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT, manifests, safeyaml
from orchestrator.apiserver.defaults import apply_defaults
from orchestrator.apiserver.registry import by_kind
from orchestrator.controlplane.admission import KindsAdmission
from orchestrator.controlplane.objects import document
from orchestrator.errors import ValidationFailed
from orchestrator.k8s import kinds

from tests.workshop_texts import STEP3_GATEWAY

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("bcdefgh", "cdefghi"))


def _resource(api_version: str, kind: str):  # type: ignore[no-untyped-def]
    r = by_kind(api_version, kind)
    assert r is not None
    return r


def test_every_problem_of_a_gateway_comes_back_as_a_field_cause() -> None:
    body = safeyaml.load(STEP3_GATEWAY.replace("name: http", "name: Bad_Name").replace("port: 80", "port: 0"))
    verdict = KindsAdmission().validate(_resource("gateway.networking.k8s.io/v1", "Gateway"), body, None)
    fields = sorted(c.field for c in verdict.causes)
    assert fields == ["spec.listeners[0].name", "spec.listeners[0].port"]


def test_a_stored_deployment_with_the_servers_defaults_is_accepted_without_warnings() -> None:
    docs = manifests.read_documents([PROJECT_ROOT / "lab/manifests/app/echoserver.yaml"])
    dep = next(d for d in docs if d.kind == "Deployment")
    r = _resource("apps/v1", "Deployment")
    stored = copy.deepcopy(dep.body)
    apply_defaults(r, stored)
    stored["metadata"].update(uid="u", generation=1, resourceVersion="7", creationTimestamp="2026-01-01T00:00:00Z")
    assert KindsAdmission().validate(r, stored, None).causes == []
    assert KindsAdmission().validate(r, stored, None).warnings == []
    parsed = kinds.parse_objects([document(r, stored)])  # what the controllers read back parses too
    assert parsed[0].obj.name == "passthrough-echoserver"


def test_unmodelled_fields_are_warnings() -> None:
    body = safeyaml.load(STEP3_GATEWAY)
    body["spec"]["listeners"][0]["somethingNew"] = 1
    verdict = KindsAdmission().validate(_resource("gateway.networking.k8s.io/v1", "Gateway"), body, None)
    assert verdict.causes and "somethingNew" in verdict.causes[0].field  # the Gateway's schema is closed


def test_yaml_alias_bombs_are_refused_at_once(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    with pytest.raises(ValidationFailed, match="anchors and aliases"):
        manifests.read_documents([bomb])
    with pytest.raises(Exception, match="anchors and aliases"):
        safeyaml.load("a: &x 1\nb: *x\n")
    assert safeyaml.load("a: 1\nb: [2, 3]\n") == {"a": 1, "b": [2, 3]}
