"""Calico's part of the lab: IPAM blocks and the BIRD speakers calico-node would run."""
