"""The API server started in process (as `gwlab up` and the controllers will), watched in process."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from orchestrator.engines.netns import namespaces as netns
from orchestrator.apiserver.crud import key_of
from orchestrator.apiserver.registry import lookup
from orchestrator.apiserver.server import ApiServer, ServerError
from tests.lab.kubectl_lab import KUBECTL

pytestmark = pytest.mark.lab


def test_in_process_server_and_watch(tmp_path: Path) -> None:
    name = f"gwlab-{uuid.uuid4().hex[:8]}.api"
    server = None
    try:
        with netns.create(name):
            pass
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        with pytest.raises(ServerError, match="refusing to listen outside a lab network namespace"):
            ApiServer(tmp_path / "outside", "127.0.0.1", 0)
        assert not (tmp_path / "outside").exists()
        with netns.inside(name):  # the listening socket belongs to the namespace it was made in
            server = ApiServer(tmp_path / "api", "127.0.0.1", 0).start()
            with pytest.raises(ServerError, match="another API server already uses"):
                ApiServer(tmp_path / "api", "127.0.0.1", 0)
        cm = lookup("", "v1", "configmaps")
        assert cm is not None
        watch = server.store.watch(key_of(cm), server.store.rv)
        env = {"KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
        out = subprocess.run([str(KUBECTL), "create", "configmap", "seen", "--from-literal=a=b"], env=env,
                             capture_output=True, text=True, timeout=30, preexec_fn=lambda: netns.enter(name))
        assert out.stdout.strip() == "configmap/seen created", out.stderr
        event = watch.next(timeout=10)
        assert event is not None and event.type == "ADDED" and event.object["data"] == {"a": "b"}
        watch.close()
    finally:
        if server is not None:
            server.stop()
        netns.remove(name)
