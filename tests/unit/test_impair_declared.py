"""Impairments declared in topology.clab.yml (`vars.netem` of a link or an endpoint)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from orchestrator import PROJECT_ROOT
from orchestrator.impair.declared import declared_impairments
from orchestrator.impair.spec import NetemSpec

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "impair" / "impaired.clab.yml"
SCHEMAS = [PROJECT_ROOT.parent / "shared" / "reference" / "clab.schema.json",
           Path("/work/shared/reference/clab.schema.json")]
SCHEMA = next((p for p in SCHEMAS if p.exists()), SCHEMAS[0])


def sample() -> Any:
    return yaml.safe_load(SAMPLE.read_text())


@pytest.mark.skipif(not SCHEMA.exists(), reason="containerlab's clab.schema.json is not beside the checkout")
def test_sample_is_a_valid_containerlab_topology() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert [e.message for e in validator.iter_errors(sample())] == []
    # the check can fail: vars where the schema allows none
    doc = sample()
    doc["topology"]["nodes"]["bastion"]["netem"] = {"delay": "20ms"}
    assert list(validator.iter_errors(doc))


def test_link_vars_cover_both_ends_and_endpoint_vars_override() -> None:
    declared = declared_impairments(sample(), str(SAMPLE))
    assert declared.problems == ()
    assert declared.by_endpoint() == {
        ("bastion", "eth1"): NetemSpec(delay_us=20_000, jitter_us=2_000, loss_pct=1.0),
        ("gwlab-br", "gwlab-bastion"): NetemSpec(delay_us=20_000, jitter_us=2_000),
        ("calico-worker", "eth1"): NetemSpec(delay_us=5_000, rate_kbit=10_000),
    }
    assert {d.where for d in declared.impairments} == {"topology.links[0]", "topology.links[2]"}


def test_short_links_and_no_vars() -> None:
    doc = {"topology": {"links": [{"endpoints": ["a:eth1", "b:eth1"], "vars": {"netem": {"loss": "5%"}}},
                                  {"endpoints": ["a:eth2", "c:eth1"]}]}}
    assert declared_impairments(doc, "t.yml").by_endpoint() == {
        ("a", "eth1"): NetemSpec(loss_pct=5.0), ("b", "eth1"): NetemSpec(loss_pct=5.0)}
    assert declared_impairments({"name": "x"}, "t.yml").impairments == ()
    empty = {"topology": {"links": [{"endpoints": ["a:eth1", "b:eth1"], "vars": {"netem": None}}]}}
    assert declared_impairments(empty, "t.yml") == declared_impairments({}, "t.yml")


def test_every_problem_with_its_path() -> None:
    doc = sample()
    links = doc["topology"]["links"]
    links[0]["vars"]["netem"]["loss"] = 150          # on the link: reported once, not per end
    links[0]["endpoints"][0]["vars"]["netem"]["delay"] = "-3ms"
    links[1]["endpoints"][0]["vars"] = {"netem": {"jitter": "2ms", "latency": 5}}
    links[2]["endpoints"][0]["vars"]["netem"] = "20ms"
    links[3]["vars"] = {"netem": {"rate": "fast"}}
    links.append({"type": "host", "endpoint": {"node": "bastion", "interface": "eth9"},
                  "host-interface": "x", "vars": {"netem": {"delay": 1}}})
    links.append(copy.deepcopy(links[2]))
    links[-1]["endpoints"][0]["vars"]["netem"] = {"delay": 1}
    links.append(copy.deepcopy(links[-1]))
    problems = declared_impairments(doc, "lab.yml").problems
    got = [(p.field, p.message) for p in problems]
    assert got == [
        ("topology.links[0].endpoints[0].vars.netem.delay", "-3ms is negative"),
        ("topology.links[0].vars.netem.loss", "150 is outside 0-100%"),
        ("topology.links[1].endpoints[0].vars.netem.latency", "unknown impairment 'latency'"),
        ("topology.links[1].endpoints[0].vars.netem.jitter", "jitter cannot be set without a delay"),
        ("topology.links[2].endpoints[0].vars.netem", "must be a mapping of impairments, not '20ms'"),
        ("topology.links[3].vars.netem.rate", "'fast' is not a rate"),
        ("topology.links[4]", "impairments are declared on a host link"),
        ("topology.links[6]", "calico-worker:eth1 is impaired on topology.links[5] already"),
    ]
    assert all(p.file == "lab.yml" and p.fix for p in problems)
    assert "topology.links[1].endpoints[0].vars.netem.delay" in problems[3].fix
