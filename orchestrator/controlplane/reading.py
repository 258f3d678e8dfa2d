"""The store's modelled objects read as the lab's Documents, each read, cleaned, parsed and printed
once per resourceVersion: with 10,000 Services, copying every object, parsing it twice (once to
clean it, once for the cluster plan) and printing every body into the pass's fingerprint was a sixth
of a pass, and a pass changes few of them."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from orchestrator.apiserver.conversion import from_storage
from orchestrator.apiserver.crud import Objects, key_of
from orchestrator.controlplane import objects as stored
from orchestrator.controlplane.admission import parse
from orchestrator.errors import ValidationFailed
from orchestrator.k8s import kinds
from orchestrator.manifests import Document


@dataclass(frozen=True)
class _Read:
    rv: str
    doc: Document | None  # None: the controllers' own object, not an input
    text: str  # the document's body as the fingerprint prints it
    parsed: kinds.Parsed | None  # None: it has problems (the plan's parse reports them)


class Reading:
    def __init__(self) -> None:
        self._held: dict[tuple[str, str, str], _Read] = {}

    def documents(self, objects: Objects) -> tuple[list[Document], str]:
        """Every modelled object as a Document (in the API's list order) and a fingerprint of their
        bodies; call with the store's lock held, so both are of one version of the store."""
        docs, texts, seen = [], [], set()
        for r in stored.modelled():
            res = key_of(r)
            for (ns, name), obj in sorted(objects.store.objects[res].items()):
                key = (res, ns, name)
                seen.add(key)
                rv = str(obj["metadata"]["resourceVersion"])
                held = self._held.get(key)
                if held is None or held.rv != rv:
                    held = self._read(r, rv, from_storage(r, copy.deepcopy(obj)))
                    self._held[key] = held
                if held.doc is not None:
                    docs.append(held.doc)
                    texts.append(held.text)
        for gone in set(self._held) - seen:
            del self._held[gone]
        return docs, "\n".join(texts)

    @staticmethod
    def _read(r: object, rv: str, obj: dict[str, object]) -> _Read:
        if stored.controllers_own(obj):
            return _Read(rv, None, "", None)
        doc = stored.document(r, obj)  # type: ignore[arg-type]
        try:
            parsed: kinds.Parsed | None = parse(doc)[0]
        except ValidationFailed:
            parsed = None
        return _Read(rv, doc, json.dumps(doc.body, sort_keys=True), parsed)

    def parse_objects(self, docs: list[Document]) -> list[kinds.Parsed]:
        """kinds.parse_objects, each document read here parsed once: the same typed objects, or one
        ValidationFailed listing every problem."""
        by_doc = {id(h.doc): h.parsed for h in self._held.values() if h.doc is not None and h.parsed is not None}
        out: list[kinds.Parsed] = []
        problems = []
        for doc in docs:
            held = by_doc.get(id(doc))
            if held is not None and held.doc is doc:
                out.append(held)
                continue
            try:
                out += kinds.parse_objects([doc])
            except ValidationFailed as failed:
                problems += failed.problems
        if problems:
            raise ValidationFailed(problems)
        return out
