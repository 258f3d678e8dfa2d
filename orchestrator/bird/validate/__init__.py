"""Validation of a bird.conf before it reaches a router: readable, a BIRD config, parsed by the real
BIRD of the router's dialect, and (the route-policy test) run in a scratch BIRD fed the routes the
lab's nodes advertise now, to tell per prefix what the change accepts and filters.

Errors (the file cannot be pushed): unreadable, not text, empty, not a BIRD config, BIRD's parse
error (with the dialect the file is written in when it is the other one), a route-policy test that
cannot run. Warnings (pushed only with --force): leaks (a prefix outside the lab's declared ranges
accepted) and losses (a route accepted now that would be filtered, a session that would not come
up). The diff against the running config is information.
The package's names are its modules' (report, reading, parse_check, run), gathered here for its users.
"""

from orchestrator.bird.validate.parse_check import parse_check, unified_diff
from orchestrator.bird.validate.reading import RoutesSpec, content_problems, read_candidate, read_routes
from orchestrator.bird.validate.report import (
    DIALECT_NAMES,
    EXIT_ERRORS,
    EXIT_OK,
    EXIT_WARNINGS,
    Diagnostic,
    PolicyReport,
    RouteRow,
    Target,
    ValidationReport,
)
from orchestrator.bird.validate.run import validate

__all__ = ["DIALECT_NAMES", "EXIT_ERRORS", "EXIT_OK", "EXIT_WARNINGS", "Diagnostic", "PolicyReport", "RouteRow",
           "RoutesSpec", "Target", "ValidationReport", "content_problems", "parse_check", "read_candidate",
           "read_routes", "unified_diff", "validate"]
