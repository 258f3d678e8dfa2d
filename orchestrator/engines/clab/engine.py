"""ClabEngine: the Engine protocol on containerlab, kind and real Calico (open source 3.30).

`up` executes the plan (orchestrator.engines.clab.plan) step by step, recording in the lab's state what
each step makes before it runs; `apply` is kubectl apply/delete of what changed, then waits until the
real controllers have caught up; the bastion is reached with `docker exec` (birdc, ip, curl), the
cluster with kubectl. Every step and check around it is the shared one (orchestrator.runbook).
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Network
from typing import Any

from orchestrator import cluster
from orchestrator.bird.birdc import BirdcOutput, BirdError, Reply
from orchestrator.bird.config import BastionConfig
from orchestrator.cluster import ClusterPlan
from orchestrator.engines.base import Engine, KernelRoute, Progress, SyncReport
from orchestrator.engines.clab import cleanup, parse, prereqs
from orchestrator.engines.clab.bridge import Bridges, NetlinkBridges
from orchestrator.engines.clab.derived import derived_text
from orchestrator.engines.clab.docker import DockerApi, connect
from orchestrator.engines.clab.names import CALICO_NODE_SOCKET, names_for
from orchestrator.engines.clab.operator import agreement_problems, load_operator
from orchestrator.engines.clab.plan import (READY, BuildImage, Command, CreateBridge, DockerExec, Poll, Step,
                                            WriteFile, apply_steps, up_steps)
from orchestrator.engines.clab.runner import CommandResult, Runner, SubprocessRunner
from orchestrator.errors import LabError, ValidationFailed
from orchestrator.fsutil import atomic_write
from orchestrator.k8s import kinds
from orchestrator.state import LabState
from orchestrator.engines.netns.teardown import teardown
from orchestrator.topology import Topology

POLL_INTERVAL = 2.0


class ClabEngine(Engine):
    name = "clab"

    def __init__(self, topo: Topology, state: LabState, docker: DockerApi | None = None,
                 runner: Runner | None = None, bridges: Bridges | None = None,
                 which: Callable[[str], str | None] = shutil.which,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.topo = topo
        self.state = state
        self.names = names_for(topo)
        self._docker = docker
        self._docker_why = ""
        self._docker_tried = docker is not None
        self.runner: Runner = runner or SubprocessRunner()
        self.bridges: Bridges = bridges or NetlinkBridges()
        self.which = which
        self.sleep = sleep
        self.progress: Progress = lambda _: None

    # -- the outside world ---------------------------------------------------------------------
    def docker_or_none(self) -> DockerApi | None:
        if not self._docker_tried:
            self._docker, self._docker_why = connect()
            self._docker_tried = True
        return self._docker

    @property
    def docker(self) -> DockerApi:
        found = self.docker_or_none()
        if found is None:
            raise LabError(f"lab {self.topo.name}: {self._docker_why}")
        return found

    def container(self, node: str) -> str:
        return self.names.container(self.topo.node(node).name)

    # -- before anything is made ---------------------------------------------------------------
    def preflight(self) -> None:
        """The operator manifests agree with the lab; every prerequisite holds (local facts only)."""
        config = load_operator()
        pools = cluster.calico_objects(kinds.parse_objects(cluster.base_documents())).pools
        problems = agreement_problems(config, self.topo, pools)
        if problems:
            raise ValidationFailed(problems)
        report = prereqs.check(self.names, self.state.bastion_bird, self.docker_or_none(), self._docker_why,
                               self.bridges, LabState.load(self.topo.name), self.which)
        if report.problems:
            raise prereqs.PrerequisitesMissing(report)

    # -- bringing it up ------------------------------------------------------------------------
    def up(self, bastion: BastionConfig, plan: ClusterPlan, progress: Progress) -> None:
        self.progress = progress
        if self.state.facts.clab is None:
            self.state.facts.clab = {}
        facts = self.state.facts.clab
        facts.update(cluster=self.names.cluster, bridge=self.names.bridge, topology=str(self.names.topology))
        facts.setdefault("made", [])
        self.state.save()
        steps = up_steps(self.names, derived_text(self.topo, self.names), bastion.render(), load_operator().yaml())
        for step in steps:
            self.run_step(step)
        # The workshop's Calico manifests (prerequisites 1 and 2), applied as kubectl applies them.
        self.apply(plan)

    def run_step(self, step: Step) -> bool:
        """Run one step; False when a step that may fail did not succeed (a required one raises)."""
        t = time.perf_counter()
        if step.makes:
            if self.state.facts.clab is None:
                self.state.facts.clab = {}
            made = self.state.facts.clab.setdefault("made", [])
            if step.makes not in made:
                made.append(step.makes)
                self.state.save()
        a = step.action
        ok = True
        if isinstance(a, BuildImage):
            self.docker.build_image(a.context, a.dockerfile, a.tag)
        elif isinstance(a, WriteFile):
            atomic_write(a.path, a.text)
        elif isinstance(a, CreateBridge):
            if not self.bridges.exists(a.name):
                self.bridges.create(a.name)
        elif isinstance(a, Command):
            ok = self._command(step.title, a).ok
        elif isinstance(a, DockerExec):
            out = self.docker.exec(a.container, list(a.argv))
            if out.exit_code:
                raise LabError(f"{step.title}: `{shlex.join(a.argv)}` in {a.container} exited {out.exit_code}: "
                               + (out.stderr or out.stdout).decode(errors="replace").strip())
        elif isinstance(a, Poll):
            ok = self._poll(a)
        self.progress(f"{step.title} ({time.perf_counter() - t:.1f} s)" + ("" if ok else ": NOT READY"))
        return ok

    def _command(self, title: str, a: Command) -> CommandResult:
        deadline = time.monotonic() + a.until_ok
        while True:
            out = self.runner.run(a.argv, a.stdin, a.timeout)
            if out.ok or time.monotonic() >= deadline:
                break
            self.sleep(POLL_INTERVAL)
        if not out.ok and a.required:
            raise LabError(f"{title} failed: $ {shlex.join(a.argv)}\n{out.tail()}")
        return out

    def _poll(self, a: Poll) -> bool:
        deadline = time.monotonic() + a.timeout
        while True:
            out = self.runner.run(a.argv, None, 60)
            try:
                if out.ok and READY[a.check][1](json.loads(out.stdout)):
                    return True
            except ValueError:
                pass
            if time.monotonic() >= deadline:
                return False
            self.sleep(POLL_INTERVAL)

    # -- the cluster -------------------------------------------------------------------------------
    def apply(self, plan: ClusterPlan) -> SyncReport:
        applied = [c.doc for c in plan.changes if c.verb in ("created", "configured")]
        deleted = [c.doc for c in plan.changes if c.verb == "deleted"]
        report = SyncReport()
        namespaces: set[str] = set()
        for step in apply_steps(self.names, applied, deleted):
            if not self.run_step(step):
                namespaces |= {d.namespace for d in applied}
        for ns in sorted(namespaces):
            report.not_ready += [p["metadata"]["name"] for p in self.get("Pod", ns) if not _ready(p)]
        return report

    def get(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        k = kinds.kind_of(kind)
        res = f"{k.aliases[1]}.{k.group}" if k.group else k.aliases[1]
        where: tuple[str, ...] = () if not k.namespaced else ("-n", namespace) if namespace else ("-A",)
        return self._kubectl_items(res, *where)

    def _kubectl_items(self, *args: str) -> list[dict[str, Any]]:
        out = self.runner.run(self.names.kubectl("get", *args, "-o", "json"), None, 60)
        if not out.ok:
            raise LabError(f"kubectl get {' '.join(args)}: {out.tail()}")
        try:
            return list(json.loads(out.stdout).get("items") or [])
        except ValueError:
            raise LabError(f"kubectl get {' '.join(args)}: not JSON: {out.stdout[:200]!r}") from None

    def ipam_blocks(self) -> dict[str, IPv4Network]:
        """Each node's first IPAM block, as Calico's IPAM has affined them (real Calico chooses)."""
        found: dict[str, list[IPv4Network]] = {}
        for item in self._kubectl_items("blockaffinities.crd.projectcalico.org"):
            spec = item.get("spec") or {}
            if spec.get("state") == "confirmed" and str(spec.get("deleted", "false")) != "true":
                found.setdefault(str(spec.get("node")), []).append(IPv4Network(str(spec.get("cidr"))))
        return {n.name: sorted(found[n.name])[0] for n in self.topo.k8s_nodes if found.get(n.name)}

    # -- BIRD ----------------------------------------------------------------------------------------
    def _birdc_argv(self, node: str, verbose: bool, command: str) -> tuple[str, list[str]]:
        """(where, argv): the bastion's birdc by docker exec, a node's (calico-node's) birdcl by kubectl exec."""
        name = self.topo.node(node).name
        flags = ["-v"] if verbose else []
        if name == self.names.bastion:
            return "docker", ["birdc", *flags, "-s", self.names.bird_socket, command]
        try:
            pods = self._kubectl_items("pods", "-n", "calico-system", "-l", "k8s-app=calico-node",
                                       "--field-selector", f"spec.nodeName={name}")
        except LabError as exc:
            raise BirdError(f"calico-node on {name}: {exc}") from None
        if not pods:
            raise BirdError(f"no calico-node pod on {name}: is Calico installed and the node up?")
        return "kubectl", list(self.names.kubectl("exec", "-n", "calico-system", pods[0]["metadata"]["name"],
                                                  "-c", "calico-node", "--", "birdcl", *flags,
                                                  "-s", CALICO_NODE_SOCKET, command))

    def _run_birdc(self, node: str, verbose: bool, command: str) -> tuple[int, str, str]:
        how, argv = self._birdc_argv(node, verbose, command)
        if how == "docker":
            r = self.docker.exec(self.names.bastion_container, argv)
            code, stdout, stderr = r.exit_code, r.stdout.decode("utf-8", "surrogateescape"), r.stderr.decode(
                errors="replace")
        else:
            out = self.runner.run(tuple(argv), None, 30)
            code, stdout, stderr = out.returncode, out.stdout, out.stderr
        if code != 0 and not stdout.strip():
            raise BirdError(f"birdc on {node}: {stderr.strip() or f'exit {code}'}")
        return code, stdout, stderr

    def birdc(self, node: str, command: str) -> Reply:
        code, stdout, _ = self._run_birdc(node, True, command)
        return replace(parse.reply_from_verbose(stdout, command), greeting=parse.verbose_greeting(stdout), status=code)

    def birdc_output(self, node: str, command: str) -> BirdcOutput:
        """What plain `birdc` prints in the bastion, run as such (not part of the Engine protocol:
        `birdc(...).output()` gives the same from one verbose run)."""
        code, stdout, _ = self._run_birdc(node, False, command)
        return BirdcOutput(stdout, code)

    def _bastion_only(self, node: str, what: str) -> str:
        name = self.topo.node(node).name
        if name != self.names.bastion:
            raise LabError(f"{what} {name}: on the containerlab engine a node's BIRD is calico-node's, which Calico "
                           f"restarts by itself (fix: `docker stop {name}` stops the whole node, "
                           f"`docker start {name}` brings it back)")
        return name

    def _bird_running(self) -> bool:
        out = self.docker.exec(self.names.bastion_container, ["birdc", "-s", self.names.bird_socket, "show status"])
        return out.exit_code == 0

    def stop_bird(self, node: str) -> bool:
        self._bastion_only(node, "stopping BIRD on")
        if not self._bird_running():
            return False
        self.docker.exec(self.names.bastion_container, ["birdc", "-s", self.names.bird_socket, "down"])
        return True

    def restart_bird(self, node: str) -> None:
        name = self._bastion_only(node, "starting BIRD on")
        if self._bird_running():
            raise LabError(f"BIRD on {name} is already running")
        out = self.docker.exec(self.names.bastion_container,
                               ["bird", "-c", str(self.names.bastion_conf), "-s", self.names.bird_socket])
        if out.exit_code:
            raise LabError(f"BIRD on {name} did not start: {out.stderr.decode(errors='replace').strip()}")

    def bird_socket(self, node: str) -> str:
        raise LabError(f"on the containerlab engine {node}'s BIRD socket is inside its container "
                       f"({self.names.bird_socket}); gwlab reaches it with `docker exec ... birdc`")

    # -- inside the nodes ----------------------------------------------------------------------------
    def exec(self, node: str, argv: list[str], capture: bool = False,
             timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        limit = ["timeout", str(math.ceil(timeout))] if timeout else []
        out = self.docker.exec(self.container(node), limit + argv)
        if timeout and out.exit_code == 124:
            raise subprocess.TimeoutExpired(argv, timeout, out.stdout, out.stderr)
        if not capture:
            sys.stdout.buffer.write(out.stdout)
            sys.stderr.buffer.write(out.stderr)
            sys.stdout.flush()
            return subprocess.CompletedProcess(argv, out.exit_code)
        return subprocess.CompletedProcess(argv, out.exit_code, out.stdout, out.stderr)

    def kernel_routes(self, node: str, dst: IPv4Network) -> list[KernelRoute]:
        out = self.docker.exec(self.container(node), ["ip", "-j", "route", "show", "exact", str(dst), "table", "main"])
        if out.exit_code:
            raise LabError(f"ip route in {self.container(node)}: {out.stderr.decode(errors='replace').strip()}")
        return parse.kernel_routes(out.stdout.decode(), dst)

    # -- tearing it down -----------------------------------------------------------------------------
    def down(self) -> list[str]:
        removed = cleanup.remove_lab(self.names, self.state, self.docker_or_none(), self._docker_why, self.runner,
                                     self.bridges, self.which)
        return removed + teardown(self.topo.name, self.state)


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])
