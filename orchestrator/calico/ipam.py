"""Calico IPAM as the lab needs it: one block per node from the workload pools, LB addresses."""

from __future__ import annotations

from ipaddress import IPv4Network

from orchestrator.calico.models import IPPool
from orchestrator.errors import Problem, ValidationFailed


def workload_pools(pools: list[IPPool]) -> list[IPPool]:
    return sorted((p for p in pools if "Workload" in p.allowed_uses and not p.disabled
                   and p.assignment_mode == "Automatic"), key=lambda p: p.cidr)


def assign_blocks(nodes: list[str], pools: list[IPPool], where: str) -> dict[str, IPv4Network]:
    """Node i gets the i-th block of the workload pools: deterministic, so a lab reads the same each run."""
    usable = workload_pools(pools)
    if not usable:
        raise ValidationFailed([Problem(where, "IPPool", "no enabled workload pool with assignmentMode Automatic",
                                        "apply an IPPool with allowedUses [Workload] such as 10.50.0.0/24")])
    blocks: list[IPv4Network] = []
    for pool in usable:
        blocks += pool.cidr.subnets(new_prefix=pool.block_size)
        if len(blocks) >= len(nodes):
            break
    if len(blocks) < len(nodes):
        total = sum(2 ** (p.block_size - p.cidr.prefixlen) for p in usable)
        raise ValidationFailed([Problem(
            where, "IPPool spec.blockSize",
            f"{len(nodes)} nodes need {len(nodes)} blocks but the workload pools hold {total}",
            "use a larger pool cidr or a larger blockSize number (smaller blocks), or fewer nodes")])
    return dict(zip(nodes, blocks))
