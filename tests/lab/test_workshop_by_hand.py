"""The workshop done by hand, step by step from its text, with gwlab's verbs where the text says
kubectl (until the lab's API server serves the real one), and the reader's own openssl
certificates: `gwlab verify` judges the lab as it is and passes every check."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT
from orchestrator.rundir import RunDir
from tests.workshop_reader import HARNESS, WORKSHOP, Block, workshop_blocks

from .helpers import gwlab, leftovers

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not WORKSHOP.is_file(), reason=f"the workshop's text is not at {WORKSHOP}")]


def _kubectl_as_gwlab(lab: str, line: str, cwd: Path) -> None:
    argv = shlex.split(line)
    assert argv[0] == "kubectl", line
    out = subprocess.run([sys.executable, "-m", "orchestrator", argv[1], "--lab", lab, *argv[2:]], cwd=cwd,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"{line}\n{out.stdout}{out.stderr}"


def _commands(code: str) -> list[str]:
    """A block's commands: one a line, but a quoted argument may span lines (step 5's patch)."""
    found, pending = [], ""
    for line in code.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending)
        except ValueError:
            continue
        found.append(pending)
        pending = ""
    assert not pending, f"unbalanced quotes in {code!r}"
    return found


def _run(lab: str, block: Block, home: Path, tmp: Path, env: dict[str, str]) -> None:
    code = block.code
    if "<<EOF" in code:  # kubectl apply -f - <<EOF / cat <<EOF | kubectl apply -f -
        manifest = tmp / f"{abs(hash(code))}.yaml"
        manifest.write_text(code.split("\n", 1)[1].rsplit("\nEOF", 1)[0] + "\n")
        gwlab("apply", "--lab", lab, "-f", str(manifest))
        return
    if code.startswith("export "):  # step 7: the gateway's address
        name, command = code[len("export "):].split("=", 1)
        inner = command.removeprefix("$(").removesuffix(")")
        argv = shlex.split(inner)
        env[name] = gwlab(argv[1], "--lab", lab, *argv[2:]).stdout.strip()
        return
    if code.startswith("sleep "):
        return
    for line in _commands(code) if code.startswith(("kubectl", "openssl")) else [code]:
        if line.startswith("kubectl"):
            _kubectl_as_gwlab(lab, line, home)
        else:
            exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
            out = gwlab("shell", "--lab", lab, "-c", HARNESS + exports + line, check=False)
            assert out.returncode == 0, f"{line}\n{out.stdout}{out.stderr}"
            if line.startswith("curl"):
                assert "HTTP/2 200" in out.stderr and '"pod": "passthrough-echoserver-' in out.stdout, out


def test_workshop_by_hand_then_verify(lab_name: str, tmp_path: Path) -> None:
    try:
        gwlab("up", "--bgp-only", "--pre-workshop", "--lab", lab_name)
        home = RunDir(lab_name).root / "shell" / "bastion" / "home"
        env: dict[str, str] = {}
        for block in workshop_blocks():
            if block.section.startswith("clean-up"):
                continue
            _run(lab_name, block, home, tmp_path, env)
        assert (home / "example.com.crt").is_file()  # the reader's own CA, made by the text's openssl
        out = gwlab("verify", "--lab", lab_name, check=False)
        assert out.returncode == 0 and "FAIL" not in out.stdout, out.stdout + out.stderr
        assert "certificate verified (Secret default/server-certs tls.crt)" in out.stdout, out.stdout
        for block in workshop_blocks():
            if block.section.startswith("clean-up"):
                for line in block.code.splitlines():
                    _kubectl_as_gwlab(lab_name, line, home)
    finally:
        gwlab("down", "--lab", lab_name, check=False)
    assert leftovers(lab_name) == []
