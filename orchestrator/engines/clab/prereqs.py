"""What the containerlab engine needs, checked from local facts only before anything is made: the
Docker engine's socket answers, the tools are on PATH, the images are in the local store (`docker image
inspect`), nothing of someone else's is in the way. Never a connection to the outside."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.bird import binaries
from orchestrator.engines.clab.bridge import Bridges
from orchestrator.engines.clab.docker import DockerApi
from orchestrator.engines.clab.names import (BASTION_BASE_IMAGE, CLAB_LAB_LABEL, KIND_CLUSTER_LABEL, ROLE_LABEL,
                                             ClabNames)
from orchestrator.errors import LabError
from orchestrator.state import LabState

OK, MISSING, CONFLICT, UNCHECKED = "ok", "MISSING", "IN THE WAY", "NOT CHECKED"
TOOLS = {
    "containerlab": 'bash -c "$(curl -sL https://get.containerlab.dev)" (see https://containerlab.dev/install/)',
    "kind": "kind v0.29.0 or later: `go install sigs.k8s.io/kind@v0.29.0`, or the release binary "
            "(https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
}
DOCKER_FIX = "install Docker Engine (https://docs.docker.com/engine/install/) and start it: systemctl start docker"


@dataclass(frozen=True)
class Item:
    what: str
    status: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    items: list[Item]

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if i.status in (MISSING, CONFLICT)]

    def text(self) -> str:
        head = ("the containerlab engine cannot start on this host; nothing was made. "
                f"{len(self.problems)} problem(s), checked from local facts only:")
        width = max(len(i.what) for i in self.items)
        lines = [head]
        for i in self.items:
            lines.append(f"  {i.status:<11} {i.what:<{width}}  {i.detail}")
            if i.fix and i.status != OK:
                lines.append(f"  {'':<11} {'':<{width}}  fix: {i.fix}")
        return "\n".join(lines)


class PrerequisitesMissing(LabError):
    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(report.text())


def _made(state: LabState | None) -> list[str]:
    return list(((state.facts.clab if state else None) or {}).get("made") or [])


def check(names: ClabNames, dialect: str, docker: DockerApi | None, docker_why: str, bridges: Bridges,
          existing: LabState | None, which: Callable[[str], str | None] = shutil.which) -> Report:
    items: list[Item] = []
    if docker is None:
        items.append(Item("Docker engine", MISSING, docker_why, DOCKER_FIX))
    else:
        items.append(Item("Docker engine", OK, "its socket answers"))
    for tool, fix in TOOLS.items():
        path = which(tool)
        items.append(Item(tool, OK, path) if path else Item(tool, MISSING, "not on PATH", fix))
    if dialect != "1":
        items.append(Item("bastion BIRD", MISSING, f"--bastion-bird {dialect}: the bastion image runs BIRD 1.6, "
                          "as the workshop's bastion does", "leave --bastion-bird at 1 (BIRD 2 is for the netns engine)"))
    try:
        bird = binaries.bird_binaries(dialect).bird
        items.append(Item("bird (this host)", OK, f"{bird}: parse-checks the bastion's config before each push"))
    except LabError as exc:
        items.append(Item("bird (this host)", MISSING, f"{exc} (the filter push parse-checks with `bird -p`)",
                          "apt-get install bird"))
    images = [names.kind_image, BASTION_BASE_IMAGE]
    if docker is None:
        items.append(Item("images", UNCHECKED, f"{', '.join(images)}: checked with `docker image inspect` once "
                          "Docker answers", "; ".join(f"docker pull {i}" for i in images)))
    else:
        items += _images(names, docker)
        items += _in_the_way(names, docker, existing)
    made = _made(existing)
    if bridges.exists(names.bridge) and "bridge" not in made:
        items.append(Item("host bridge", CONFLICT, f"a link named {names.bridge} already exists and lab "
                          f"{names.lab} did not make it", f"remove it (ip link del {names.bridge}) if it is a "
                          "leftover, or rename the topology's bridge node"))
    return Report(items)


def _images(names: ClabNames, docker: DockerApi) -> list[Item]:
    items = []
    if docker.image_present(names.kind_image):
        items.append(Item("kind node image", OK, names.kind_image))
    else:
        items.append(Item("kind node image", MISSING, f"{names.kind_image} is not in the local image store",
                          f"docker pull {names.kind_image}"))
    if docker.image_present(names.bastion_image):
        items.append(Item("bastion image", OK, f"{names.bastion_image} (rebuilt from lab/bastion/Dockerfile at up)"))
    elif docker.image_present(BASTION_BASE_IMAGE):
        items.append(Item("bastion image", OK, f"built at up from lab/bastion/Dockerfile on {BASTION_BASE_IMAGE}"))
    else:
        items.append(Item("bastion image", MISSING, f"neither {names.bastion_image} nor its base "
                          f"{BASTION_BASE_IMAGE} is in the local image store", f"docker pull {BASTION_BASE_IMAGE}"))
    return items


def _in_the_way(names: ClabNames, docker: DockerApi, existing: LabState | None) -> list[Item]:
    items = []
    ours = [c.name for c in docker.containers(CLAB_LAB_LABEL, names.lab) if ROLE_LABEL in c.labels]
    if ours and existing is None:
        items.append(Item("leftovers", CONFLICT, f"containers of lab {names.lab} with no state file: "
                          + ", ".join(ours), f"gwlab clean --lab {names.lab}"))
    kind_nodes = [c.name for c in docker.containers(KIND_CLUSTER_LABEL, names.cluster)]
    if kind_nodes and "deploy" not in _made(existing):
        items.append(Item("kind cluster", CONFLICT, f"a kind cluster named {names.cluster} already runs ("
                          + ", ".join(sorted(kind_nodes)) + f") and lab {names.lab} did not make it",
                          f"kind delete cluster --name {names.cluster} if it is not needed, or rename the "
                          "topology's k8s-kind node (and its nodes)"))
    return items
