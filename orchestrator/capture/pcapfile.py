"""The classic pcap format, read from a stream (a pipe from tcpdump, or a file) record by record.

Every byte read is kept, so a copy written with `Tee` is exactly the stream tcpdump produced: a
file Wireshark and `tcpdump -r` read, valid up to its last complete record even if we are killed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

MAGICS = {0xA1B2C3D4: ("<", 1e-6), 0xD4C3B2A1: (">", 1e-6),
          0xA1B23C4D: ("<", 1e-9), 0x4D3CB2A1: (">", 1e-9)}


class PcapError(ValueError):
    pass


@dataclass(frozen=True)
class PcapHeader:
    linktype: int
    snaplen: int
    endian: str  # "<" or ">"
    tick: float  # seconds per unit of the fraction field
    raw: bytes


@dataclass(frozen=True)
class Record:
    time: float
    caplen: int
    length: int  # on the wire
    data: bytes
    raw: bytes  # header + data, as read


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    """n bytes, or fewer only at the end of the stream (a pipe's read may return short)."""
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_header(stream: IO[bytes]) -> PcapHeader:
    raw = _read_exact(stream, 24)
    if len(raw) < 24:
        raise PcapError("not a pcap stream: it ends before its 24-byte header")
    magic = struct.unpack("<I", raw[:4])[0]
    if magic not in MAGICS:
        if raw[:4] == b"\x0a\x0d\x0d\x0a":
            raise PcapError("this is pcapng: convert it with `tcpdump -r FILE -w OUT.pcap` or read it with -r "
                            "(which converts)")
        raise PcapError(f"not a pcap stream (magic {raw[:4].hex()})")
    endian, tick = MAGICS[magic]
    _, _, _, _, snaplen, linktype = struct.unpack(endian + "HHiIII", raw[4:])
    return PcapHeader(linktype & 0x0FFFFFFF, snaplen, endian, tick, raw)


def records(stream: IO[bytes], header: PcapHeader) -> Iterator[Record]:
    """The records until the end of the stream; a record cut short at the end is dropped."""
    fmt = header.endian + "IIII"
    while True:
        head = _read_exact(stream, 16)
        if len(head) < 16:
            return
        sec, frac, caplen, length = struct.unpack(fmt, head)
        data = _read_exact(stream, caplen)
        if len(data) < caplen:
            return
        yield Record(sec + frac * header.tick, caplen, length, data, head + data)


class Tee:
    """Writes the stream's header and records to a file as they are read, flushed one by one."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.records = 0

    def header(self, header: PcapHeader) -> None:
        self.out.write(header.raw)
        self.out.flush()

    def record(self, record: Record) -> None:
        self.out.write(record.raw)
        self.out.flush()
        self.records += 1
