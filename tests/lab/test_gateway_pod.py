"""The gateway's pod on a real lab: Envoy as Envoy Gateway runs it (egctl's view of its listeners,
the HTTP listener answering 404 NR through the Service's port 80), and every pod process
unprivileged: uid/gid 65532, no capabilities, no-new-privs, its directory its own, secrets 0600."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from orchestrator.engines.netns.records import PodRecords
from orchestrator.state import LabState, run_dir

from .helpers import gwlab

pytestmark = pytest.mark.lab
UID = 65532


def status_fields(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()[0] if value.split() else ""
    return fields


def test_envoy_in_the_gateway_pod_and_unprivileged_pods(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    listeners = json.loads(gwlab("egctl", "config", "envoy-proxy", "listener", "--lab", lab_name).stdout)
    [(pod, dump)] = listeners["tigera-gateway"].items()
    assert pod.startswith("envoy-default-tls-passthrough-gateway-")
    [section] = dump["configs"]
    by_name = {lst["name"]: lst["active_state"]["listener"] for lst in section["dynamic_listeners"]}
    assert set(by_name) == {"default/tls-passthrough-gateway/http", "default/tls-passthrough-gateway/tls"}
    tls = by_name["default/tls-passthrough-gateway/tls"]
    assert tls["address"]["socket_address"]["port_value"] == 6443
    [chain] = tls["filter_chains"]
    assert chain["name"] == "tlsroute/default/tls-passthrough"
    assert chain["filter_chain_match"]["server_names"] == ["passthrough.example.com"]
    assert by_name["default/tls-passthrough-gateway/http"]["address"]["socket_address"]["port_value"] == 10080

    # Port 80 of the Gateway's address: Envoy's HTTP listener, no route: 404 with flag NR.
    gw = json.loads(gwlab("get", "--lab", lab_name, "gateway", "tls-passthrough-gateway", "-o", "json").stdout)
    address = gw["status"]["addresses"][0]["value"]
    http = next(x for x in gw["status"]["listeners"] if x["name"] == "http")
    assert http["attachedRoutes"] == 0
    assert {c["type"]: c["status"] for c in http["conditions"]}["Programmed"] == "True"
    out = gwlab("exec", "--lab", lab_name, "bastion", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                "--max-time", "5", f"http://{address}/")
    assert out.stdout == "404"
    stats = json.loads(gwlab("egctl", "stats", "--lab", lab_name, "--prefix", "http.http-10080.").stdout)
    assert stats["tigera-gateway"][pod]["http.http-10080.downstream_rq_4xx"] >= 1

    # Every pod process: unprivileged, as `ps -o user,group` and /proc/PID/status say.
    state = LabState.load(lab_name)
    assert state is not None
    pids = [p.pid for p in PodRecords.open(state).processes if p.role.startswith("pod:")]
    assert len(pids) == 2
    ps = subprocess.run(["ps", "-o", "user=,group=,comm=", "-p", ",".join(map(str, pids))], capture_output=True,
                        text=True, check=True).stdout.split("\n")
    assert sorted(line.split()[2].rstrip("3") for line in ps if line) == ["envoy", "python"]
    assert all(line.split()[:2] == [str(UID), str(UID)] for line in ps if line)
    for pid in pids:
        st = status_fields(pid)
        assert st["Uid"] == st["Gid"] == str(UID)
        assert st["CapEff"] == st["CapPrm"] == st["CapBnd"] == "0000000000000000"
        assert st["NoNewPrivs"] == "1"

    # The run directory lists nothing to others; each pod's directory is its user's; secrets 0600.
    root = run_dir(lab_name)
    assert stat.S_IMODE(root.stat().st_mode) & 0o066 == 0
    for pod_dir in (root / "pods").iterdir():
        assert pod_dir.stat().st_uid == UID and stat.S_IMODE(pod_dir.stat().st_mode) == 0o700
    secrets = list((root / "pods").glob("*/volumes/*/*"))
    assert secrets and all(stat.S_IMODE(p.stat().st_mode) == 0o600 and p.stat().st_uid == UID for p in secrets)
