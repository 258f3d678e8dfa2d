"""ClabEngine behind the Engine protocol, with stand-ins for what cannot run here: RecordingDocker (the
Docker engine), RecordingRunner (containerlab, kind, kubectl) and RecordingBridges (the host's links).
Their replies are real tools' output (tests/fixtures/clab). The files the engine writes are real, in
the test's own lab directory; the shared code (orchestrator.lab, orchestrator.checks) is the real one."""

from __future__ import annotations

import subprocess
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
import yaml

from orchestrator import checks, cluster, manifests
from orchestrator.bird.birdc import BirdError
from orchestrator.bird.config import PRE_EXISTING_ACCEPT, bastion_config
from orchestrator.engines import get_engine
from orchestrator.engines.clab import cleanup
from orchestrator.engines.clab.derived import derived_text
from orchestrator.engines.clab.docker import ContainerInfo, ExecResult
from orchestrator.engines.clab.engine import ClabEngine
from orchestrator.engines.clab.names import BASTION_BASE_IMAGE, BASTION_CONTEXT, KIND_NODE_IMAGE, names_for
from orchestrator.engines.clab.operator import load_operator
from orchestrator.engines.clab.plan import Command, Poll, apply_steps, up_steps
from orchestrator.engines.clab.prereqs import PrerequisitesMissing
from orchestrator.engines.clab.runner import CommandResult
from orchestrator.errors import LabError
from orchestrator.lab import Lab
from orchestrator.state import LabState, run_dir
from orchestrator.topology import Topology
from tests.unit.clab_standins import (FIXTURES, RecordingBridges, RecordingDocker, RecordingRunner, all_tools,
                                      birdc_fixture, no_tools)
from tests.unit.test_clab_topology import workshop

LB = IPv4Network("10.10.10.0/26")


def make(lab_name: str, **kw: Any) -> tuple[ClabEngine, RecordingDocker, RecordingRunner, RecordingBridges]:
    topo = workshop(lab_name)
    docker = kw.pop("docker", RecordingDocker(images={KIND_NODE_IMAGE, BASTION_BASE_IMAGE}))
    runner, bridges = RecordingRunner(), kw.pop("bridges", RecordingBridges())
    state = LabState(lab_name, "clab", str(topo.path))
    engine = ClabEngine(topo, state, docker, runner, bridges, which=kw.pop("which", all_tools), sleep=lambda _: None)
    return engine, docker, runner, bridges


def bastion_conf(topo: Topology) -> str:
    return bastion_config(topo, str(run_dir(topo.name) / "bastion" / "bird.log")).render()


def test_registered_behind_the_protocol(lab_name: str) -> None:
    topo = workshop(lab_name)
    assert isinstance(get_engine("clab", topo, LabState(lab_name, "clab", str(topo.path))), ClabEngine)
    with pytest.raises(LabError, match="use netns or clab"):
        get_engine("kvm", topo, LabState(lab_name, "kvm", str(topo.path)))


def test_up_executes_the_plan_it_prints(lab_name: str) -> None:
    engine, docker, runner, bridges = make(lab_name)
    engine.preflight()
    topo, names = engine.topo, engine.names
    plan = cluster.plan(topo, [], cluster.base_documents())
    seen: list[str] = []
    engine.up(bastion_config(topo, str(names.run / "bastion" / "bird.log"), "1", PRE_EXISTING_ACCEPT), plan,
              seen.append)
    steps = up_steps(names, derived_text(topo, names), bastion_conf(topo), load_operator().yaml())
    steps += apply_steps(names, [c.doc for c in plan.changes], [])
    # One source of truth: the commands run are the plan's commands, in the plan's order.
    planned = [(s.action.argv, s.action.stdin) for s in steps if isinstance(s.action, Command)]
    assert runner.calls == planned
    assert runner.argvs()[0] == ("containerlab", "deploy", "-t", str(names.topology))
    builds = [c for c in docker.calls if c[0] == "build_image"]
    assert builds == [("build_image", str(BASTION_CONTEXT), "Dockerfile", "gwlab/bastion:bird1.6")]
    assert ("exec", names.bastion_container, "bird", "-c", str(names.bastion_conf), "-s", "/run/bird/bird.ctl") \
        in docker.calls
    assert bridges.calls == [("create", "gwlab-br")]
    assert engine.state.facts["clab"]["made"] == ["bridge", "deploy"]
    assert LabState.load(lab_name) is not None and LabState.load(lab_name).facts["clab"]["made"] == [  # type: ignore
        "bridge", "deploy"]
    assert names.topology.read_text() == derived_text(topo, names)
    assert "if (net ~ 10.50.0.0/24) then accept;" in names.bastion_conf.read_text()
    applied = list(yaml.safe_load_all(runner.calls[-1][1] or ""))
    assert [d["kind"] for d in applied] == ["IPPool", "IPPool", "BGPConfiguration", "BGPPeer"]
    assert len(seen) == len(steps)


def test_apply_changes_deletes_and_waits(lab_name: str) -> None:
    engine, _, runner, _ = make(lab_name)
    base = cluster.base_documents()
    current = cluster.plan(engine.topo, [], base).docs
    demo_docs = manifests.read_documents([engine.topo.path.parent / "lab" / "manifests" / "gateway"])
    peer = ("BGPPeer", "default", "my-global-peer")
    plan = cluster.plan(engine.topo, current, [base[0], *demo_docs], [peer])
    route = {"metadata": {"generation": 1}, "status": {"parents": [
        {"conditions": [{"type": "Accepted", "status": "False", "observedGeneration": 1}]}]}}
    runner.on(lambda a: "tlsroutes.gateway.networking.k8s.io" in a,
              CommandResult((), 0, __import__("json").dumps(route), ""))
    report = engine.apply(plan)
    argvs = [a[3:] for a in runner.argvs()]  # without kubectl --kubeconfig FILE
    stdins = [s for _, s in runner.calls]
    assert argvs[0] == ("apply", "-f", "-") and "GatewayAPI" in (stdins[0] or "")
    assert "IPPool" not in (stdins[0] or "")  # unchanged: not applied again
    assert argvs[1][:2] == ("wait", "--for=condition=Established")
    assert argvs[2] == ("apply", "-f", "-") and "TLSRoute" in (stdins[2] or "") and "uid" not in (stdins[2] or "")
    assert ("delete", "bgppeers.projectcalico.org", "my-global-peer", "--ignore-not-found") in argvs
    assert any(a[:2] == ("wait", "--for=condition=Programmed") for a in argvs)
    assert argvs[-1][:3] == ("get", "tlsroutes.gateway.networking.k8s.io", "tls-passthrough")
    assert report.not_ready == []


def test_apply_reports_pods_not_ready(lab_name: str) -> None:
    engine, _, runner, _ = make(lab_name)
    runner.on(lambda a: "rollout" in a, CommandResult((), 1, "", "timed out"))
    runner.on_get("pods", [{"metadata": {"name": "passthrough-echoserver-1"},
                            "status": {"conditions": [{"type": "Ready", "status": "False"}]}}])
    docs = manifests.read_documents([engine.topo.path.parent / "lab" / "manifests" / "app"])
    current = cluster.plan(engine.topo, [], cluster.base_documents()).docs
    report = engine.apply(cluster.plan(engine.topo, current, docs))
    assert report.not_ready == ["passthrough-echoserver-1"]


def bastion_replies(docker: RecordingDocker) -> None:
    """The bastion answers as the real birdc and ip print (fixtures)."""
    for name in ("show-protocols", "show-route-all", "show-route-filtered-all"):
        command, printed = birdc_fixture(name)
        docker.on_exec(lambda c, a, cmd=command: a[:2] == ["birdc", "-v"] and a[-1] == cmd,
                       ExecResult(0, printed.encode(), b""))
    ecmp = (FIXTURES / "ip-route-ecmp.json").read_bytes()
    docker.on_exec(lambda c, a: a[:3] == ["ip", "-j", "route"] and str(LB) in a, ExecResult(0, ecmp, b""))


def test_the_shared_checks_run_on_this_engine(lab_name: str) -> None:
    engine, docker, runner, _ = make(lab_name)
    bastion_replies(docker)
    blocks = {"calico-control-plane": "10.50.0.0/28", "calico-worker": "10.50.0.16/28",
              "calico-worker2": "10.50.0.32/28"}
    runner.on_get("blockaffinities.crd.projectcalico.org", [
        {"spec": {"node": n, "cidr": c, "state": "confirmed", "deleted": "false"}} for n, c in blocks.items()])
    plan = cluster.plan(engine.topo, [], cluster.base_documents())
    engine.state.facts["filtered_before_push"] = {str(LB): ["10.0.1.11", "10.0.1.12", "10.0.1.13"]}
    lab = Lab(engine.topo, engine.state, engine, plan)
    assert lab.blocks() == {n: IPv4Network(c) for n, c in blocks.items()}  # real Calico's, not the model's
    results = checks.run(engine, lab.bgp_checks())
    assert [r for r in results if not r.ok] == []
    assert len(results) == 3 + 2 + 3 + 1
    assert ("exec", engine.names.bastion_container, "birdc", "-v", "-s", "/run/bird/bird.ctl", "show protocols") \
        in docker.calls


def test_birdc_output_and_errors(lab_name: str) -> None:
    engine, docker, _, _ = make(lab_name)
    docker.on_exec(lambda c, a: a == ["birdc", "-s", "/run/bird/bird.ctl", "show status"],
                   ExecResult(0, b"BIRD 1.6.8 ready.\nBIRD 1.6.8\n", b""))
    docker.on_exec(lambda c, a: a[0] == "birdc", ExecResult(1, b"", b"Unable to connect to server control socket"))
    out = engine.birdc_output("bastion", "show status")
    assert (out.text, out.status) == ("BIRD 1.6.8 ready.\nBIRD 1.6.8\n", 0)
    with pytest.raises(BirdError, match="Unable to connect"):
        engine.birdc("bastion", "show protocols")


def test_birdc_on_a_node_is_calico_nodes(lab_name: str) -> None:
    engine, _, runner, _ = make(lab_name)
    runner.on_get("pods", [{"metadata": {"name": "calico-node-abcde"}}])
    command, printed = birdc_fixture("show-protocols")
    runner.on(lambda a: "exec" in a, CommandResult((), 0, printed, ""))
    reply = engine.birdc("worker1", command)
    assert "control1 BGP" in reply.text
    exec_argv = runner.argvs()[-1]
    assert exec_argv[3:] == ("exec", "-n", "calico-system", "calico-node-abcde", "-c", "calico-node", "--", "birdcl",
                             "-v", "-s", "/var/run/calico/bird.ctl", "show protocols")
    assert "spec.nodeName=calico-worker" in runner.argvs()[-2]


def test_exec_and_kernel_routes(lab_name: str) -> None:
    engine, docker, _, _ = make(lab_name)
    bastion_replies(docker)
    docker.on_exec(lambda c, a: "curl" in a, ExecResult(0, b"{}", b"< HTTP/2 200"))
    docker.on_exec(lambda c, a: "sleep" in a, ExecResult(124, b"", b""))
    out = engine.exec("bastion", ["curl", "https://x"], capture=True, timeout=15)
    assert (out.returncode, out.stdout, out.stderr) == (0, b"{}", b"< HTTP/2 200")
    assert docker.calls[-1] == ("exec", engine.names.bastion_container, "timeout", "15", "curl", "https://x")
    with pytest.raises(subprocess.TimeoutExpired):
        engine.exec("worker1", ["sleep", "60"], capture=True, timeout=1)
    assert docker.calls[-1][1] == "calico-worker"
    routes = engine.kernel_routes("bastion", LB)
    assert routes[0].gateways == tuple(IPv4Address(f"10.0.1.1{i}") for i in (1, 2, 3))


def test_get_reads_the_api(lab_name: str) -> None:
    engine, _, runner, _ = make(lab_name)
    runner.on_get("gateways", [{"metadata": {"name": "g"}, "status": {"addresses": [{"value": "10.10.10.1"}]}}])
    runner.on_get("pods", [])
    runner.on_get("ippools", [])
    assert engine.get("Gateway", "default")[0]["status"]["addresses"][0]["value"] == "10.10.10.1"
    assert runner.argvs()[-1][3:] == ("get", "gateways.gateway.networking.k8s.io", "-n", "default", "-o", "json")
    engine.get("Pod", None)
    assert runner.argvs()[-1][3:] == ("get", "pods", "-A", "-o", "json")
    engine.get("IPPool", "default")
    assert runner.argvs()[-1][3:] == ("get", "ippools.projectcalico.org", "-o", "json")


def test_bird_stop_and_start_are_the_bastions(lab_name: str) -> None:
    engine, docker, _, _ = make(lab_name)
    assert engine.stop_bird("bastion") is True
    assert docker.calls[-1][-1] == "down"
    with pytest.raises(LabError, match="already running"):
        engine.restart_bird("bastion")
    with pytest.raises(LabError, match="calico-node"):
        engine.stop_bird("worker1")
    with pytest.raises(LabError, match="inside its container"):
        engine.bird_socket("bastion")


def ours(lab: str) -> list[ContainerInfo]:
    return [ContainerInfo(f"clab-{lab}-bastion", "running",
                          {"containerlab": lab, "gwlab.role": "bastion", "clab-node-name": "bastion"}),
            *(ContainerInfo(n, "running", {"io.x-k8s.kind.cluster": "calico"})
              for n in ("calico-control-plane", "calico-worker", "calico-worker2"))]


def theirs() -> list[ContainerInfo]:
    return [ContainerInfo("clab-other-r1", "running", {"containerlab": "other"}),
            ContainerInfo("mine-control-plane", "running", {"io.x-k8s.kind.cluster": "mine"})]


def test_down_removes_what_up_made_and_is_idempotent(lab_name: str) -> None:
    engine, docker, runner, bridges = make(lab_name)
    plan = cluster.plan(engine.topo, [], cluster.base_documents())
    engine.up(bastion_config(engine.topo, "x"), plan, lambda _: None)
    docker.listed = ours(lab_name) + theirs()
    removed = engine.down()
    assert ("containerlab", "destroy", "--cleanup", "-t", str(engine.names.topology)) in runner.argvs()
    assert ("kind", "delete", "cluster", "--name", "calico") in runner.argvs()
    assert bridges.calls[-1] == ("remove", "gwlab-br") and not bridges.present
    assert not run_dir(lab_name).exists()
    assert f"container clab-{lab_name}-bastion" in removed and "bridge gwlab-br" in removed
    assert docker.listed == theirs()  # nobody else's containers
    engine.state = LabState.load(lab_name) or LabState(lab_name, "clab", str(engine.topo.path))
    assert engine.down() == []


def test_down_without_docker_keeps_the_state(lab_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestrator.engines.clab.engine.connect",
                        lambda: (None, "no Docker engine: /var/run/docker.sock does not exist"))
    topo = workshop(lab_name)
    state = LabState(lab_name, "clab", str(topo.path), facts={"clab": {"made": ["bridge", "deploy"]}})
    state.save()
    engine = ClabEngine(topo, state, None, RecordingRunner(), RecordingBridges({"gwlab-br"}), which=all_tools)
    with pytest.raises(LabError, match="state is kept"):
        engine.down()
    assert LabState.load(lab_name) is not None


def test_clean_finds_ours_by_labels(lab_name: str) -> None:
    docker = RecordingDocker(listed=ours(lab_name) + theirs())
    assert cleanup.labs_with_containers(docker) == {lab_name}
    runner = RecordingRunner()
    removed = cleanup.remove_lab(names_for(workshop(lab_name)), None, docker, "", runner, RecordingBridges(),
                                 all_tools)
    assert removed[0] == f"container clab-{lab_name}-bastion"
    assert runner.argvs() == [("kind", "delete", "cluster", "--name", "calico")]
    assert docker.listed == theirs()


def test_clean_leaves_a_kind_cluster_that_is_not_ours(lab_name: str) -> None:
    docker = RecordingDocker(listed=ours(lab_name)[1:] + theirs())  # no bastion, no state: not ours
    runner = RecordingRunner()
    assert cleanup.remove_lab(names_for(workshop(lab_name)), None, docker, "", runner, RecordingBridges(),
                              all_tools) == []
    assert runner.calls == []


def test_preflight_lists_every_problem_and_makes_nothing(lab_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestrator.engines.clab.engine.connect",
                        lambda: (None, "no Docker engine: /var/run/docker.sock does not exist"))
    topo = workshop(lab_name)
    bridges = RecordingBridges()
    engine = ClabEngine(topo, LabState(lab_name, "clab", str(topo.path)), None, RecordingRunner(), bridges,
                        which=no_tools)
    with pytest.raises(PrerequisitesMissing) as err:
        engine.preflight()
    problems = {i.what for i in err.value.report.problems}
    assert problems == {"Docker engine", "containerlab", "kind", "kubectl"}
    text = str(err.value)
    assert "nothing was made" in text and "docker pull kindest/node" in text and "systemctl start docker" in text
    assert bridges.calls == [] and not run_dir(lab_name).exists()


def test_preflight_sees_what_is_in_the_way(lab_name: str) -> None:
    docker = RecordingDocker(images=set(), listed=theirs() + ours("calico-lab")[1:])
    engine, _, _, _ = make(lab_name, docker=docker, bridges=RecordingBridges({"gwlab-br"}))
    with pytest.raises(PrerequisitesMissing) as err:
        engine.preflight()
    found = {(i.what, i.status) for i in err.value.report.problems}
    assert found == {("kind node image", "MISSING"), ("bastion image", "MISSING"), ("kind cluster", "IN THE WAY"),
                     ("host bridge", "IN THE WAY")}


def test_poll_gives_up_with_not_ready(lab_name: str) -> None:
    engine, _, runner, _ = make(lab_name)
    runner.on(lambda a: "get" in a, CommandResult((), 0, '{"metadata": {"generation": 2}, "status": {}}', ""))
    from orchestrator.engines.clab.plan import Step

    assert engine.run_step(Step("w", Poll(("kubectl", "get", "x"), "route-status", timeout=0))) is False
