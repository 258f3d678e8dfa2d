"""The real kubectl 1.37 against the lab's API server, inside a scratch network namespace."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from orchestrator import PROJECT_ROOT
from orchestrator.pki import make_ca, make_leaf
from tests.lab.kubectl_lab import KubeLab, kube_lab, readline
from tests.workshop_texts import STEP3_GATEWAY, STEP4_ROUTE, STEP5_PATCH

pytestmark = pytest.mark.lab
ECHO = (PROJECT_ROOT / "lab/manifests/app/echoserver.yaml").read_text()
GW = "gateway/tls-passthrough-gateway"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeLab]:
    with kube_lab(tmp_path_factory.mktemp("kube")) as kl:
        yield kl


def _lines(out: subprocess.CompletedProcess[str]) -> list[str]:
    return out.stdout.strip().splitlines()


def test_apply_from_stdin_created_unchanged_configured(lab: KubeLab) -> None:
    first = lab.kubectl("apply", "-f", "-", stdin=ECHO)
    assert _lines(first) == ["service/passthrough-echoserver created",
                             "deployment.apps/passthrough-echoserver created"]
    assert first.stderr == ""
    again = lab.kubectl("apply", "-f", "-", stdin=ECHO)
    assert _lines(again) == ["service/passthrough-echoserver unchanged",
                             "deployment.apps/passthrough-echoserver unchanged"]
    edited = lab.kubectl("apply", "-f", "-", stdin=ECHO.replace("replicas: 1", "replicas: 2"))
    assert _lines(edited) == ["service/passthrough-echoserver unchanged",
                              "deployment.apps/passthrough-echoserver configured"]
    deploy = json.loads(lab.kubectl("get", "deploy", "passthrough-echoserver", "-o", "json").stdout)
    assert deploy["spec"]["replicas"] == 2
    assert deploy["metadata"]["generation"] == 2
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    svc = json.loads(lab.kubectl("get", "svc", "passthrough-echoserver", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    assert svc["spec"]["ports"] == [{"port": 443, "protocol": "TCP", "targetPort": 8443}]
    lab.kubectl("apply", "-f", "-", stdin=ECHO)


def test_reapply_keeps_an_env_var_set_by_kubectl_set_env(lab: KubeLab) -> None:
    lab.kubectl("apply", "-f", "-", stdin=ECHO)
    lab.kubectl("set", "env", "deployment/passthrough-echoserver", "EXTRA=kept")
    out = lab.kubectl("apply", "-f", "-", stdin=ECHO)
    # kubectl's own three-way patch carries $setElementOrder/env here, so it says "configured"
    assert "deployment.apps/passthrough-echoserver configured" in out.stdout
    env = json.loads(lab.kubectl("get", "deploy", "passthrough-echoserver", "-o",
                                 "jsonpath={.spec.template.spec.containers[0].env}").stdout)
    assert [e["name"] for e in env] == ["HTTPS_PORT", "TLS_SERVER_CERT", "TLS_SERVER_PRIVKEY", "POD_NAME",
                                        "NAMESPACE", "EXTRA"]
    changed = lab.kubectl("apply", "-f", "-", stdin=ECHO.replace('value: "8443"', 'value: "9443"'))
    assert "deployment.apps/passthrough-echoserver configured" in changed.stdout
    env = json.loads(lab.kubectl("get", "deploy", "passthrough-echoserver", "-o",
                                 "jsonpath={.spec.template.spec.containers[0].env}").stdout)
    assert env[0] == {"name": "HTTPS_PORT", "value": "9443"} and env[-1] == {"name": "EXTRA", "value": "kept"}


def test_create_secret_tls_twice_says_already_exists(lab: KubeLab, tmp_path: Path) -> None:
    ca = make_ca()
    leaf = make_leaf(ca)
    (tmp_path / "tls.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "tls.key").write_bytes(leaf.key_pem)
    args = ("create", "secret", "tls", "server-certs", f"--key={tmp_path / 'tls.key'}",
            f"--cert={tmp_path / 'tls.crt'}")
    assert lab.kubectl(*args).stdout.strip() == "secret/server-certs created"
    again = lab.kubectl(*args, check=False)
    assert again.returncode == 1
    assert again.stderr.strip() == 'error: failed to create secret secrets "server-certs" already exists'
    table = _lines(lab.kubectl("get", "secret", "server-certs"))
    assert table[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert table[1].split()[:3] == ["server-certs", "kubernetes.io/tls", "2"]


def test_gateway_step5_json_patch_then_reapply_drops_the_listener(lab: KubeLab) -> None:
    out = lab.kubectl("apply", "-f", "-", stdin=STEP3_GATEWAY + "---\n" + STEP4_ROUTE)
    assert "gateway.gateway.networking.k8s.io/tls-passthrough-gateway created" in out.stdout
    patched = lab.kubectl("patch", "gateway", "tls-passthrough-gateway", "--type=json", "--patch", STEP5_PATCH)
    assert patched.stdout.strip() == "gateway.gateway.networking.k8s.io/tls-passthrough-gateway patched"
    names = lab.kubectl("get", GW, "-o", "jsonpath={.spec.listeners[*].name}").stdout
    assert names == "http tls"
    again = lab.kubectl("apply", "-f", "-", stdin=STEP3_GATEWAY)
    assert again.stdout.strip() == "gateway.gateway.networking.k8s.io/tls-passthrough-gateway configured"
    assert lab.kubectl("get", GW, "-o", "jsonpath={.spec.listeners[*].name}").stdout == "http"
    lab.kubectl("patch", "gateway", "tls-passthrough-gateway", "--type=json", "--patch-file",
                str(PROJECT_ROOT / "lab/patches/step5-tls-listener.yaml"))
    assert lab.kubectl("get", GW, "-o", "jsonpath={.spec.listeners[*].name}").stdout == "http tls"
    lab.kubectl("apply", "-f", "-", stdin=STEP3_GATEWAY)
    header = _lines(lab.kubectl("get", "gateway"))[0].split()
    assert header == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]


def test_wait_for_jsonpath_and_condition_after_a_status_update(lab: KubeLab) -> None:
    lab.kubectl("apply", "-f", "-", stdin=STEP3_GATEWAY)
    waiter = lab.popen("wait", f"--for=jsonpath={{.status.addresses[0].value}}=10.10.10.0", GW, "--timeout=30s")
    cond = lab.popen("wait", "--for=condition=Programmed", GW, "--timeout=30s")
    status = {"status": {"addresses": [{"type": "IPAddress", "value": "10.10.10.0"}], "conditions": [
        {"type": "Programmed", "status": "True", "reason": "Programmed", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    lab.kubectl("patch", GW, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert out.decode().strip() == "gateway.gateway.networking.k8s.io/tls-passthrough-gateway condition met"
    out, err = cond.communicate(timeout=30)
    assert cond.returncode == 0, err
    addr = lab.kubectl("get", GW, "-o", "jsonpath={.status.addresses[0].value}").stdout
    assert addr == "10.10.10.0"
    row = _lines(lab.kubectl("get", GW))[1].split()
    assert row[:4] == ["tls-passthrough-gateway", "tigera-gateway-class", "10.10.10.0", "True"]
    # the main resource ignores status; the status subresource ignores everything else
    lab.kubectl("apply", "-f", "-", stdin=STEP3_GATEWAY.replace("port: 80", "port: 8080"))
    assert lab.kubectl("get", GW, "-o", "jsonpath={.status.addresses[0].value}").stdout == "10.10.10.0"


def test_get_outputs_all_namespaces_and_labels(lab: KubeLab) -> None:
    lab.kubectl("apply", "-f", "-", stdin=ECHO)
    lab.kubectl("create", "namespace", "bars")
    lab.kubectl("create", "configmap", "conf", "-n", "bars", "--from-literal=a=b")
    lab.kubectl("label", "configmap", "conf", "-n", "bars", "tier=web")
    names = lab.kubectl("get", "svc,deploy", "-o", "name").stdout.split()
    assert names == ["service/passthrough-echoserver", "deployment.apps/passthrough-echoserver"]
    doc = yaml.safe_load(lab.kubectl("get", "svc", "passthrough-echoserver", "-o", "yaml").stdout)
    assert doc["kind"] == "Service" and doc["spec"]["type"] == "ClusterIP"
    wide = _lines(lab.kubectl("get", "deploy", "-o", "wide"))
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                               "SELECTOR"]
    every = _lines(lab.kubectl("get", "cm", "-A", "-l", "tier=web"))
    assert every[0].split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert [r.split()[:3] for r in every[1:]] == [["bars", "conf", "1"]]
    assert lab.kubectl("get", "cm", "-A", "-l", "tier notin (web)", "-o", "name").stdout == ""
    ns = _lines(lab.kubectl("get", "ns"))
    assert [r.split()[:2] for r in ns[1:]] == [["bars", "Active"], ["default", "Active"],
                                               ["kube-node-lease", "Active"], ["kube-public", "Active"],
                                               ["kube-system", "Active"]]


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  labels: {app: web}
spec:
  nodeName: worker1
  containers:
    - name: web
      image: nginx:1.27
"""


def test_get_pods_table_columns(lab: KubeLab) -> None:
    lab.kubectl("apply", "-f", "-", stdin=POD)
    rows = _lines(lab.kubectl("get", "pods"))
    assert rows[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1].split()[:4] == ["web-1", "0/1", "Pending", "0"]
    wide = _lines(lab.kubectl("get", "pods", "-o", "wide"))
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                               "READINESS", "GATES"]
    assert wide[1].split()[5:7] == ["<none>", "worker1"]
    assert lab.kubectl("get", "pods", "--field-selector", "spec.nodeName=worker2", "-o", "name").stdout == ""


def test_strict_unknown_fields_and_invalid(lab: KubeLab) -> None:
    bad = ECHO.replace("  replicas: 1", "  replicas: 1\n  replicaz: 3").replace(
        "          ports:", "          portz: 1\n          ports:")
    out = lab.kubectl("apply", "-f", "-", stdin=bad, check=False)
    assert out.returncode == 1
    assert ('Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
            'handled as a Deployment: strict decoding error: unknown field "spec.replicaz", unknown field '
            '"spec.template.spec.containers[0].portz"') in out.stderr or (
            'unknown field "spec.replicaz"' in out.stderr and "portz" in out.stderr), out.stderr
    gw = STEP3_GATEWAY.replace("name: tls-passthrough-gateway", "name: g2").replace("port: 80", "port: 80\n"
                                                                                    "      colour: red")
    out = lab.kubectl("apply", "-f", "-", stdin=gw, check=False)
    assert 'strict decoding error: unknown field "spec.listeners[0].colour"' in out.stderr
    typed = STEP3_GATEWAY.replace("name: tls-passthrough-gateway", "name: g3").replace("port: 80", "port: eighty")
    out = lab.kubectl("create", "-f", "-", stdin=typed, check=False)
    assert out.stderr.strip() == ('The Gateway "g3" is invalid: spec.listeners[0].port: Invalid value: "string": '
                                  'spec.listeners[0].port in body must be of type integer: "string"')
    missing = lab.kubectl("apply", "-n", "nowhere", "-f", "-", stdin=POD, check=False)
    assert 'namespaces "nowhere" not found' in missing.stderr


def test_conflict_on_a_stale_resource_version(lab: KubeLab, tmp_path: Path) -> None:
    lab.kubectl("create", "configmap", "stale", "--from-literal=a=1")
    old = json.loads(lab.kubectl("get", "cm", "stale", "-o", "json").stdout)
    lab.kubectl("patch", "cm", "stale", "--type=merge", "-p", '{"data":{"a":"2"}}')
    old["data"]["a"] = "3"
    (tmp_path / "stale.json").write_text(json.dumps(old))
    out = lab.kubectl("replace", "-f", str(tmp_path / "stale.json"), check=False)
    assert out.returncode == 1
    assert ('Error from server (Conflict): error when replacing "' in out.stderr
            and 'Operation cannot be fulfilled on configmaps "stale": the object has been modified; please apply '
            'your changes to the latest version and try again' in out.stderr), out.stderr


def test_scale_and_delete_waits_and_cascades(lab: KubeLab) -> None:
    lab.kubectl("apply", "-f", "-", stdin=ECHO)
    assert lab.kubectl("scale", "deployment", "passthrough-echoserver", "--replicas=3").stdout.strip() == \
        "deployment.apps/passthrough-echoserver scaled"
    assert lab.kubectl("get", "deploy", "passthrough-echoserver", "-o",
                       "jsonpath={.spec.replicas}").stdout == "3"
    uid = lab.kubectl("get", "deploy", "passthrough-echoserver", "-o", "jsonpath={.metadata.uid}").stdout
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "passthrough-echoserver-abc", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "passthrough-echoserver", "uid": uid,
         "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"selector": {"matchLabels": {"run": "x"}}, "template": {"metadata": {"labels": {"run": "x"}},
                 "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}}
    lab.kubectl("create", "-f", "-", stdin=json.dumps(rs))
    out = lab.kubectl("delete", "deployment", "passthrough-echoserver")
    assert out.stdout.strip() == 'deployment.apps "passthrough-echoserver" deleted from default namespace'
    gone = lab.kubectl("get", "rs", "passthrough-echoserver-abc", check=False)
    assert 'replicasets.apps "passthrough-echoserver-abc" not found' in gone.stderr


def test_delete_namespace_empties_it_then_it_is_gone(lab: KubeLab) -> None:
    lab.kubectl("create", "namespace", "doomed")
    lab.kubectl("create", "configmap", "c1", "-n", "doomed")
    out = lab.kubectl("delete", "namespace", "doomed")
    assert out.stdout.strip() == 'namespace "doomed" deleted'
    assert 'namespaces "doomed" not found' in lab.kubectl("get", "ns", "doomed", check=False).stderr
    again = lab.kubectl("create", "configmap", "c1", "-n", "doomed", check=False)
    assert 'namespaces "doomed" not found' in again.stderr
    refused = lab.kubectl("delete", "namespace", "default", "--wait=false", check=False)
    assert 'namespaces "default" is forbidden: this namespace may not be deleted' in refused.stderr


def test_get_watch_shows_changes(lab: KubeLab) -> None:
    lab.kubectl("create", "configmap", "w1")
    watcher = lab.popen("get", "cm", "-w", "--output-watch-events", "--request-timeout=20s")
    header = readline(watcher).split()
    assert header == ["EVENT", "NAME", "DATA", "AGE"]
    seen = [readline(watcher).split()[:2]]
    while seen[-1] != ["ADDED", "w1"]:
        seen.append(readline(watcher).split()[:2])
    lab.kubectl("create", "configmap", "w2", "--from-literal=k=v")
    while seen[-1] != ["ADDED", "w2"]:
        seen.append(readline(watcher).split()[:2])
    lab.kubectl("delete", "configmap", "w2")
    line = readline(watcher).split()
    while line[:2] == ["MODIFIED", "w2"]:
        line = readline(watcher).split()
    assert line[:2] == ["DELETED", "w2"]
    watcher.send_signal(signal.SIGTERM)
    watcher.communicate(timeout=10)


def test_a_watch_whose_client_hangs_up_ends(lab: KubeLab) -> None:
    assert lab.proc is not None
    tasks = Path(f"/proc/{lab.proc.pid}/task")
    lab.kubectl("create", "configmap", "watched")
    watcher = lab.popen("get", "cm", "watched", "-w")
    readline(watcher)
    with_watch = len(list(tasks.iterdir()))
    watcher.kill()
    watcher.communicate(timeout=10)
    for _ in range(50):  # the server looks once a second while idle
        if len(list(tasks.iterdir())) < with_watch:
            break
        time.sleep(0.1)
    assert len(list(tasks.iterdir())) < with_watch, "the watch's thread outlived its client"


def test_kill_9_then_restart_loses_nothing(lab: KubeLab) -> None:
    lab.kubectl("create", "configmap", "durable", "--from-literal=k=v")
    before = json.loads(lab.kubectl("get", "cm", "-A", "-o", "json").stdout)
    lab.stop(signal.SIGKILL)
    lab.start()
    after = json.loads(lab.kubectl("get", "cm", "-A", "-o", "json").stdout)
    assert after["items"] == before["items"]
    lab.kubectl("create", "configmap", "later")
    rv = int(lab.kubectl("get", "cm", "later", "-o", "jsonpath={.metadata.resourceVersion}").stdout)
    assert rv > max(int(i["metadata"]["resourceVersion"]) for i in before["items"])
    modes = {p.name: p.stat().st_mode & 0o777 for p in lab.data.iterdir()}
    assert lab.data.stat().st_mode & 0o777 == 0o700
    assert modes["store.json"] == modes["kubeconfig"] == modes["ca.key"] == modes["admin.key"] == 0o600


def test_a_kind_the_server_does_not_serve_gets_kube_apiservers_words(lab: KubeLab) -> None:
    for api_version, kind in (("gateway.networking.k8s.io/v1", "HTTPRoute"), ("example.com/v1", "Foo")):
        doc = f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n"
        out = lab.kubectl("apply", "-f", "-", stdin=doc, check=False)
        assert out.returncode == 1 and out.stderr.splitlines() == [
            f'error: resource mapping not found for name: "x" namespace: "" from "STDIN": no matches for kind '
            f'"{kind}" in version "{api_version}"', "ensure CRDs are installed first"], out.stderr


NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker1", "labels": {
    "node-role.kubernetes.io/worker": ""}}, "status": {
    "addresses": [{"type": "InternalIP", "address": "10.0.1.12"}],
    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}],
    "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                 "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://2.1.1", "machineID": "",
                 "systemUUID": "", "bootID": "", "kubeProxyVersion": "", "operatingSystem": "linux",
                 "architecture": "amd64"}}}


def test_nodes_wide_and_events(lab: KubeLab) -> None:
    lab.kubectl("create", "-f", "-", stdin=json.dumps(NODE))
    lab.kubectl("patch", "node", "worker1", "--subresource=status", "--type=merge", "-p",
                json.dumps({"status": NODE["status"]}))
    rows = _lines(lab.kubectl("get", "nodes", "-o", "wide"))
    assert rows[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                               "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    cells = rows[1].split()
    assert cells[:3] == ["worker1", "Ready", "worker"] and cells[4:7] == ["v1.33.1", "10.0.1.12", "<none>"]
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.1", "namespace": "default"},
             "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default"}, "reason": "Scheduled",
             "message": "Successfully assigned default/web-1 to worker1", "type": "Normal", "count": 1,
             "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
             "source": {"component": "default-scheduler"}}
    lab.kubectl("create", "-f", "-", stdin=json.dumps(event))
    rows = _lines(lab.kubectl("get", "events", "--field-selector", "involvedObject.name=web-1"))
    assert rows[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows[1].split()[1:4] == ["Normal", "Scheduled", "pod/web-1"]


def test_workshop_kubectl_lines_as_written(lab: KubeLab, tmp_path: Path) -> None:
    calico = "---\n".join(p.read_text() for p in sorted((PROJECT_ROOT / "lab/manifests/calico").glob("*.yaml")))
    out = lab.kubectl("apply", "-f", "-", stdin=calico)
    assert "bgppeer.projectcalico.org/my-global-peer" in out.stdout, out.stderr
    gwapi = (PROJECT_ROOT / "lab/manifests/gateway/10-gatewayapi.yaml").read_text()
    assert lab.kubectl("apply", "-f", "-", stdin=gwapi).stdout.strip() in (
        "gatewayapi.operator.tigera.io/tigera-secure created", "gatewayapi.operator.tigera.io/tigera-secure unchanged")
    ca = make_ca()
    leaf = make_leaf(ca)
    (tmp_path / "passthrough.example.com.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "passthrough.example.com.key").write_bytes(leaf.key_pem)
    lab.kubectl("delete", "secret", "server-certs", "--ignore-not-found")
    secret = subprocess.run([str(lab_kubectl()), "create", "secret", "tls", "server-certs",
                             "--key=passthrough.example.com.key", "--cert=passthrough.example.com.crt"],
                            capture_output=True, text=True, env=lab.env(), preexec_fn=lab.enter, cwd=tmp_path,
                            timeout=30)
    assert secret.stdout.strip() == "secret/server-certs created", secret.stderr
    lab.kubectl("apply", "-f", "-", stdin=ECHO)
    lab.kubectl("apply", "-f", "-", stdin=STEP3_GATEWAY)
    lab.kubectl("apply", "-f", "-", stdin=STEP4_ROUTE)
    lab.kubectl("patch", "gateway", "tls-passthrough-gateway", "--type=json", "--patch", STEP5_PATCH)
    lab.kubectl("get", "gateway/tls-passthrough-gateway", "-o", "jsonpath={.status.addresses[0].value}")
    for line in ("delete service passthrough-echoserver", "delete deployment passthrough-echoserver",
                 "delete gateway tls-passthrough-gateway", "delete TLSRoute tls-passthrough",
                 "delete secret server-certs"):
        out = lab.kubectl(*line.split())
        assert out.stdout.strip().endswith("deleted from default namespace"), (line, out.stdout, out.stderr)


def lab_kubectl() -> Path:
    from tests.lab.kubectl_lab import KUBECTL

    return KUBECTL


def test_diff_is_a_dry_run_and_warnings_are_printed(lab: KubeLab) -> None:
    lab.kubectl("apply", "-f", "-", stdin=ECHO)
    before = lab.kubectl("get", "deploy", "passthrough-echoserver", "-o", "jsonpath={.spec.replicas}").stdout
    diff = lab.kubectl("diff", "-f", "-", stdin=ECHO.replace("replicas: 1", "replicas: 4"), check=False)
    assert diff.returncode == 1 and "+  replicas: 4" in diff.stdout, diff.stderr
    assert lab.kubectl("get", "deploy", "passthrough-echoserver", "-o", "jsonpath={.spec.replicas}").stdout == before
    warned = lab.kubectl("apply", "--validate=warn", "-f", "-",
                         stdin=ECHO.replace("  replicas: 1", "  replicas: 1\n  bogus: 1"))
    assert 'Warning: unknown field "spec.bogus"' in warned.stderr


def test_logs_and_follow_and_exec_refused(lab: KubeLab, tmp_path: Path) -> None:
    log = tmp_path / "web.log"
    log.write_text("line 1\nline 2\n")
    pod = POD.replace("name: web-1", "name: web-logs").replace(
        "  labels: {app: web}", f"  labels: {{app: web}}\n  annotations: {{gwlab.io/log-file: {log}}}")
    lab.kubectl("apply", "-f", "-", stdin=pod)
    assert lab.kubectl("logs", "web-logs").stdout == "line 1\nline 2\n"
    assert lab.kubectl("logs", "web-logs", "--tail=1").stdout == "line 2\n"
    follower = lab.popen("logs", "-f", "web-logs")
    assert readline(follower) == "line 1\n"
    with log.open("a") as handle:
        handle.write("line 3\n")
    while (line := readline(follower)) != "line 3\n":
        assert line == "line 2\n"
    refused = lab.kubectl("exec", "web-logs", "--", "ls", check=False)
    assert refused.returncode == 1 and "use `gwlab exec pod/web-logs -- COMMAND`" in refused.stderr
    lab.kubectl("delete", "pod", "web-logs")
    follower.communicate(timeout=10)


def _contains(stored: object, sent: object) -> bool:
    """Every field kubectl meant to send is in what the server stored (defaults may add more)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(_contains(stored.get(k), v) for k, v in sent.items()
                                                if v not in ({}, None) or k in stored)
    if isinstance(sent, list):
        return isinstance(stored, list) and len(stored) == len(sent) and all(map(_contains, stored, sent))
    return stored == sent


def test_typed_creates_sent_as_protobuf(lab: KubeLab) -> None:
    """kubectl create deployment|service|configmap send protobuf: decoded, they hold what kubectl meant."""
    for args, get in ((("deployment", "proto-web", "--image=nginx:1.27", "--port=80", "--replicas=2"),
                       ("deploy", "proto-web")),
                      (("service", "loadbalancer", "proto-svc", "--tcp=443:8443"), ("svc", "proto-svc")),
                      (("configmap", "proto-cm", "--from-literal=k=v"), ("cm", "proto-cm"))):
        meant = json.loads(lab.kubectl("create", *args, "--dry-run=client", "-o", "json").stdout)
        lab.kubectl("create", *args)
        stored = json.loads(lab.kubectl("get", *get, "-o", "json").stdout)
        meant["metadata"].pop("creationTimestamp", None)
        meant.pop("status", None)
        assert _contains(stored, meant), (meant, stored)
    ports = json.loads(lab.kubectl("get", "svc", "proto-svc", "-o", "jsonpath={.spec.ports}").stdout)
    assert ports[0]["targetPort"] == 8443 and 30000 <= ports[0]["nodePort"] <= 32767
