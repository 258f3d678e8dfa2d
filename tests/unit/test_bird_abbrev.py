"""birdc's abbreviations, expanded before a command reaches the control socket."""

import pytest

from orchestrator.bird.abbrev import expand


@pytest.mark.parametrize("typed, sent", [
    ("sh pro", "show protocols"),
    ("sh pro al worker1", "show protocols all worker1"),
    ("sh ro", "show route"),
    ("sh ro filtered al", "show route filtered all"),
    ("sh ro filter", "show route filter"),  # a whole keyword wins over the longer one
    ("sh ro for 10.10.10.0/26 al", "show route for 10.10.10.0/26 all"),
    ("sh ro pro worker1", "show route protocol worker1"),
    ("sh ro ex kernel1", "show route export kernel1"),
    ("sh int su", "show interfaces summary"),
    ("conf ti 30", "configure timeout 30"),
    ("conf conf", "configure confirm"),
    ("show route protocol f", "show route protocol f"),  # a value, not an option
    ("sh ro f", "show route f"),  # ambiguous: filter, filtered, for: left for BIRD to refuse
    ("re in", "re in"),  # restart, reload, restrict: ambiguous
])
def test_expand(typed: str, sent: str) -> None:
    assert expand(typed) == sent
