"""A TLSRoute with several weighted backends, through the same translation: one EDS cluster whose
localities carry the backendRefs' weights (as `egctl config envoy-proxy endpoint` shows), traffic
reaching each backend in turn, and a weight-0 backend never chosen. Judged by which pod answered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from orchestrator import PROJECT_ROOT

from .helpers import gwlab

pytestmark = pytest.mark.lab
HOST = "passthrough.example.com"
CLUSTER = "tlsroute/default/tls-passthrough/rule/-1"


def second_echo(tmp: Path) -> Path:
    """The workshop's echo Deployment and Service again, named echo-b."""
    docs = list(yaml.safe_load_all((PROJECT_ROOT / "lab/manifests/app/echoserver.yaml").read_text()))
    text = yaml.safe_dump_all(docs).replace("passthrough-echoserver", "echo-b")
    path = tmp / "echo-b.yaml"
    path.write_text(text)
    return path


def route_with(tmp: Path, weights: dict[str, int]) -> Path:
    [route] = list(yaml.safe_load_all((PROJECT_ROOT / "lab/manifests/gateway/30-tlsroute.yaml").read_text()))
    route["spec"]["rules"] = [{"backendRefs": [{"name": n, "port": 443, "weight": w} for n, w in weights.items()]}]
    path = tmp / "route.yaml"
    path.write_text(yaml.safe_dump(route))
    return path


def answered_by(lab: str, address: str, n: int) -> list[str]:
    pods = []
    for _ in range(n):
        out = gwlab("exec", "--lab", lab, "bastion", "--", "curl", "-sS", "--max-time", "5", "--resolve",
                    f"{HOST}:6443:{address}", "--cacert", str(Path(gwlab("certs", "--lab", lab).stdout.strip())
                                                              / "example.com.crt"), f"https://{HOST}:6443/get")
        pods.append(json.loads(out.stdout)["pod"])
    return pods


def test_weighted_backends(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    gwlab("apply", "--lab", lab_name, "-f", str(second_echo(tmp_path)))
    gwlab("apply", "--lab", lab_name, "-f", str(route_with(tmp_path, {"passthrough-echoserver": 3, "echo-b": 1})))
    dump = json.loads(gwlab("egctl", "config", "envoy-proxy", "endpoint", "--lab", lab_name).stdout)
    [proxy] = dump["tigera-gateway"].values()
    [section] = proxy["configs"]
    [cla] = [c["endpoint_config"] for c in section["dynamic_endpoint_configs"]
             if c["endpoint_config"]["cluster_name"] == CLUSTER]
    weights = {loc["locality"]["region"]: loc["load_balancing_weight"] for loc in cla["endpoints"]}
    assert weights == {f"{CLUSTER}/backend/0": 3, f"{CLUSTER}/backend/1": 1}

    gw = json.loads(gwlab("get", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "-o", "json").stdout)
    address = gw["status"]["addresses"][0]["value"]
    route = json.loads(gwlab("get", "--lab", lab_name, "tlsroute", "tls-passthrough", "-o", "json").stdout)
    conds = {c["type"]: c["status"] for c in route["status"]["parents"][0]["conditions"]}
    assert conds == {"Accepted": "True", "ResolvedRefs": "True"}
    seen = answered_by(lab_name, address, 8)
    assert {p.split("-")[0] for p in seen} == {"passthrough", "echo"}  # both backends took connections

    # Weight 0: the backend is never chosen (Envoy Gateway leaves it out of the cluster).
    gwlab("apply", "--lab", lab_name, "-f", str(route_with(tmp_path, {"passthrough-echoserver": 0, "echo-b": 1})))
    assert {p.split("-")[0] for p in answered_by(lab_name, address, 4)} == {"echo"}
