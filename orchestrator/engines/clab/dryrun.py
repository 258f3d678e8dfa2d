"""`gwlab up --engine clab --dry-run`: the whole of `up` as text, in order, running nothing.

The engine's part is the plan itself (orchestrator.engines.clab.plan: the same steps ClabEngine runs);
the shared part is orchestrator.runbook.up's sequence (demo steps, BGP wait, filter push, checks) shown
through this engine's commands. Validation runs as in `up`: an invalid lab prints its problems instead.
"""

from __future__ import annotations

import difflib
import shlex
from ipaddress import IPv4Network
from pathlib import Path

# demo, checks and runbook sit above the engines: the dry run renders the whole runbook as text for
# this engine, and is loaded only by `gwlab up --dry-run`.
from orchestrator import cluster, demo, manifests, pki
from orchestrator.bird.config import PRE_EXISTING_ACCEPT, bastion_config
from orchestrator.bird.push import UNDO_TIMEOUT
from orchestrator.checks import bgp_checks  # above the engines, as demo: see above
from orchestrator.engines.clab.derived import derived_text
from orchestrator.engines.clab.names import BASTION_BASE_IMAGE, ClabNames, names_for
from orchestrator.engines.clab.operator import agreement_problems, load_operator
from orchestrator.engines.clab.plan import apply_steps, render as render_steps, up_steps
from orchestrator.errors import LabError, ValidationFailed
from orchestrator.k8s import jsonpatch
from orchestrator.manifests import Document
from orchestrator.rundir import RunDir
from orchestrator.state import Facts
from orchestrator.topology import Topology


def render(path: Path | str | None, name: str | None, bastion_bird: str = "1",
           extra: list[Path] | None = None, demo_steps: bool = True) -> str:
    from orchestrator.topology import load_named as load_topology
    from orchestrator.runbook import ESTABLISH_WAIT  # above the engines: see the imports' comment

    if bastion_bird != "1":
        raise LabError(f"--bastion-bird {bastion_bird}: the containerlab engine's bastion runs BIRD 1.6, as the "
                       "workshop's does (BIRD 2 is for the netns engine)")
    topo = load_topology(path, name)
    plan = cluster.plan(topo, [], cluster.base_documents(extra))
    config = load_operator()
    problems = agreement_problems(config, topo, cluster.calico_objects(plan.parsed).pools)
    if problems:
        raise ValidationFailed(problems)
    names = names_for(topo)
    log = str(RunDir.of(topo).node(topo.bastion.name).bird_log)
    before = bastion_config(topo, log, bastion_bird, PRE_EXISTING_ACCEPT)
    bgp = cluster.calico_objects(plan.parsed).bgp
    lb = list(bgp.service_lb_ips) if bgp else []
    accepted = tuple(dict.fromkeys(PRE_EXISTING_ACCEPT + tuple(lb)))

    out = [f"gwlab up --engine clab --dry-run: lab {topo.name} from {topo.path}. Nothing below is run.",
           f"The lab's run directory is {names.run}; `gwlab down` removes everything listed as made.", ""]
    out += _prerequisites(names, bastion_bird)
    steps = up_steps(names, derived_text(topo, names), before.render(), config.yaml())
    base = apply_steps(names, [c.doc for c in plan.changes], [])
    out += ["", "The containerlab engine's up (orchestrator/engines/clab/engine.py, ClabEngine.up):"]
    out += render_steps(steps)
    out += ["", "Then the workshop's Calico manifests (its prerequisites 1 and 2), as ClabEngine.apply applies them:"]
    out += render_steps(base, len(steps) + 1)
    n = len(steps) + len(base) + 1
    out += ["", "The shared steps (orchestrator/runbook.py up, the same for every engine), through this engine:"]
    if demo_steps:
        step14, step5 = _demo_documents(names)
        first = apply_steps(names, step14, [])
        out += ["", f"Demo steps 1-4 (orchestrator/demo.py run): the workshop's certificates are made in {names.run}/"
                "certs (example.com signs passthrough.example.com), then:"]
        out += render_steps(first, n)
        n += len(first)
        second = apply_steps(names, [step5], [])
        out += ["", f"Demo step 5: the Gateway patched with {demo.STEP5_PATCH} (JSON patch), then:"]
        out += render_steps(second, n)
        n += len(second)
    out += ["", *_bgp_and_push(names, lb, accepted, before.render(),
                                bastion_config(topo, log, bastion_bird, accepted).render(), ESTABLISH_WAIT)]
    out += ["", *_checks(topo, names, lb, demo_steps)]
    return "\n".join(out) + "\n"


def _prerequisites(names: ClabNames, dialect: str) -> list[str]:
    return [
        "Prerequisites, checked first from local facts only (`gwlab up` stops at once, listing every one missing):",
        "  - the Docker engine's socket answers (/var/run/docker.sock, or DOCKER_HOST=unix://...)",
        "  - on PATH: containerlab, kind, kubectl",
        f"  - bird (BIRD {'1.6' if dialect == '1' else dialect}) on this host: `bird -p` checks the bastion's "
        "config before each push",
        f"  - in the local image store (`docker image inspect`): {names.kind_image}, and {names.bastion_image} or "
        f"its base {BASTION_BASE_IMAGE}",
        f"  - nothing in the way: no link named {names.bridge}, no kind cluster named {names.cluster}, no "
        f"containers of lab {names.lab} without a state file",
    ]


def _demo_documents(names: ClabNames) -> tuple[list[Document], Document]:
    """What demo.run applies: the Secret (its data made at up), the app, the gateway; then step 5."""
    ca_dir = RunDir(names.lab, names.bastion).certs
    secret = Document("(demo step 1: kubectl create secret tls server-certs)", 0, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "server-certs", "namespace": "default"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": f"<base64 of {ca_dir / pki.LEAF_NAME}.crt, made at up>",
                 "tls.key": f"<base64 of {ca_dir / pki.LEAF_NAME}.key, made at up>"}})
    docs = manifests.read_documents(demo.manifest_paths())
    gateway = next(d for d in docs if cluster.key(d) == demo.GATEWAY)
    patched = jsonpatch.apply_patch(gateway.body, jsonpatch.parse_patch(demo.STEP5_PATCH.read_text()))
    return [secret, *docs], Document(str(demo.STEP5_PATCH), 0, patched)


def _birdc(names: ClabNames, command: str) -> str:
    argv = ["birdc", "-v", "-s", names.bird_socket, command]
    return f"   $ docker exec {names.bastion_container} {shlex.join(argv)}"


def _bgp_and_push(names: ClabNames, lb: list[IPv4Network], accepted: tuple[IPv4Network, ...],
                  before: str, after: str, wait: float) -> list[str]:
    conf = names.bastion_conf
    staged = conf.with_name(f".{conf.name}.new")
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                str(conf), str(staged))
    return [
        f"Wait for BGP (at most {wait:g} s): every node's session Established on the bastion, "
        + ", ".join(map(str, lb)) + " received and filtered by its import filter, as in the workshop:",
        _birdc(names, "show protocols"), _birdc(names, "show route filtered all"),
        "",
        "Push the bastion's import filter (the workshop's prerequisite 3), accepting "
        + ", ".join(map(str, accepted)) + " (orchestrator/bastion.py push_filter):",
        f"   write {staged} (bird/bastion.conf.j2 rendered), checked on this host with `bird -p`; its change:",
        *("      " + ln.rstrip("\n") for ln in diff),
        _birdc(names, f'configure check "{staged}"'),
        f"   rename {staged.name} to {conf.name}",
        _birdc(names, f"configure timeout {UNDO_TIMEOUT}"),
        "   the checks below (sessions, routes, kernel ECMP); all hold: " + _birdc(names, "configure confirm").strip(),
        "   else: " + _birdc(names, "configure undo").strip() + ", and the old file back",
    ]


def _checks(topo: Topology, names: ClabNames, lb: list[IPv4Network], with_demo: bool) -> list[str]:
    ip = f"docker exec {names.bastion_container} ip -j route show exact PREFIX table main"
    lines = ["Checks (orchestrator/checks.py bgp_checks and orchestrator/demo.py passthrough_checks; "
             "`gwlab verify` runs the same):"]
    # up records what it saw filtered before its push, so its plan lists that check too
    for c in bgp_checks(topo, lb, {}, Facts(filtered_before_push={str(p): [] for p in lb})):
        lines.append(f"   {c.name}: {c.expect}  ({c.where})")
    lines.append("   pod block of each node: via that node  (bastion: show route all; the blocks Calico's IPAM "
                 "affined, from `kubectl get blockaffinities.crd.projectcalico.org`)")
    lines.append(f"   the kernel routes are read with: $ {ip}")
    if not with_demo:
        return lines
    ca = RunDir.of(topo).certs / f"{pki.CA_NAME}.crt"
    gw = "$GATEWAY"

    def curl(host: str = demo.HOST, url: str | None = None, extra: list[str] | None = None) -> str:
        return f"$ docker exec {names.bastion_container} {shlex.join(demo.curl_argv(ca, gw, host, extra, url))}"
    lines += [
        "   TLSRoute tls-passthrough after step 4: Accepted=False (NotAllowedByListeners)  (recorded by up)",
        "   TLSRoute tls-passthrough after step 5: Accepted=True  (status.parents[0].conditions)",
        f"   the workshop's curl, HTTP/2 200 from an echo pod, TLS from the pod: {curl()}",
        f"   unknown SNI, refused: {curl(host='unknown.example.com')}",
        f"   no SNI, refused: {curl(url=f'https://{gw}:{demo.PORT}/get', extra=['-k'])}",
        f"   plain HTTP to port {demo.PORT}, refused: {curl(url=f'http://{gw}:{demo.PORT}/get')}",
        "   ($GATEWAY: the Gateway's status.addresses[0].value, from "
        f"`{shlex.join(names.kubectl('get', 'gateway/tls-passthrough-gateway', '-o', 'json'))}`)",
    ]
    return lines
