"""Label selectors (=, ==, !=, in, notin, exists, !) and field selectors, as list and watch take them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from orchestrator.apiserver.errors import ApiError, bad_request

Obj = dict[str, Any]


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # =, !=, in, notin, exists, !
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_SET = re.compile(r"^([A-Za-z0-9._/-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_EQ = re.compile(r"^([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$")
_KEY = re.compile(r"^(!?)\s*([A-Za-z0-9._/-]+)$")


def parse_labels(text: str) -> list[Requirement]:
    reqs = []
    for part in _split_top(text):
        if m := _SET.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), m.group(2), values))
        elif m := _EQ.match(part):
            reqs.append(Requirement(m.group(1), "!=" if m.group(2) == "!=" else "=", (m.group(3),)))
        elif m := _KEY.match(part):
            reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: {part!r}")
    return reqs


def _field_value(obj: Obj, path: str) -> str | None:
    cur: Any = obj
    for p in path.split("."):
        cur = cur.get(p) if isinstance(cur, dict) else None
    if cur is None:
        return "" if path in ("spec.nodeName", "metadata.namespace") else None
    return str(cur).lower() if isinstance(cur, bool) else str(cur)


FIELDS = {"metadata.name", "metadata.namespace"}
KIND_FIELDS = {"Pod": {"spec.nodeName", "status.phase", "status.podIP", "spec.restartPolicy",
                       "spec.schedulerName", "spec.serviceAccountName", "status.nominatedNodeName"},
               "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
               "Secret": {"type"}, "Namespace": {"status.phase"}, "Node": {"spec.unschedulable"},
               "ReplicaSet": {"status.replicas"}}


def parse_fields(text: str, kind: str, plural: str) -> Callable[[Obj], bool]:
    tests: list[tuple[str, bool, str]] = []
    for part in _split_top(text):
        m = re.match(r"^([A-Za-z0-9._]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        key = m.group(1)
        if key not in FIELDS and key not in KIND_FIELDS.get(kind, set()):
            raise ApiError(400, "BadRequest", f'field label not supported: {key}')
        tests.append((key, m.group(2) != "!=", m.group(3)))

    def match(obj: Obj) -> bool:
        for key, equal, value in tests:
            actual = _field_value(obj, key)
            if (actual == value) != equal:
                return False
        return True
    return match


def label_matcher(text: str) -> Callable[[Obj], bool]:
    reqs = parse_labels(text)

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)
    return match
