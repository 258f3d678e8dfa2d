"""Manifest files: multi-document YAML read into documents that remember where they came from.
Turning them into typed objects is the kinds registry's job (orchestrator.k8s.kinds)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import Problem, ValidationFailed
from orchestrator import safeyaml


@dataclass(frozen=True)
class Document:
    file: str
    index: int  # position in a multi-document file
    body: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file} (document {self.index + 1})" if self.index else self.file

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def name(self) -> str:
        meta = self.body.get("metadata") or {}
        return str(meta.get("name", "")) if isinstance(meta, dict) else ""

    @property
    def namespace(self) -> str:
        meta = self.body.get("metadata") or {}
        return str(meta.get("namespace") or "default") if isinstance(meta, dict) else "default"


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml", ".json") and x.is_file())
        else:
            out.append(p)
    return out


def read_documents(paths: Iterable[Path | str]) -> list[Document]:
    """Read every document of every file (directories recursively); all problems at once."""
    problems: list[Problem] = []
    docs: list[Document] = []
    for path in _files(Path(p) for p in paths):
        file = str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            problems.append(Problem(file, "(file)", f"cannot read it: {exc.strerror}", "check the path given to -f"))
            continue
        docs += parse_documents(text, file, problems)
    if problems:
        raise ValidationFailed(problems)
    return docs


def parse_documents(text: str, file: str, problems: list[Problem]) -> list[Document]:
    docs: list[Document] = []
    try:
        loaded = list(safeyaml.load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problems.append(Problem(file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                "fix the YAML syntax"))
        return docs
    for i, body in enumerate(loaded):
        if body is None:
            continue
        if isinstance(body, dict) and body.get("kind") == "List" and isinstance(body.get("items"), list):
            docs += [Document(file, i, item) for item in body["items"] if isinstance(item, dict)]
            continue
        if not isinstance(body, dict):
            problems.append(Problem(file, f"document {i + 1}", "is not a mapping",
                                    "each document needs apiVersion, kind, metadata and spec"))
            continue
        docs.append(Document(file, i, body))
    return docs


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""
