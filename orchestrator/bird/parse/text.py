"""What every birdc output parser shares: the greeting line dropped, the dialect told, key: value lines."""

from __future__ import annotations

import re

_GREETING = re.compile(r"^BIRD \S+ ready\.$")


def dialect(text: str) -> str | None:
    """`1` or `2` for text printed by BIRD 1.x or 2.x, None when nothing tells."""
    if re.search(r"^BIRD 1\.", text, re.M):
        return "1"
    if re.search(r"^BIRD [2-9]\.", text, re.M):
        return "2"
    if re.search(r"^(Name\s+Proto\s|Table \S+:$|\s+Channel \S+$)", text, re.M):
        return "2"
    if re.search(r"^name\s+proto\s", text, re.M) or re.search(r"\bunicast univ$", text, re.M):
        return "1"
    if re.search(r"^(Total: )?\d+ of \d+ routes for \d+ networks in ", text, re.M):
        return "2"
    if re.search(r"^\d+ of \d+ routes for \d+ networks$", text, re.M):
        return "1"
    if re.search(r"\[\S+ \d\d:\d\d:\d\d\.\d{3}", text):
        return "2"
    if re.search(r"\[\S+ \d\d:\d\d:\d\d[\] ]", text):
        return "1"
    return None


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if not _GREETING.match(ln)]


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def key_value(line: str) -> tuple[str, str] | None:
    key, sep, value = line.strip().partition(":")
    if not sep or not key or key[0].isdigit():
        return None
    return key.strip(), value.strip()

