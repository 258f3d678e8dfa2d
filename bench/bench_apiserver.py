#!/usr/bin/env python3
"""Bench: the real kubectl 1.37 against the lab's API server, as whole commands.

The API server runs in a scratch network namespace of its own (gwlab-bench-<random>.api, removed at
the end), kubectl runs inside it with a warm discovery cache. Figures: the server's start (process
start to listening), `kubectl apply -f` of one manifest (a changed one each run, so it is
"configured"), `kubectl get pods` with 20 pods. Goals: apply <= 0.15 s, get pods <= 0.1 s.

    sudo .venv/bin/python bench/bench_apiserver.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchlib import summarize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.engines.netns import namespaces as netns  # noqa: E402

KUBECTL = Path(sys.executable).parent / "kubectl"
GOALS = {"kubectl apply -f (one manifest)": 0.15, "kubectl get pods (20 pods)": 0.1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    name = f"gwlab-bench-{uuid.uuid4().hex[:6]}.api"
    server: subprocess.Popen[str] | None = None
    with tempfile.TemporaryDirectory(prefix="gwlab-bench-api-") as tmp:
        env = {"KUBECONFIG": f"{tmp}/api/kubeconfig", "KUBECACHEDIR": f"{tmp}/cache", "HOME": tmp}

        def kubectl(*argv: str, stdin: str | None = None) -> float:
            start = time.monotonic()
            subprocess.run([str(KUBECTL), *argv], input=stdin, env=env, check=True, capture_output=True, text=True,
                           preexec_fn=lambda: netns.enter(name), timeout=30)
            return time.monotonic() - start

        try:
            with netns.create(name):
                pass
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
            start = time.monotonic()
            server = subprocess.Popen([sys.executable, "-m", "orchestrator.apiserver", "--data", f"{tmp}/api",
                                       "--listen", "127.0.0.1:6443"], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                      preexec_fn=lambda: netns.enter(name))
            assert server.stdout is not None and server.stdout.readline().startswith("serving")
            started = time.monotonic() - start
            for i in range(20):
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                       "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
                kubectl("create", "-f", "-", stdin=json.dumps(pod))
            runs = []
            for i in range(args.runs):
                cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench"}, "data": {"run": str(i)}}
                runs.append({"API server start (to listening)": started,
                             "kubectl apply -f (one manifest)": kubectl("apply", "-f", "-", stdin=json.dumps(cm)),
                             "kubectl get pods (20 pods)": kubectl("get", "pods")})
        finally:
            if server is not None:
                server.kill()
                server.wait()
            netns.remove(name)
    print("\n".join(summarize("kubectl against the lab's API server", runs)))
    print("goals: " + ", ".join(f"{k} <= {v} s" for k, v in GOALS.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
