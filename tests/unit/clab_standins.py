"""Stand-ins for what cannot run on the machines that test this project: the Docker engine (and so
containerlab, kind and kubectl, which need it) and changes to the host's links. Each names itself as
a stand-in and records every call it gets; replies come from real tools' output (tests/fixtures/clab)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engines.clab.docker import ContainerInfo, ExecResult
from orchestrator.engines.clab.runner import CommandResult

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "clab"


def birdc_fixture(name: str) -> tuple[str, str]:
    """(command, what the real `birdc -v` printed) of tests/fixtures/clab/birdc-v/NAME.txt."""
    head, _, body = (FIXTURES / "birdc-v" / f"{name}.txt").read_text().partition("\n")
    return head.removeprefix("# "), body


ExecRule = tuple[Callable[[str, list[str]], bool], ExecResult]
RunRule = tuple[Callable[[tuple[str, ...]], bool], CommandResult | Callable[[tuple[str, ...]], CommandResult]]


@dataclass
class RecordingDocker:
    """RecordingDocker: stands in for the Docker engine, which cannot run here. It records every call
    (image checks, builds, exec, container listing and removal) and answers from canned replies."""

    images: set[str] = field(default_factory=set)
    listed: list[ContainerInfo] = field(default_factory=list)
    rules: list[ExecRule] = field(default_factory=list)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def on_exec(self, match: Callable[[str, list[str]], bool], reply: ExecResult) -> None:
        self.rules.append((match, reply))

    def image_present(self, ref: str) -> bool:
        self.calls.append(("image_present", ref))
        return ref in self.images

    def build_image(self, context: Path, dockerfile: str, tag: str) -> list[str]:
        self.calls.append(("build_image", str(context), dockerfile, tag))
        self.images.add(tag)
        return [f"Successfully tagged {tag}"]

    def exec(self, container: str, argv: list[str]) -> ExecResult:
        self.calls.append(("exec", container, *argv))
        for match, reply in self.rules:
            if match(container, argv):
                return reply
        return ExecResult(0, b"", b"")

    def containers(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        self.calls.append(("containers", label, value or ""))
        return [c for c in self.listed if label in c.labels and (value is None or c.labels[label] == value)]

    def remove(self, name: str) -> bool:
        self.calls.append(("remove", name))
        before = len(self.listed)
        self.listed = [c for c in self.listed if c.name != name]
        return len(self.listed) < before

    def execs(self) -> list[tuple[str, ...]]:
        return [c[1:] for c in self.calls if c[0] == "exec"]


@dataclass
class RecordingRunner:
    """RecordingRunner: stands in for containerlab, kind and kubectl, which are not installed here and
    could not run without a Docker engine. It records argv and stdin; every command succeeds unless a
    rule says otherwise."""

    rules: list[RunRule] = field(default_factory=list)
    calls: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)

    def on(self, match: Callable[[tuple[str, ...]], bool],
           reply: CommandResult | Callable[[tuple[str, ...]], CommandResult]) -> None:
        self.rules.append((match, reply))

    def on_get(self, resource: str, items: list[dict[str, object]]) -> None:
        """`kubectl ... get RESOURCE ... -o json` answers with these items."""
        self.on(lambda a: "get" in a and any(x == resource or x.startswith(resource + ".") for x in a),
                lambda a: CommandResult(a, 0, json.dumps({"items": items}), ""))

    def run(self, argv: tuple[str, ...], stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        self.calls.append((argv, stdin))
        for match, reply in self.rules:
            if match(argv):
                return reply(argv) if callable(reply) else reply
        return CommandResult(argv, 0, "", "")

    def argvs(self) -> list[tuple[str, ...]]:
        return [a for a, _ in self.calls]


@dataclass
class RecordingBridges:
    """RecordingBridges: stands in for the host's links, which a unit test must not change."""

    present: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def exists(self, name: str) -> bool:
        return name in self.present

    def create(self, name: str) -> None:
        self.calls.append(("create", name))
        self.present.add(name)

    def remove(self, name: str) -> bool:
        self.calls.append(("remove", name))
        if name in self.present:
            self.present.discard(name)
            return True
        return False


def no_tools(_: str) -> str | None:
    """`which` on a host with none of the tools."""
    return None


def all_tools(name: str) -> str | None:
    """`which` on a host with every tool the engine runs (the stand-ins answer for them)."""
    return f"/usr/local/bin/{name}"
