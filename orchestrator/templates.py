"""The project's jinja2 templates (bird/), rendered strictly: a missing value is an error."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from orchestrator import PROJECT_ROOT


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROJECT_ROOT / "bird")),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False)


def render(name: str, **values: Any) -> str:
    return _env().get_template(name).render(**values)
