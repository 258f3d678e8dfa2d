"""Every check of a lab: BGP's (orchestrator.checks) and, once the demo's Gateway is applied, the
workshop's passthrough checks (orchestrator.demo). `up`, `gwlab verify` and the tests run these."""

from __future__ import annotations

from orchestrator import checks, demo
from orchestrator.lab import Lab


def all_checks(lab: Lab) -> list[checks.Check]:
    return lab.bgp_checks() + (demo.passthrough_checks(lab) if demo.demo_applied(lab) else [])


def verify(lab: Lab, wait: float = 0.0) -> list[checks.Result]:
    from orchestrator.faults import daemons  # dead or stopped daemons named, checks a fault makes moot marked

    return daemons.annotate(lab, checks.run(lab.engine, all_checks(lab), wait))
