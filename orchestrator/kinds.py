"""Every kind gwlab understands: importing this registers their parsers."""

from orchestrator.calico import models as _calico  # noqa: F401

