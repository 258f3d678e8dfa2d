"""Phases add up to the whole, and what another process timed while this one waited moves out of
the phase that waited into its own names."""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator import timing
from orchestrator.timing import Clock, recording


def test_absorbed_phases_are_taken_out_of_the_waiting_phase() -> None:
    clock = Clock()
    with recording(clock):
        with timing.phase("demo"):
            time.sleep(0.05)
            timing.absorb({"Envoy start": 0.02, "Envoy ready": 0.01}, "control plane: ")
    assert clock.phases["control plane: Envoy start"] == 0.02
    assert clock.phases["control plane: Envoy ready"] == 0.01
    assert 0.05 - 0.03 <= clock.phases["demo"] < 0.05
    whole = sum(clock.phases.values())
    assert whole >= 0.05


def test_an_absorbed_phase_never_makes_its_parent_negative() -> None:
    clock = Clock()
    with recording(clock), timing.phase("short wait"):
        timing.absorb({"reported": 10.0}, "")
    assert clock.phases["short wait"] == 0.0


def test_absorb_without_a_recording_clock_does_nothing() -> None:
    timing.absorb({"x": 1.0}, "")  # no clock: nothing to charge, no error


def test_a_writers_share_of_the_control_planes_phases(tmp_path: Path) -> None:
    """The marker holds every pass's phases summed: what a write caused is the difference between
    the marker read before it and the one its wait returned, so a pass repeated for an unchanged
    store (its old report copied) or passes the marker no longer shows are counted once."""
    from dataclasses import asdict
    import json

    from orchestrator.controlplane.marker import Marker

    path = tmp_path / "controllers.json"
    before = Marker(3, phases={"Envoy start": 0.2, "Envoy ready": 0.1})
    path.write_text(json.dumps(asdict(before)))
    assert Marker.read(path) == before
    after = Marker(5, phases={"Envoy start": 0.2, "Envoy ready": 0.25, "Envoy xDS update": 0.05})
    assert after.phases_since(Marker.read(path)) == {"Envoy ready": 0.25 - 0.1, "Envoy xDS update": 0.05}
    assert after.phases_since(after) == {}
    path.write_text('{"rv": 1, "phases": "not a mapping"}')
    assert Marker.read(path) == Marker()
