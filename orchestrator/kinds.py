"""Every kind gwlab understands: importing this registers their parsers."""

from orchestrator.calico import models as _calico  # noqa: F401
from orchestrator.k8s import core as _core  # noqa: F401
