"""Loss as an nftables rule (the stand-in for netem's loss on a kernel without netem), inside a lab namespace.

The lab owns one table in the namespace, `netdev gwlab_impair`, with one chain per impaired interface,
`egress-<interface>`, on the interface's egress hook (CONFIG_NETFILTER_EGRESS): every packet the
interface sends passes it before the qdisc, as every packet reaches netem's enqueue, ARP included.
Its one rule drops a packet when `numgen random mod 1000000` is at most the loss in millionths less
one (nft refuses a constant equal to the modulus, so 100% is `<= 999999`; netem's resolution is finer,
2^-32, and a loss below one in a million is rounded up to it, which `show` then reports), and counts
what it dropped. A set is one nft transaction (the chain made if missing, flushed, its rule added), so
the kernel applies all of it or none of it.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any, Final

from orchestrator.engines.netns import namespaces as netns
from orchestrator.engines.netns.procs import NSENTER
from orchestrator.errors import LabError
from orchestrator.impair.access import check_lab_namespace

FAMILY: Final = "netdev"
TABLE: Final = "gwlab_impair"
CHAIN_PREFIX: Final = "egress-"
MODULUS: Final = 1_000_000
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class LossRule:
    interface: str
    loss_pct: float | None  # None: the chain holds something gwlab did not write
    dropped: int  # packets the rule's counter dropped

    def describe(self) -> str:
        if self.loss_pct is None:
            return f"nftables {FAMILY} {TABLE} {CHAIN_PREFIX}{self.interface}: rules gwlab did not write"
        return f"nftables {FAMILY} {TABLE} {CHAIN_PREFIX}{self.interface}, {self.dropped} packets dropped"


def chain_of(interface: str) -> str:
    if not _NAME.fullmatch(interface):
        raise LabError(f"interface name {interface!r} cannot name an nftables chain")
    return CHAIN_PREFIX + interface


def threshold(loss_pct: float) -> int:
    """Packets in a million the rule drops (at least one for any loss)."""
    return max(1, min(MODULUS, round(loss_pct * MODULUS / 100)))


def set_script(interface: str, loss_pct: float) -> str:
    """The one transaction that makes `loss_pct` the interface's whole loss rule."""
    chain = chain_of(interface)
    where = f"{FAMILY} {TABLE} {chain}"
    return (f"add table {FAMILY} {TABLE}\n"
            f"add chain {where} {{ type filter hook egress device \"{interface}\" priority 0; policy accept; }}\n"
            f"flush chain {where}\n"
            f"add rule {where} numgen random mod {MODULUS} <= {threshold(loss_pct) - 1} counter drop "
            f"comment \"gwlab netem loss {loss_pct:g}%\"\n")


def remove_script(interface: str, chains: set[str]) -> str:
    """Delete the interface's chain, and the table with its last chain (only what exists: nft 1.0.6
    has no `destroy`)."""
    chain = chain_of(interface)
    if chain not in chains:
        return ""
    if chains == {chain}:
        return f"delete table {FAMILY} {TABLE}\n"
    return f"delete chain {FAMILY} {TABLE} {chain}\n"


def parse(listing: str) -> dict[str, LossRule]:
    """interface -> its loss rule, from `nft -j list table netdev gwlab_impair`."""
    chains: dict[str, list[dict[str, Any]]] = {}
    for item in json.loads(listing).get("nftables", []):
        if "chain" in item and item["chain"].get("table") == TABLE:
            chains.setdefault(str(item["chain"]["name"]), [])
        elif "rule" in item and item["rule"].get("table") == TABLE:
            chains.setdefault(str(item["rule"]["chain"]), []).append(item["rule"])
    found = {}
    for chain, rules in chains.items():
        if not chain.startswith(CHAIN_PREFIX):
            continue
        interface = chain.removeprefix(CHAIN_PREFIX)
        found[interface] = _rule_of(interface, rules)
    return found


def _rule_of(interface: str, rules: list[dict[str, Any]]) -> LossRule:
    if len(rules) != 1:
        return LossRule(interface, None if rules else 0.0, 0)
    expr = rules[0].get("expr", [])
    try:
        match, counter, verdict = expr
        left = match["match"]["left"]["numgen"]
        if (match["match"]["op"] != "<=" or left["mode"] != "random" or int(left["mod"]) != MODULUS
                or int(left.get("offset", 0)) != 0 or "drop" not in verdict):
            raise ValueError
        return LossRule(interface, round((int(match["match"]["right"]) + 1) * 100 / MODULUS, 4),
                        int(counter["counter"]["packets"]))
    except (ValueError, KeyError, TypeError):
        return LossRule(interface, None, 0)


def _nft(ns: str, args: list[str], script: str | None = None) -> subprocess.CompletedProcess[str]:
    check_lab_namespace(ns)
    return subprocess.run([NSENTER, f"--net={netns.path_of(ns)}", "nft", *args], input=script,
                          capture_output=True, text=True, timeout=10, check=False)


def read(ns: str) -> dict[str, LossRule]:
    """The loss rules in the namespace's table; none when the table is not there."""
    out = _nft(ns, ["-j", "list", "table", FAMILY, TABLE])
    if out.returncode != 0:
        if "No such file or directory" in out.stderr:
            return {}
        raise LabError(f"nft could not list table {FAMILY} {TABLE} in {ns}: {out.stderr.strip()}")
    return parse(out.stdout)


def _apply(ns: str, script: str, what: str) -> None:
    out = _nft(ns, ["-f", "-"], script)
    if out.returncode != 0:
        raise LabError(f"nftables refused {what} in {ns}: {out.stderr.strip()}; nothing was changed")


def set_loss(ns: str, interface: str, loss_pct: float) -> None:
    """Make `loss_pct` the interface's loss (0 removes its rule)."""
    if loss_pct:
        _apply(ns, set_script(interface, loss_pct), f"the loss rule ({loss_pct:g}%) on {interface}")
    else:
        remove(ns, interface)


def remove(ns: str, interface: str) -> bool:
    """Remove the interface's chain (and the table with its last chain); False when there was none."""
    script = remove_script(interface, {CHAIN_PREFIX + i for i in read(ns)})
    if script:
        _apply(ns, script, f"the removal of {interface}'s loss rule")
    return bool(script)
