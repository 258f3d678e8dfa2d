"""What a link's impairment is (NetemSpec), and the reading of the values a user writes for it.

The values follow containerlab's `tools netem set`: delay and jitter are Go durations (`100ms`,
`1s`, `500us`, `1m30s`), loss and corruption percentages from 0 to 100, rate an integer in kbit/s,
and jitter is refused without a delay. Where gwlab is more lenient: a bare number of a duration is
milliseconds (`--delay 20`), percentages may carry a `%`, a rate may say `kbit`, `mbit` or `gbit`,
and there is a duplication percentage (tc's `duplicate`). Every problem is collected first, so a
user sees them all in one message, and nothing is changed when there is one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from orchestrator.errors import Problem, ValidationFailed

# The kernel keeps delay and jitter in netem's options as 32-bit counts of 64 ns ticks.
NS_PER_TICK: Final = 64
MAX_DELAY_US: Final = (2**32 - 1) * NS_PER_TICK // 1000
# netem's rate is a 32-bit count of bytes per second; kbit/s -> bytes/s is *125.
MAX_RATE_KBIT: Final = (2**32 - 1) // 125

OPTIONS: Final = ("delay", "jitter", "loss", "rate", "corruption", "duplicate")
CLI_NAMES: Final = {name: f"--{name}" for name in OPTIONS}

_DURATION_UNITS: Final = {"ns": 0.001, "us": 1.0, "µs": 1.0, "μs": 1.0, "ms": 1000.0,
                          "s": 1_000_000.0, "m": 60_000_000.0, "h": 3_600_000_000.0}
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)([^0-9.\s]+)")
_DURATION = re.compile(r"(?:[0-9]*\.?[0-9]+[^0-9.\s]+)+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
_RATE_UNITS: Final = {"": 1, "kbit": 1, "mbit": 1000, "gbit": 1_000_000}


@dataclass(frozen=True)
class NetemSpec:
    """One interface's impairment of its outgoing packets; zero means "not impaired that way"."""

    delay_us: int = 0
    jitter_us: int = 0
    loss_pct: float = 0.0
    rate_kbit: int = 0
    corruption_pct: float = 0.0
    duplicate_pct: float = 0.0

    @property
    def empty(self) -> bool:
        return self == NetemSpec()

    def describe(self) -> str:
        """tc's words: `delay 20ms jitter 5ms loss 1% rate 1000kbit corrupt 0.5% duplicate 2%`."""
        parts = []
        if self.delay_us:
            parts.append(f"delay {format_duration(self.delay_us)}")
        if self.jitter_us:
            parts.append(f"jitter {format_duration(self.jitter_us)}")
        for word, pct in (("loss", self.loss_pct), ("corrupt", self.corruption_pct),
                          ("duplicate", self.duplicate_pct)):
            if pct:
                parts.append(f"{word} {pct:g}%")
        if self.rate_kbit:
            parts.append(f"rate {self.rate_kbit}kbit")
        return " ".join(parts) or "no impairment"


def format_duration(us: int) -> str:
    if us % 1_000_000 == 0:
        return f"{us // 1_000_000}s"
    if us % 1000 == 0:
        return f"{us // 1000}ms"
    return f"{us}us"


def parse_duration(value: object) -> int:
    """A duration in whole microseconds; raises ValueError with what is wrong and how to write it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a duration")
    text = str(value).strip()
    if text.startswith("-"):
        raise ValueError(f"{text} is negative")
    text = text.lstrip("+")
    if _NUMBER.fullmatch(text):
        total = float(text) * 1000.0  # a bare number is milliseconds
    elif _DURATION.fullmatch(text):
        total = 0.0
        for m in _DURATION_PART.finditer(text):
            if m.group(2) not in _DURATION_UNITS:
                raise ValueError(f"{text!r} has an unknown unit {m.group(2)!r} (units: ns, us, ms, s, m, h)")
            total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    else:
        raise ValueError(f"{text!r} is not a duration")
    if not math.isfinite(total):
        raise ValueError(f"{text!r} is not a finite duration")
    us = round(total)
    if abs(total - us) > 1e-6:
        raise ValueError(f"{text} is not a whole number of microseconds (tc's resolution)")
    if us > MAX_DELAY_US:
        raise ValueError(f"{text} is longer than netem can hold (about {MAX_DELAY_US // 1_000_000}s)")
    return us


def parse_percent(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a percentage")
    text = str(value).strip().removesuffix("%").strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{value!r} is not a number")
    pct = float(text)
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"{value} is outside 0-100%")
    return pct


def parse_rate(value: object) -> int:
    """A rate in kbit/s (containerlab's unit); `mbit` and `gbit` are accepted too."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a rate")
    text = str(value).strip().lower()
    m = re.fullmatch(r"([+-]?[0-9]*\.?[0-9]+)\s*([a-z]*)", text)
    if not m:
        raise ValueError(f"{value!r} is not a rate")
    if m.group(2) not in _RATE_UNITS:
        raise ValueError(f"{value!r} has an unknown unit {m.group(2)!r}")
    kbit = float(m.group(1)) * _RATE_UNITS[m.group(2)]
    if kbit < 0:
        raise ValueError(f"{value} is negative")
    if kbit != int(kbit):
        raise ValueError(f"{value} is not a whole number of kbit/s")
    if kbit > MAX_RATE_KBIT:
        raise ValueError(f"{value} is above netem's largest rate ({MAX_RATE_KBIT} kbit/s)")
    return int(kbit)


_FIXES: Final = {
    "delay": "write a duration such as 20 (milliseconds), 100ms, 1s or 500us",
    "jitter": "write a duration such as 5ms, no larger than you mean the spread of the delay to be",
    "loss": "write a percentage from 0 to 100, e.g. 1 or 0.5",
    "corruption": "write a percentage from 0 to 100, e.g. 0.1",
    "duplicate": "write a percentage from 0 to 100, e.g. 1",
    "rate": "write a whole number of kbit/s, e.g. 1000 (or 10mbit)",
}
_PARSERS: Final = {"delay": parse_duration, "jitter": parse_duration, "loss": parse_percent,
                   "corruption": parse_percent, "duplicate": parse_percent, "rate": parse_rate}


def check_values(values: Mapping[str, object], file: str, names: Mapping[str, str]
                 ) -> tuple[NetemSpec | None, list[Problem]]:
    """Read the given options (None = not given) into a NetemSpec, with every problem found.

    `names` maps an option to what the user wrote it as (`--loss`, or a YAML path), so each
    problem names the field the user has to fix."""
    problems: list[Problem] = []
    parsed: dict[str, int | float] = {}
    bad: set[str] = set()
    for option, raw in values.items():
        field = names.get(option, option)
        if option not in _PARSERS:
            problems.append(Problem(file, field, f"unknown impairment {option!r}",
                                    f"use one of {', '.join(OPTIONS)}"))
            continue
        if raw is None:
            continue
        try:
            parsed[option] = _PARSERS[option](raw)
        except ValueError as exc:
            bad.add(option)
            problems.append(Problem(file, field, str(exc), _FIXES[option]))
    if parsed.get("jitter") and not parsed.get("delay") and "delay" not in bad:
        problems.append(Problem(file, names.get("jitter", "jitter"), "jitter cannot be set without a delay",
                                f"also give {names.get('delay', 'delay')}, e.g. 20ms, or drop the jitter"))
    if problems:
        return None, problems
    return NetemSpec(delay_us=int(parsed.get("delay", 0)), jitter_us=int(parsed.get("jitter", 0)),
                     loss_pct=float(parsed.get("loss", 0.0)), rate_kbit=int(parsed.get("rate", 0)),
                     corruption_pct=float(parsed.get("corruption", 0.0)),
                     duplicate_pct=float(parsed.get("duplicate", 0.0))), []


def netem_spec(*, delay: object = None, jitter: object = None, loss: object = None, rate: object = None,
               corruption: object = None, duplicate: object = None, source: str = "command line"
               ) -> NetemSpec:
    """The CLI's `netem set` options as a NetemSpec; raises ValidationFailed naming every problem."""
    spec, problems = check_values({"delay": delay, "jitter": jitter, "loss": loss, "rate": rate,
                                   "corruption": corruption, "duplicate": duplicate}, source, CLI_NAMES)
    if problems or spec is None:
        raise ValidationFailed(problems)
    return spec
