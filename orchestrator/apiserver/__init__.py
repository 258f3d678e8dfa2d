"""A per-lab Kubernetes API server that real kubectl talks to (issue 10)."""
