"""A NetemSpec to and from the kernel's netem options, as pyroute2 encodes and decodes them.

netem's TCA_OPTIONS is a struct tc_netem_qopt (delay and jitter in 64 ns ticks, limit, loss,
gap, duplicate as fractions of 2^32-1) followed by nested attributes (correlations, reorder,
corruption, rate in bytes/s). A `set` sends every one of them, zeros included: the kernel keeps an
attribute that a change leaves out, and a `set` must leave nothing of an earlier impairment.
pyroute2's own netem parameters cannot carry a rate (its `rate` keyword becomes the qdisc's
TCA_RATE estimator instead, which the kernel refuses), so the options are built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from orchestrator.impair.spec import NS_PER_TICK, NetemSpec
from orchestrator.impair.tbf import TbfOptions, tbf_from_tca

U32_MAX: Final = 2**32 - 1
TC_H_ROOT: Final = 0xFFFFFFFF
# Packets netem may hold while they wait out their delay (containerlab's value; tc's default is 1000).
NETEM_LIMIT: Final = 10000


@dataclass(frozen=True)
class NetemOptions:
    """The netem options the kernel reports for one qdisc (raw kernel units)."""

    delay_ticks: int = 0
    jitter_ticks: int = 0
    limit: int = NETEM_LIMIT
    loss: int = 0
    gap: int = 0
    duplicate: int = 0
    corrupt: int = 0
    rate_bytes: int = 0
    delay_corr: int = 0
    loss_corr: int = 0
    dup_corr: int = 0
    reorder: int = 0
    corrupt_corr: int = 0
    rate_overhead: int = 0
    # attributes present that NetemSpec cannot express (loss models, slots, ECN, ...)
    unmodelled: tuple[str, ...] = ()


@dataclass(frozen=True)
class Qdisc:
    """One queueing discipline of an interface, as the kernel dumps it."""

    ifindex: int
    kind: str
    handle: int
    parent: int
    netem: NetemOptions | None = None
    tbf: TbfOptions | None = None

    @property
    def root(self) -> bool:
        return self.parent == TC_H_ROOT

    @property
    def default(self) -> bool:
        """The kernel's own qdisc (noqueue, pfifo_fast, mq ...), handle 0: nothing was set."""
        return self.handle == 0

    def describe(self) -> str:
        where = "root" if self.root else f"parent {handle_text(self.parent)}"
        return f"{self.kind} {handle_text(self.handle)} {where}"


def handle_text(handle: int) -> str:
    major, minor = handle >> 16, handle & 0xFFFF
    return f"{major:x}:" if not minor else f"{major:x}:{minor:x}"


def _u32_of_pct(pct: float) -> int:
    return min(U32_MAX, round(U32_MAX * pct / 100.0))


def _pct_of_u32(value: int) -> float:
    return round(value * 100.0 / U32_MAX, 4)


def _ticks_of_us(us: int) -> int:
    return min(U32_MAX, us * 1000 // NS_PER_TICK)


def _us_of_ticks(ticks: int) -> int:
    return round(ticks * NS_PER_TICK / 1000)


def options_for(spec: NetemSpec) -> NetemOptions:
    return NetemOptions(delay_ticks=_ticks_of_us(spec.delay_us), jitter_ticks=_ticks_of_us(spec.jitter_us),
                        loss=_u32_of_pct(spec.loss_pct), duplicate=_u32_of_pct(spec.duplicate_pct),
                        corrupt=_u32_of_pct(spec.corruption_pct), rate_bytes=spec.rate_kbit * 125)


def tca_options(opts: NetemOptions) -> dict[str, Any]:
    """pyroute2's TCA_OPTIONS value for netem, every nested attribute present."""
    return {
        "delay": opts.delay_ticks, "limit": opts.limit, "loss": opts.loss, "gap": opts.gap,
        "duplicate": opts.duplicate, "jitter": opts.jitter_ticks,
        "attrs": [
            ["TCA_NETEM_CORR", {"delay_corr": opts.delay_corr, "loss_corr": opts.loss_corr,
                                "dup_corr": opts.dup_corr}],
            ["TCA_NETEM_REORDER", {"prob_reorder": opts.reorder, "corr_reorder": 0}],
            ["TCA_NETEM_CORRUPT", {"prob_corrupt": opts.corrupt, "corr_corrupt": opts.corrupt_corr}],
            ["TCA_NETEM_RATE", {"rate": opts.rate_bytes, "packet_overhead": opts.rate_overhead,
                                "cell_size": 0, "cell_overhead": 0}],
        ],
    }


def _attr(nla: Any, name: str) -> Any:
    value = nla.get_attr(name) if hasattr(nla, "get_attr") else None
    if value is None and isinstance(nla, Mapping):
        for key, val in nla.get("attrs", []):
            if key == name:
                return val
    return value


# pyroute2 0.9 names netem's nested attributes up to TCA_NETEM_RATE (6); the kernel's later ones
# (ECN 7, RATE64 8, PAD 9, LATENCY64 10, JITTER64 11, SLOT 12, SLOT_DIST 13, PRNG_SEED 14) come
# back as UNKNOWN. LATENCY64/JITTER64 repeat the qopt's delay and jitter in ns, PRNG_SEED is
# always there: only ECN, RATE64, SLOT and the loss models change what the qdisc does.
def netem_from_tca(options: Any) -> NetemOptions:
    """NetemOptions from a decoded TCA_OPTIONS of a netem qdisc (a pyroute2 nla or its dict)."""

    def get(name: str) -> Any:
        return options.get(name, 0) if isinstance(options, Mapping) else options[name]

    def sub(name: str, key: str) -> int:
        value = _attr(options, name)
        if value is None:
            return 0
        return int(value.get(key, 0) if isinstance(value, Mapping) else value[key])

    unmodelled: list[str] = []
    attrs = options.get("attrs", []) if isinstance(options, Mapping) else options["attrs"]
    for key, value in attrs:
        if key == "TCA_NETEM_LOSS":
            unmodelled.append("a loss model (gemodel/state): its loss is not a plain percentage")
        elif key == "TCA_NETEM_DELAY_DIST":
            unmodelled.append("a delay distribution")
        elif key == "UNKNOWN":
            header = value.get("header", {}) if isinstance(value, Mapping) else value["header"]
            kind = {7: "ECN marking", 8: "a rate above 34 Gbit/s (RATE64)", 12: "slotting",
                    13: "a slot distribution"}.get(int(header.get("type", 0)))
            if kind:
                unmodelled.append(kind)
    reorder = sub("TCA_NETEM_REORDER", "prob_reorder")
    gap = int(get("gap"))
    if reorder or gap:
        unmodelled.append(f"reordering ({_pct_of_u32(reorder or U32_MAX):g}%, gap {gap})")
    corr = {k: sub("TCA_NETEM_CORR", k) for k in ("delay_corr", "loss_corr", "dup_corr")}
    if any(corr.values()):
        unmodelled.append("correlations (" + ", ".join(f"{k} {_pct_of_u32(v):g}%" for k, v in corr.items() if v)
                          + ")")
    corrupt_corr = sub("TCA_NETEM_CORRUPT", "corr_corrupt")
    if corrupt_corr:
        unmodelled.append(f"corruption correlation {_pct_of_u32(corrupt_corr):g}%")
    overhead = sub("TCA_NETEM_RATE", "packet_overhead")
    if overhead or sub("TCA_NETEM_RATE", "cell_size"):
        unmodelled.append("rate overheads or cells")
    return NetemOptions(delay_ticks=int(get("delay")), jitter_ticks=int(get("jitter")), limit=int(get("limit")),
                        loss=int(get("loss")), gap=gap, duplicate=int(get("duplicate")),
                        corrupt=sub("TCA_NETEM_CORRUPT", "prob_corrupt"), rate_bytes=sub("TCA_NETEM_RATE", "rate"),
                        delay_corr=corr["delay_corr"], loss_corr=corr["loss_corr"], dup_corr=corr["dup_corr"],
                        reorder=reorder, corrupt_corr=corrupt_corr, rate_overhead=overhead,
                        unmodelled=tuple(unmodelled))


def spec_of(opts: NetemOptions) -> NetemSpec:
    rate = opts.rate_bytes * 8 / 1000
    return NetemSpec(delay_us=_us_of_ticks(opts.delay_ticks), jitter_us=_us_of_ticks(opts.jitter_ticks),
                     loss_pct=_pct_of_u32(opts.loss), rate_kbit=round(rate),
                     corruption_pct=_pct_of_u32(opts.corrupt), duplicate_pct=_pct_of_u32(opts.duplicate))


def qdisc_from_msg(msg: Any) -> Qdisc:
    """A Qdisc from one message of pyroute2's qdisc dump (or the same as plain dicts)."""
    kind = str(_attr(msg, "TCA_KIND") or "")
    netem, tbf = None, None
    options = _attr(msg, "TCA_OPTIONS")
    if kind == "netem":
        netem = netem_from_tca(options) if options is not None else NetemOptions()
    elif kind == "tbf" and options is not None:
        tbf = tbf_from_tca(options)
    return Qdisc(ifindex=int(msg["index"]), kind=kind, handle=int(msg["handle"]), parent=int(msg["parent"]),
                 netem=netem, tbf=tbf)
