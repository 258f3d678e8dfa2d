"""birdc's abbreviations (`sh pro`, `sh ro al`): the control socket wants full keywords, so the
client expands each word that is the unique prefix of a keyword allowed where it stands."""

from __future__ import annotations

COMMANDS = ("show", "configure", "enable", "disable", "restart", "reload", "debug", "dump", "eval", "echo",
            "down", "mrtdump", "restrict")
SUBCOMMANDS = {
    "show": ("status", "interfaces", "protocols", "route", "symbols", "memory", "static", "ospf", "rip",
             "bfd", "babel", "rpki"),
    "configure": ("soft", "timeout", "confirm", "undo", "check"),
    "reload": ("in", "out"),
}
OPTIONS = {
    ("show", "route"): ("all", "for", "table", "filter", "where", "filtered", "export", "preexport",
                        "noexport", "protocol", "count", "stats", "primary"),
    ("show", "protocols"): ("all",),
    ("show", "interfaces"): ("summary",),
}
# Options whose next word is a value (a prefix, a table, a protocol name), never a keyword.
TAKES_VALUE = {"for", "table", "filter", "where", "export", "preexport", "noexport", "protocol"}


def _expand(word: str, choices: tuple[str, ...]) -> str:
    if word in choices:
        return word
    matches = [c for c in choices if c.startswith(word)]
    return matches[0] if len(matches) == 1 else word


def expand(command: str) -> str:
    words = command.split()
    if not words:
        return command
    words[0] = _expand(words[0], COMMANDS)
    if len(words) > 1 and words[0] in SUBCOMMANDS:
        words[1] = _expand(words[1], SUBCOMMANDS[words[0]])
    options = OPTIONS.get((words[0], words[1]) if len(words) > 1 else ("", ""), ())
    literal = False
    for i in range(2, len(words)):
        if literal:
            literal = False
            continue
        words[i] = _expand(words[i], options) if options else words[i]
        literal = words[i] in TAKES_VALUE
    return " ".join(words)
