"""A pod leaving is first removed from the endpoints (Envoy's EDS, kube-proxy's rules), then
stopped: scaling the echo server 3 -> 1 while a bounded load of the workshop's curl runs from the
bastion fails no request. Judged by counting the requests that failed, never by time."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.engines.netns import namespaces as netns
from orchestrator.state import ns_name, run_dir

from .helpers import gwlab

pytestmark = pytest.mark.lab
HOST = "passthrough.example.com"
REQUESTS = 400


def load(lab: str, address: str, out: Path) -> subprocess.Popen[bytes]:
    """REQUESTS sequential requests (a new TLS connection each) from the bastion, one status a line."""
    ca = run_dir(lab) / "certs" / "example.com.crt"
    script = (f"for i in $(seq {REQUESTS}); do curl -s -o /dev/null -w '%{{http_code}}\\n' --max-time 5 "
              f"--resolve {HOST}:6443:{address} --cacert {ca} https://{HOST}:6443/get; done")
    bastion = ns_name(lab, "bastion")
    with open(out, "wb") as f:
        return subprocess.Popen(["sh", "-c", script], stdout=f, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: netns.enter(bastion))


def lines(path: Path) -> list[str]:
    return path.read_text().split()


def test_scale_down_under_load_fails_no_request(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    gwlab("scale", "--lab", lab_name, "deployment", "passthrough-echoserver", "--replicas", "3")
    address = json.loads(gwlab("get", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "-o", "json")
                         .stdout)["status"]["addresses"][0]["value"]
    out = tmp_path / "codes"
    proc = load(lab_name, address, out)
    try:
        while len(lines(out)) < 20:  # the load runs before the scale starts
            assert proc.poll() is None, lines(out)
            time.sleep(0.05)
        gwlab("scale", "--lab", lab_name, "deployment", "passthrough-echoserver", "--replicas", "1")
        during = len(lines(out))
        proc.wait(300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    codes = lines(out)
    assert during < REQUESTS, "the load ended before the scale-down: nothing was measured"
    assert len(codes) == REQUESTS
    assert [c for c in codes if c != "200"] == []
