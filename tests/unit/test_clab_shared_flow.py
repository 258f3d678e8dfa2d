"""orchestrator.lab.up, the one code path of every engine, on the containerlab engine: the demo's five
steps, the wait for BGP, the bastion's filter push (validated with the host's real `bird -p`) and every
check, end to end. Stand-ins take the place of what cannot run here: RecordingDocker (the Docker
engine: its replies to birdc and ip are the real tools' output), RecordingRunner (containerlab, kind,
kubectl, answering as the API server would) and RecordingBridges (the host's links)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from orchestrator import runbook as lab_module
from orchestrator.engines.base import Engine
from orchestrator.engines.clab.docker import ExecResult
from orchestrator.engines.clab.engine import ClabEngine
from orchestrator.engines.clab.names import BASTION_BASE_IMAGE, KIND_NODE_IMAGE
from orchestrator.engines.clab.runner import CommandResult
from orchestrator.state import LabState
from orchestrator.topology import Topology
from tests.unit.clab_standins import (FIXTURES, RecordingBridges, RecordingDocker, RecordingRunner, all_tools,
                                      birdc_fixture)

POD = "passthrough-echoserver-5d9c7b8f4-x2k8q"
GATEWAY_IP = "10.10.10.1"


class ApiServer:
    """Answers kubectl as the API server would once the controllers have caught up."""

    def __init__(self) -> None:
        self.passthrough_listener = False

    def __call__(self, argv: tuple[str, ...]) -> CommandResult:
        if argv[3] == "apply":
            return CommandResult(argv, 0, "configured", "")
        return CommandResult(argv, 0, json.dumps(self.get(argv)), "")

    def route(self) -> dict[str, Any]:
        accepted = ("True", "Accepted") if self.passthrough_listener else ("False", "NotAllowedByListeners")
        return {"metadata": {"name": "tls-passthrough", "generation": 1}, "status": {"parents": [{"conditions": [
            {"type": "Accepted", "status": accepted[0], "reason": accepted[1], "observedGeneration": 1}]}]}}

    def get(self, argv: tuple[str, ...]) -> dict[str, Any]:
        if "tlsroutes.gateway.networking.k8s.io" in argv:
            return self.route() if "tls-passthrough" in argv else {"items": [self.route()]}
        if "gateways.gateway.networking.k8s.io" in argv:
            return {"items": [{"metadata": {"name": "tls-passthrough-gateway"},
                               "status": {"addresses": [{"type": "IPAddress", "value": GATEWAY_IP}]}}]}
        if "pods" in argv and "default" in argv:
            return {"items": [{"metadata": {"name": POD}, "status": {"conditions": [
                {"type": "Ready", "status": "True"}]}}]}
        if "blockaffinities.crd.projectcalico.org" in argv:
            return {"items": [{"spec": {"node": n, "cidr": c, "state": "confirmed", "deleted": "false"}}
                              for n, c in (("calico-control-plane", "10.50.0.0/28"),
                                           ("calico-worker", "10.50.0.16/28"), ("calico-worker2", "10.50.0.32/28"))]}
        return {"items": []}


def bastion(docker: RecordingDocker) -> None:
    """The bastion container as the real birdc, ip and curl answer."""
    for name in ("show-protocols", "show-route-all", "show-route-filtered-all", "show-protocols-all",
                 "configure-timeout", "configure-confirm"):
        command, printed = birdc_fixture(name)
        docker.on_exec(lambda c, a, cmd=command: a[:2] == ["birdc", "-v"] and a[-1] == cmd,
                       ExecResult(0, printed.encode(), b""))
    docker.on_exec(lambda c, a: a[:2] == ["birdc", "-v"] and a[-1].startswith("configure check"),
                   ExecResult(0, birdc_fixture("configure-check")[1].encode(), b""))
    ecmp = (FIXTURES / "ip-route-ecmp.json").read_bytes()
    docker.on_exec(lambda c, a: a[:3] == ["ip", "-j", "route"], ExecResult(0, ecmp, b""))
    body = json.dumps({"path": "/get", "host": "passthrough.example.com", "pod": POD, "namespace": "default",
                       "tls": {"version": "TLSv1.3", "serverName": "passthrough.example.com"}}).encode()
    ok = b"* SSL certificate verify ok.\n< HTTP/2 200\n"
    docker.on_exec(lambda c, a: "curl" in a and "unknown.example.com" in " ".join(a), ExecResult(35, b"", b"alert"))
    docker.on_exec(lambda c, a: "curl" in a and "-k" in a, ExecResult(35, b"", b"alert"))
    docker.on_exec(lambda c, a: "curl" in a and a[-1].startswith("http://"), ExecResult(52, b"", b"empty reply"))
    docker.on_exec(lambda c, a: "curl" in a, ExecResult(0, body, ok))


@pytest.mark.skipif(not shutil.which("bird"), reason="the filter push checks with the host's bird -p: make deps")
def test_up_on_clab_runs_the_shared_steps_and_checks(lab_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = RecordingDocker(images={KIND_NODE_IMAGE, BASTION_BASE_IMAGE})
    bastion(docker)
    api = ApiServer()
    runner = RecordingRunner()

    def kubectl(argv: tuple[str, ...]) -> CommandResult:
        if "apply" in argv and any("mode: Passthrough" in (s or "") for a, s in runner.calls[-1:] if a == argv):
            api.passthrough_listener = True
        return api(argv)
    runner.on(lambda a: a[0] == "kubectl", kubectl)
    real_get_engine = lab_module.get_engine

    def get_engine(name: str, topo: Topology, state: LabState) -> Engine:
        if name != "clab":
            return real_get_engine(name, topo, state)
        return ClabEngine(topo, state, docker, runner, RecordingBridges(), which=all_tools, sleep=lambda _: None)
    monkeypatch.setattr(lab_module, "get_engine", get_engine)
    # After `configure`, the push asks each peer to send its routes again (`reload in`) and waits until
    # BIRD's received counters grow: recorded replies cannot grow, so that one wait is taken as done.
    from orchestrator import bastion as bastion_module, checks

    monkeypatch.setattr(bastion_module, "settle_bastion", lambda *_: checks.Result(
        "routes re-imported through the new config", "(stand-in)", "", "not observable with recorded replies", True))
    lines: list[str] = []
    report = lab_module.up(None, lab_name, "clab", progress=lines.append)
    failed = [r for r in report.results if not r.ok]
    assert failed == [] and len(report.results) == 15
    assert any("configure confirm" in s for s in report.push_steps), report.push_steps
    assert any("Accepted=False (NotAllowedByListeners)" in ln for ln in lines)
    assert any(f"gateway address {GATEWAY_IP}" in ln for ln in lines)
    state = LabState.load(lab_name)
    assert state is not None and state.phase == "up" and state.engine == "clab"
    # The filter push went through birdc in the bastion container, as the workshop's sed + restart did.
    pushed = [c[-1] for c in docker.execs() if c[1:3] == ("birdc", "-v")]
    assert [p for p in pushed if p.startswith("configure")][:1][0].startswith("configure check")
    assert "configure timeout 30" in pushed and "configure confirm" in pushed
    assert "if (net ~ 10.10.10.0/26) then accept;" in (state and lab_module.open_lab(None, lab_name).bastion_conf
                                                      .read_text())
