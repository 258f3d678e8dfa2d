"""What the API server's request handlers pass each other: a request, a response, the object a
request is for, and what the subresource handlers need of the API (`Answering`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.registry import Resource

Obj = dict[str, Any]
LogSource = Callable[[Obj, str], "Path | None"]
LOG_ANNOTATION = "gwlab.io/log-file"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    code: int
    body: Obj | bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None


@dataclass(frozen=True)
class Target:
    resource: Resource
    namespace: str
    name: str
    subresource: str


class Answering(Protocol):
    """The API as its subresource handlers use it."""

    objects: Objects
    log_source: LogSource | None

    def answer(self, code: int, obj: Obj, warnings: list[str], req: Request, r: Resource) -> Response: ...

    def patched(self, req: Request, t: Target, current: Obj | None = None, r: Resource | None = None) -> Any: ...
