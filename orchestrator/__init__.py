"""gwlab: the Calico Ingress Gateway TLS passthrough workshop as a network lab."""

from pathlib import Path

__version__ = "0.1.0"

# The project checkout: topology.clab.yml, bird/ and lab/ live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
