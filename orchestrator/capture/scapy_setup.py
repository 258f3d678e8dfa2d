"""Importing scapy the way the decoders need it: quiet, in the root of nothing, 4-octet AS paths.

scapy is imported on first use only (about 0.7 s); `conf.sniff_promisc` is off since scapy never
sniffs here (tcpdump does), and the BGP module's global AS size is set per message by the decoder.
"""

from __future__ import annotations

import logging
from functools import cache
from types import ModuleType
from typing import Any


@cache
def load() -> ModuleType:
    logging.getLogger("scapy").setLevel(logging.ERROR)
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.config import conf

    conf.sniff_promisc = False
    conf.verb = 0
    import scapy.contrib.bgp as bgp
    import scapy.layers.l2  # noqa: F401 - registers the link types (Ether, cooked v1/v2)
    import scapy.layers.inet  # noqa: F401
    import scapy.layers.tls.extensions  # noqa: F401
    import scapy.layers.tls.handshake  # noqa: F401

    return bgp


def bgp() -> Any:
    return load()


def l2_class(linktype: int) -> Any:
    load()
    from scapy.config import conf

    return conf.l2types.num2layer.get(linktype)
