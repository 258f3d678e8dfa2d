"""The lab's control plane: one process per lab (`python -m orchestrator.controlplane --lab NAME`),
inside the control-plane node's namespace. It serves the lab's Kubernetes API (orchestrator.apiserver)
with the lab's strict kind models as admission, and runs the lab's controllers whenever the stored
objects change, writing back what they derive (pods, statuses, endpoints, events)."""
