"""The workshop's demo, step by step, and the checks that prove TLS passthrough end to end.

Step 1 makes the certificates and the Secret server-certs; step 2 the echo server; prerequisite 4
enables the Gateway API; step 3 the Gateway (HTTP listener only); step 4 the TLSRoute, which is
not accepted yet (NotAllowedByListeners); step 5 patches in the TLS Passthrough listener, and the
route is accepted. The test is the workshop's curl from the bastion.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import PROJECT_ROOT, cluster, manifests, pki
from orchestrator.checks import Check, Snapshot, local_service_checks
from orchestrator.errors import LabError
from orchestrator.k8s import jsonpatch
from orchestrator.manifests import Document

if TYPE_CHECKING:
    from orchestrator.lab import Lab

MANIFESTS = PROJECT_ROOT / "lab" / "manifests"
STEP5_PATCH = PROJECT_ROOT / "lab" / "patches" / "step5-tls-listener.yaml"
GATEWAY = ("Gateway", "default", "tls-passthrough-gateway")
ROUTE = ("TLSRoute", "default", "tls-passthrough")
HOST = "passthrough.example.com"
PORT = 6443


def certificates(lab: Lab) -> pki.LabCerts:
    return pki.write_lab_certs(lab.files.certs)


def server_certs_secret(certs: pki.LabCerts) -> Document:
    body = pki.tls_secret("server-certs", certs.leaf_cert.read_bytes(), certs.leaf_key.read_bytes())
    return Document("(demo step 1: kubectl create secret tls server-certs)", 0, dict(body))


def status_of(lab: Lab, kind: str, namespace: str, name: str) -> dict[str, Any]:
    for body in lab.engine.get(kind, namespace):
        if body["metadata"]["name"] == name:
            return dict(body.get("status") or {})
    return {}


def route_accepted(lab: Lab) -> tuple[str, str]:
    """(status, reason) of the workshop route's Accepted condition on its Gateway."""
    for parent in status_of(lab, *ROUTE).get("parents", []):
        for c in parent.get("conditions", []):
            if c.get("type") == "Accepted":
                return str(c["status"]), str(c["reason"])
    return "Unknown", "no status"


def gateway_address(lab: Lab) -> str:
    addresses = status_of(lab, *GATEWAY).get("addresses") or []
    if not addresses:
        raise LabError("the Gateway tls-passthrough-gateway has no address yet (is it applied and accepted?)")
    return str(addresses[0]["value"])


def step5_patched(lab: Lab) -> Document:
    stored = {cluster.key(d): d for d in lab.plan.docs}
    gw = stored.get(GATEWAY)
    if gw is None:
        raise LabError("demo step 5 patches the Gateway of step 3, which is not applied")
    body = jsonpatch.apply_patch(gw.body, jsonpatch.parse_patch(STEP5_PATCH.read_text()))
    return Document(str(STEP5_PATCH), 0, body)


@dataclass
class DemoReport:
    steps: list[str]
    route_after_step4: tuple[str, str]
    route_after_step5: tuple[str, str]


def run(lab: Lab, progress: Any = lambda _: None) -> DemoReport:
    steps: list[str] = []
    t = time.perf_counter()
    certs = certificates(lab)
    docs = [server_certs_secret(certs)] + manifests.read_documents(
        [MANIFESTS / "app", MANIFESTS / "gateway"])
    result = lab.apply(docs)
    steps += result.lines()
    after4 = route_accepted(lab)
    lab.state.facts.route_after_step4 = after4
    progress(f"demo steps 1-4 applied ({time.perf_counter() - t:.2f} s): TLSRoute tls-passthrough "
             f"Accepted={after4[0]} ({after4[1]})")
    t = time.perf_counter()
    result = lab.apply([step5_patched(lab)])
    steps += result.lines()
    after5 = route_accepted(lab)
    lab.state.facts.route_after_step5 = after5
    lab.state.save()
    progress(f"demo step 5 patched the TLS Passthrough listener in ({time.perf_counter() - t:.2f} s): "
             f"TLSRoute Accepted={after5[0]} ({after5[1]}), gateway address {gateway_address(lab)}")
    if result.sync.not_ready:
        progress("not ready: " + ", ".join(result.sync.not_ready))
    return DemoReport(steps, after4, after5)


# -- the test of the workshop, and its negative cases ------------------------------------------

@dataclass(frozen=True)
class CurlResult:
    exit_code: int
    status_line: str  # e.g. "HTTP/2 200"
    verified: bool  # curl said "SSL certificate verify ok"
    body: dict[str, Any] | None
    stderr: str


def curl_argv(ca: Path, gateway: str, host: str = HOST, extra: list[str] | None = None,
              url: str | None = None) -> list[str]:
    """The workshop's curl (step 6), as run in the bastion."""
    return ["curl", "-sS", "-v", "--max-time", "5", f"-HHost:{host}", "--resolve", f"{host}:{PORT}:{gateway}",
            "--cacert", str(ca), *(extra or []), url or f"https://{host}:{PORT}/get"]


def workshop_curl(lab: Lab, host: str = HOST, address: str | None = None, extra: list[str] | None = None,
                  url: str | None = None, ca: Path | None = None) -> CurlResult:
    """The workshop's test, run in the bastion's namespace (as the workshop curls from the bastion);
    `ca`: the file curl verifies the served chain with (default: the lab's CA)."""
    argv = curl_argv(ca or certificates(lab).ca_cert, address or gateway_address(lab), host, extra, url)
    out = lab.engine.exec(lab.topo.bastion.name, argv, capture=True, timeout=15)
    stderr = out.stderr.decode(errors="replace")
    status = next((line[2:].strip() for line in stderr.splitlines() if line.startswith("< HTTP/")), "")
    try:
        body = json.loads(out.stdout) if out.stdout.strip() else None
    except ValueError:
        body = None
    return CurlResult(out.returncode, status, "SSL certificate verify ok" in stderr, body, stderr)


def _echo_pods(lab: Lab) -> set[str]:
    """The echo server's pods that are Ready."""
    return {p["metadata"]["name"] for p in lab.engine.get("Pod", "default")
            if p["metadata"]["name"].startswith("passthrough-echoserver-")
            and any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in p.get("status", {}).get("conditions", []))}


def _backend_sessions(lab: Lab) -> int | None:
    return lab.engine.gateway_backend_sessions()


def trust_anchor(lab: Lab) -> tuple[Path, str]:
    """What the workshop's curl verifies the served chain with, judged on the lab as it is: the lab's
    CA when the backend pods mount the lab's own Secret, else the certificate in the Secret they
    mount (a reader who made their own with openssl, as the workshop does)."""
    from orchestrator.capture import inventory  # same floor: the read-only pod inventory
    from orchestrator.fsutil import atomic_write

    try:
        pods = inventory.inventory(lab).gateway.backend_pods
    except LabError:  # no Gateway, or an engine whose pods are not namespaces here
        pods = ()
    served = next((found for p in pods if (found := inventory.served_certificate(lab, p))), None)
    if served is None or (lab.files.certs.is_dir()
                          and served[1].strip() == certificates(lab).leaf_cert.read_bytes().strip()):
        return certificates(lab).ca_cert, "the lab's CA"
    path = lab.files.root / "served-secret.crt"
    atomic_write(path, served[1])
    return path, f"Secret {served[0]}"


def passthrough_check(lab: Lab) -> Check:
    def evaluate(_: Snapshot) -> tuple[bool, str]:
        ca, anchor = trust_anchor(lab)
        r = workshop_curl(lab, ca=ca)
        pod = (r.body or {}).get("pod", "")
        sni = ((r.body or {}).get("tls") or {}).get("serverName", "")
        ok = (r.exit_code == 0 and r.status_line.startswith("HTTP/2 200") and r.verified
              and pod in _echo_pods(lab) and sni == HOST)
        observed = f"{r.status_line or f'curl exit {r.exit_code}'}, pod {pod or '-'}, serverName {sni or '-'}"
        return ok, observed + (f", certificate verified ({anchor})" if r.verified
                               else f", certificate NOT verified ({anchor})")
    return Check(f"curl https://{HOST}:{PORT}/get", "bastion: the workshop's curl",
                 "HTTP/2 200 from an echo pod, TLS from the pod", evaluate)


def refused_check(lab: Lab, label: str, host: str, url: str | None, extra: list[str]) -> Check:
    def evaluate(_: Snapshot) -> tuple[bool, str]:
        before = _backend_sessions(lab)
        r = workshop_curl(lab, host=host, url=url, extra=extra)
        after = _backend_sessions(lab)
        reached = before is not None and after is not None and after > before
        ok = r.exit_code != 0 and not r.status_line and not reached
        detail = f"curl exit {r.exit_code}" + (f", {r.status_line}" if r.status_line else "")
        detail += ", reached a backend" if reached else ", no backend reached"
        return ok, detail
    return Check(label, "bastion: curl", "refused, no backend reached", evaluate)


def passthrough_checks(lab: Lab) -> list[Check]:
    gw = gateway_address(lab)
    status4 = lab.state.facts.route_after_step4

    def step4(_: Snapshot) -> tuple[bool, str]:
        assert status4 is not None
        return status4 == ("False", "NotAllowedByListeners"), f"Accepted={status4[0]} ({status4[1]})"

    def accepted(_: Snapshot) -> tuple[bool, str]:
        st, reason = route_accepted(lab)
        return st == "True", f"Accepted={st} ({reason})"
    # Step 4's status is history only `up` saw: checked when recorded, not required of a lab done by hand.
    history = [Check("TLSRoute tls-passthrough after step 4", "recorded by up",
                     "Accepted=False (NotAllowedByListeners)", step4)] if status4 else []
    return history + [
        Check("TLSRoute tls-passthrough after step 5", "status.parents[0].conditions", "Accepted=True", accepted),
        # Where the engine knows its pods (netns): the Gateway's /32 via the nodes of its ready proxies.
        *(local_service_checks(lab.topo, "proxy pod", IPv4Network(f"{gw}/32"), lambda: proxy_nodes(lab))
          if lab.engine.host_pods() is not None else []),
        passthrough_check(lab),
        refused_check(lab, "unknown SNI unknown.example.com", "unknown.example.com", None, []),
        refused_check(lab, "no SNI (https to the address)", HOST, f"https://{gw}:{PORT}/get", ["-k"]),
        refused_check(lab, "plain HTTP to port 6443", HOST, f"http://{gw}:{PORT}/get", []),
    ]


def proxy_nodes(lab: Lab) -> list[str]:
    """The nodes running a ready proxy pod of the workshop's Gateway, read from the pods now."""
    owner = f"Gateway/{GATEWAY[1]}/{GATEWAY[2]}"
    return sorted({p.spec.node for p in lab.engine.host_pods() or [] if p.spec.owner == owner and p.ready})


def demo_applied(lab: Lab) -> bool:
    return GATEWAY in {cluster.key(d) for d in lab.plan.docs}


def manifest_paths() -> list[Path]:
    return [MANIFESTS / "app", MANIFESTS / "gateway"]
