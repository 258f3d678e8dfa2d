"""Manifest files: multi-document YAML read into documents that remember where they came from.

Each supported kind has a strict parser (registered by (apiVersion group, kind)) that turns a
document into a typed object, collecting every problem and noting the fields it accepts but
does not model, so that they are reported as ignored instead of silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import Problem, ValidationFailed


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
        loaded = list(yaml.safe_load_all(text))
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


@dataclass
class FieldReader:
    """Reads one document's fields, collecting problems and the fields accepted but not modelled."""

    doc: Document
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def problem(self, path: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.doc.where, path, message, fix))

    def section(self, path: str, value: Any, modelled: set[str], ignored: set[str],
                required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {type(value).__name__}", "write it as key: value pairs")
            return {}
        for key in value:
            if key in ignored:
                self.ignored.append(f"{path}.{key}")
            elif key not in modelled:
                known = ", ".join(sorted(modelled | ignored))
                self.problem(f"{path}.{key}", "unknown field", f"check the spelling; known fields: {known}")
        for key in sorted(required):
            if key not in value:
                self.problem(f"{path}.{key}", "required field is missing", f"add {key}")
        return value

    def typed(self, path: str, value: Any, kind: type, default: Any = None) -> Any:
        if value is None:
            return default
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            self.problem(path, f"expected {kind.__name__}, got {value!r}", f"write a {kind.__name__}")
            return default
        return value


Parser = Callable[[Document, FieldReader], Any]
_parsers: dict[tuple[str, str], Parser] = {}


def register(group: str, kind: str) -> Callable[[Parser], Parser]:
    def wrap(fn: Parser) -> Parser:
        _parsers[(group, kind)] = fn
        return fn
    return wrap


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def supported_kinds() -> list[str]:
    return sorted(f"{k} ({g or 'core'})" for g, k in _parsers)


@dataclass(frozen=True)
class Parsed:
    doc: Document
    obj: Any
    ignored: list[str]


def parse_objects(docs: list[Document]) -> list[Parsed]:
    """Typed objects for every document; one ValidationFailed listing every problem."""
    from orchestrator.calico import models  # noqa: F401  (registers Calico's kinds)

    if any(group_of(d.api_version) != models.GROUP for d in docs):
        from orchestrator import kinds  # noqa: F401  (registers every kind; loaded only when needed)

    problems: list[Problem] = []
    out: list[Parsed] = []
    for doc in docs:
        reader = FieldReader(doc)
        if not doc.kind or not doc.api_version:
            reader.problem("apiVersion/kind", "missing", "give the document an apiVersion and a kind")
        elif not doc.name:
            reader.problem("metadata.name", "missing", "name the object")
        else:
            parser = _parsers.get((group_of(doc.api_version), doc.kind))
            if parser is None:
                reader.problem("kind", f"{doc.kind} ({doc.api_version}) is not supported by gwlab",
                               "supported kinds: " + ", ".join(supported_kinds()))
            else:
                obj = parser(doc, reader)
                if not reader.problems:
                    out.append(Parsed(doc, obj, reader.ignored))
        problems += reader.problems
    if problems:
        raise ValidationFailed(problems)
    return out
