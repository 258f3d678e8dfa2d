"""What the controllers' writeback last wrote, per object: a fingerprint of the body it wanted and
the resourceVersion the store held once it was written. A later pass that wants the same body of an
object still at that version skips it without reading, copying or comparing it (with 10,000
Services, reading and comparing every status, Endpoints and EndpointSlice was a quarter of a pass).
An object someone else changed (a new resourceVersion) or deleted since is read, compared and
written as before."""

from __future__ import annotations

import json
import weakref
from typing import Any

from orchestrator.apiserver.store import Store

# (the store's resource key, namespace ("" when not namespaced), name, which part: "" or "status")
Key = tuple[str, str, str, str]

_memo: weakref.WeakKeyDictionary[Store, dict[Key, tuple[str, str]]] = weakref.WeakKeyDictionary()


def fingerprint(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def unchanged(store: Store, key: Key, fp: str) -> bool:
    """The last write of this object wanted the same body, and nobody wrote the object since."""
    held = _memo.get(store, {}).get(key)
    return held is not None and held[0] == fp and store.version(key[0], key[1], key[2]) == held[1]


def note(store: Store, key: Key, fp: str, obj: dict[str, Any]) -> None:
    """obj, as the write (or the read that found nothing to write) returned it, holds what fp wanted
    (its own resourceVersion, not the store's now: another writer may have come in between)."""
    _memo.setdefault(store, {})[key] = (fp, str(obj["metadata"]["resourceVersion"]))
