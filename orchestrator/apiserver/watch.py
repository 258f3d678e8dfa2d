"""Watches over HTTP: newline-delimited JSON events (chunked), optionally as one-row Tables, with
sendInitialEvents' closing bookmark and 410 Expired for a version older than the history kept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from orchestrator.apiserver import errors
from orchestrator.apiserver.conversion import from_storage
from orchestrator.apiserver.registry import Resource
from orchestrator.apiserver.store import Event, Store, TooOld
from orchestrator.apiserver.tables import table

if TYPE_CHECKING:
    from orchestrator.apiserver.messages import Response

Obj = dict[str, Any]
MAX_TIMEOUT = 1800.0
BOOKMARK_EVERY = 10.0  # seconds of quiet between bookmarks, for watches that allow them


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def serve(store: Store, key: str, r: Resource, namespace: str | None, query: dict[str, str], as_table: bool,
          keep: Callable[[Obj], bool]) -> Response:
    from orchestrator.apiserver.messages import Response

    rv_param = query.get("resourceVersion", "")
    initial_events = query.get("sendInitialEvents") == "true"
    try:
        from_rv = None if initial_events or rv_param in ("", "0") else int(rv_param)
    except ValueError:
        raise errors.bad_request(f'invalid resource version "{rv_param}"') from None
    try:
        timeout = min(float(query.get("timeoutSeconds") or MAX_TIMEOUT), MAX_TIMEOUT)
    except ValueError:
        raise errors.bad_request("timeoutSeconds must be a number") from None
    include = query.get("includeObject", "Metadata")
    bookmarks = query.get("allowWatchBookmarks") == "true" and not as_table
    ctype = "application/json;as=Table;v=v1;g=meta.k8s.io" if as_table else "application/json"

    def events() -> Iterator[bytes]:
        try:
            w = store.watch(key, from_rv, namespace)
        except TooOld as exc:
            yield _line("ERROR", errors.gone(str(exc)).status())
            return
        seen: set[tuple[str, str]] = set()
        first = True
        sent = 0
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + BOOKMARK_EVERY
        try:
            if initial_events and w.initial == 0:
                yield _bookmark(r, w.start_rv)
            while (remaining := deadline - time.monotonic()) > 0:
                ev = w.next(min(remaining, 1.0))
                if ev is None:
                    if bookmarks and time.monotonic() >= next_bookmark:
                        next_bookmark = time.monotonic() + BOOKMARK_EVERY
                        with store.lock:  # nothing queued: every event up to store.rv was sent
                            rv = store.rv if w.events.empty() else None
                        if rv is not None:
                            yield _bookmark(r, rv, initial_end=False)
                            continue
                    yield b""  # idle: lets the HTTP layer notice a client that hung up
                    continue
                sent += 1
                out = _filtered(Event(ev.type, ev.resource, ev.rv, from_storage(r, ev.object)), keep, seen)
                if out is not None:
                    obj = out.object
                    if as_table:
                        obj = table(r, [obj], obj["metadata"].get("resourceVersion", ""), include)
                        if not first:
                            obj["columnDefinitions"] = []
                        first = False
                    yield _line(out.type, obj)
                if initial_events and sent == w.initial:
                    yield _bookmark(r, w.start_rv)
        finally:
            w.close()

    return Response(200, b"", ctype, stream=events())


def _bookmark(r: Resource, rv: int, initial_end: bool = True) -> bytes:
    meta: Obj = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", {"kind": r.kind, "apiVersion": r.api_version, "metadata": meta})


def _filtered(ev: Event, keep: Callable[[Obj], bool], seen: set[tuple[str, str]]) -> Event | None:
    """What a filtered watch shows: an object leaving the selection is DELETED for it, entering ADDED."""
    meta = ev.object.get("metadata", {})
    k = (meta.get("namespace", ""), meta.get("name", ""))
    matches = keep(ev.object)
    if ev.type == "DELETED":
        seen.discard(k)
        return ev if matches else None
    if matches:
        kind = "ADDED" if ev.type == "ADDED" else "MODIFIED"
        seen.add(k)
        return Event(kind, ev.resource, ev.rv, ev.object)
    if k in seen:
        seen.discard(k)
        return Event("DELETED", ev.resource, ev.rv, ev.object)
    return None
