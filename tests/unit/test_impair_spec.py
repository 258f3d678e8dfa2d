"""Reading `netem set` values: containerlab's semantics, every problem reported at once."""

from __future__ import annotations

import pytest

from orchestrator.errors import ValidationFailed
from orchestrator.impair.spec import MAX_RATE_KBIT, NetemSpec, netem_spec, parse_duration, parse_percent, parse_rate


@pytest.mark.parametrize("text, us", [
    ("20", 20_000), (20, 20_000), (0.5, 500), ("1.5", 1_500), ("100ms", 100_000), ("1s", 1_000_000),
    ("500us", 500), ("500µs", 500), ("1m30s", 90_000_000), ("1.5s", 1_500_000), ("2000ns", 2), ("0", 0),
    ("+5ms", 5_000),
])
def test_durations(text: object, us: int) -> None:
    assert parse_duration(text) == us


@pytest.mark.parametrize("text, says", [
    ("-5ms", "negative"), (-1, "negative"), ("10 parsecs", "not a duration"), ("10parsecs", "unknown unit 'parsecs'"),
    ("", "not a duration"), ("ms", "not a duration"), ("5ms3", "not a duration"),
    ("500ns", "whole number of microseconds"),
    ("1h", "longer than netem can hold"), (True, "not a duration"), (None, "not a duration"), ("1e3", "not a duration"),
])
def test_bad_durations(text: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_duration(text)


def test_percentages_and_rates() -> None:
    assert parse_percent("12.5%") == 12.5 and parse_percent(0) == 0.0 and parse_percent("100") == 100.0
    assert parse_rate(1000) == 1000 and parse_rate("1000kbit") == 1000 and parse_rate("10mbit") == 10_000
    assert parse_rate("1gbit") == 1_000_000 and parse_rate(str(MAX_RATE_KBIT)) == MAX_RATE_KBIT
    for bad, says in (("100.1", "outside 0-100"), ("-1", "outside 0-100"), ("abc", "not a number"), ([1], "not a")):
        with pytest.raises(ValueError, match=says):
            parse_percent(bad)
    for bad, says in (("1.5", "whole number"), ("-10", "negative"), ("10mb", "unknown unit 'mb'"),
                      (MAX_RATE_KBIT + 1, "largest rate"), ("fast", "not a rate")):
        with pytest.raises(ValueError, match=says):
            parse_rate(bad)


def test_cli_values() -> None:
    spec = netem_spec(delay="100ms", jitter=5, loss=1, rate=1000, corruption="0.1%", duplicate=2)
    assert spec == NetemSpec(delay_us=100_000, jitter_us=5_000, loss_pct=1.0, rate_kbit=1000,
                             corruption_pct=0.1, duplicate_pct=2.0)
    assert spec.describe() == "delay 100ms jitter 5ms loss 1% corrupt 0.1% duplicate 2% rate 1000kbit"
    assert netem_spec().empty and netem_spec().describe() == "no impairment"
    assert netem_spec(loss=100, delay=0).loss_pct == 100.0


def test_every_problem_at_once() -> None:
    with pytest.raises(ValidationFailed) as err:
        netem_spec(delay="-5ms", jitter="3parsecs", loss=101, rate="1.5", corruption="x", duplicate=-1)
    fields = [p.field for p in err.value.problems]
    assert fields == ["--delay", "--jitter", "--loss", "--rate", "--corruption", "--duplicate"]
    assert all(p.fix and p.file == "command line" for p in err.value.problems)
    text = str(err.value)
    assert text.startswith("6 problem(s) found, nothing was changed:")
    assert "-5ms is negative" in text and "101 is outside 0-100%" in text and "unknown unit 'parsecs'" in text


def test_jitter_needs_delay() -> None:
    with pytest.raises(ValidationFailed) as err:
        netem_spec(jitter="5ms", loss=200)
    assert [(p.field, p.message) for p in err.value.problems] == [
        ("--loss", "200 is outside 0-100%"), ("--jitter", "jitter cannot be set without a delay")]
    assert "--delay" in err.value.problems[1].fix
    with pytest.raises(ValidationFailed):
        netem_spec(jitter="5ms", delay=0)
    # a delay that is given but wrong is one problem, not two
    with pytest.raises(ValidationFailed) as err:
        netem_spec(jitter="5ms", delay="soon")
    assert [p.field for p in err.value.problems] == ["--delay"]
