"""The one strict field reader every model uses: it reads a document's nested fields, records a
Problem for each wrong one instead of stopping (so every problem is reported at once), notes the
fields accepted but not modelled, and hints at the field an unknown name was probably meant to be.

Two styles share it: `section`/`typed` for the models that accept and report ignored fields
(Calico's, the core kinds'), `mapping`/`string`/`integer`/`items` for the Gateway API's schema
(formats, lengths and ranges as the CRDs' OpenAPI schema gives them).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from typing import Any

from orchestrator.errors import Problem
from orchestrator.manifests import Document


def close_match(word: str, known: Collection[str]) -> str | None:
    """The known name `word` was most likely meant to be, if one is close enough."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return close[0] if close else None


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class FieldReader:
    """Reads one document's fields (named by `source`: a Document or a file name)."""

    def __init__(self, source: Document | str) -> None:
        self.where = source if isinstance(source, str) else source.where
        self.problems: list[Problem] = []
        self.ignored: list[str] = []

    def problem(self, path: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(self.where, path, message, fix))

    # ---- fields accepted, modelled or ignored --------------------------------------------------

    def section(self, path: str, value: Any, modelled: set[str], ignored: set[str],
                required: Collection[str] = frozenset()) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {type(value).__name__}", "write it as key: value pairs")
            return {}
        for key in value:
            if key in ignored:
                self.ignored.append(f"{path}.{key}")
            elif key not in modelled:
                known = modelled | ignored
                close = close_match(str(key), known)
                hint = f"did you mean {close!r}? " if close else ""
                self.problem(f"{path}.{key}", "unknown field",
                             f"check the spelling; {hint}known fields: {', '.join(sorted(known))}")
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

    # ---- a schema's fields -----------------------------------------------------------------------

    def mapping(
        self, value: Any, path: str, fields: Collection[str], required: Collection[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, got {type_name(value)}", "write it as key: value lines")
            return None
        for key in value:
            if key not in fields:
                close = close_match(str(key), fields)
                hint = f"did you mean {close!r}?" if close else "known fields: " + ", ".join(sorted(fields))
                self.problem(join(path, str(key)), "unknown field", f"remove it or fix its name; {hint}")
        for key in required:
            if value.get(key) is None:
                self.problem(join(path, key), "required field is missing", f"set {key}")
        return value

    def string(
        self,
        m: dict[str, Any],
        key: str,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        max_len: int | None = None,
        min_len: int = 0,
        enum: Collection[str] | None = None,
        what: str = "",
    ) -> str | None:
        value = m.get(key)
        where = join(path, key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(where, f"must be a string, got {type_name(value)}", f"quote it: {key}: \"{value}\"")
            return None
        if enum is not None and value not in enum:
            self.problem(where, f"unsupported value {value!r}", "use one of: " + ", ".join(enum))
            return None
        if len(value) < min_len:
            self.problem(where, "must not be empty", f"set {key} or remove it")
            return None
        if max_len is not None and len(value) > max_len:
            self.problem(where, f"is {len(value)} characters long, the maximum is {max_len}", "shorten it")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(where, f"{value!r} is not a valid {what or key}", f"it must match {pattern.pattern}")
            return None
        return value

    def integer(self, m: dict[str, Any], key: str, path: str, *, minimum: int, maximum: int) -> int | None:
        value = m.get(key)
        where = join(path, key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(where, f"must be an integer, got {type_name(value)}", f"write {key} without quotes")
            return None
        if not minimum <= value <= maximum:
            self.problem(where, f"{value} is out of range", f"use a value from {minimum} to {maximum}")
            return None
        return value

    def items(
        self, m: dict[str, Any], key: str, path: str, *, min_items: int = 0, max_items: int | None = None
    ) -> list[Any]:
        value = m.get(key)
        where = join(path, key)
        if value is None:  # requiredness is the mapping's business; minItems applies when present
            return []
        if not isinstance(value, list):
            self.problem(where, f"must be a list, got {type_name(value)}", "write it as a '- ' list")
            return []
        if len(value) < min_items:
            self.problem(where, f"needs at least {min_items} item(s)", f"add to {key}")
        if max_items is not None and len(value) > max_items:
            self.problem(where, f"has {len(value)} items, the maximum is {max_items}", "remove some")
        return value

    def string_map(self, m: dict[str, Any], key: str, path: str) -> dict[str, str]:
        value = m.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(join(path, key), f"must be a mapping, got {type_name(value)}")
            return {}
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(v, str):
                self.problem(join(join(path, key), str(k)), f"must be a string, got {type_name(v)}",
                             f'quote the value: "{v}"')
            else:
                out[str(k)] = v
        return out
