"""Running a capture to its end: records from tcpdump's pipe -> the user's pcap file -> the decoder.

Ctrl-C, SIGTERM and SIGHUP do not interrupt the reading: they ask tcpdump to stop, and the loop
goes on until tcpdump has written its last packet and exited, so nothing captured is lost.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import IO

from orchestrator.capture import pcapfile
from orchestrator.capture.decoder import Decoder, Event
from orchestrator.capture.sniff import Capture, CaptureStats

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class CaptureResult:
    records: int  # read from tcpdump (and written to the file, if any)
    linktype: int | None
    stats: CaptureStats
    stopped_by: str  # "count", "duration", "signal SIGINT", "end of file", "tcpdump exited", ...


@contextmanager
def stop_on_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """While the block runs, a stop signal calls on_signal instead of raising (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _: FrameType | None) -> None:
        on_signal(signum)
    old = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def pump(capture: Capture, decoder: Decoder, on_event: Callable[[Event], None],
         out: IO[bytes] | None = None) -> tuple[int, int | None]:
    """Read until tcpdump's stream ends; returns (records, link type).

    A thread reads the pipe and writes the file, so tcpdump never waits for the decoding (a slow
    terminal would otherwise back up into its ring and make it drop packets)."""
    items: queue.Queue[pcapfile.PcapHeader | pcapfile.Record | BaseException | None] = queue.Queue()

    def read() -> None:
        try:
            stream = capture.stdout
            try:
                header = pcapfile.read_header(stream)
            except pcapfile.PcapError:
                if capture.proc is not None and capture.proc.poll() is None:
                    raise
                return  # tcpdump ended before writing anything
            tee = pcapfile.Tee(out) if out is not None else None
            if tee:
                tee.header(header)
            items.put(header)
            for record in pcapfile.records(stream, header):
                if tee:
                    tee.record(record)
                items.put(record)
        except BaseException as exc:  # noqa: BLE001 - handed to the decoding thread
            items.put(exc)
        finally:
            items.put(None)

    reader = threading.Thread(target=read, name="pcap-reader", daemon=True)
    reader.start()
    n, linktype = 0, None
    try:
        while (item := items.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, pcapfile.PcapHeader):
                linktype = item.linktype
                continue
            n += 1
            assert linktype is not None
            for event in decoder.feed(linktype, item.time, item.data):
                on_event(event)
    finally:
        if reader.is_alive():
            capture.stop(0)
            reader.join(10)
    return n, linktype


Stop = Callable[[str], None]  # asks the capture to end, saying why


def run(capture: Capture, decoder: Decoder, on_event: Callable[[Event], None], out: IO[bytes] | None = None,
        duration: float | None = None, on_started: Callable[[Stop], None] = lambda _: None) -> CaptureResult:
    """Start the capture, read it to its end, and stop tcpdump whatever happens.

    on_started runs once tcpdump listens, with the function that stops the capture."""
    reason: list[str] = []

    def stop(why: str) -> None:
        if not reason:
            reason.append(why)
        capture.stop()

    with stop_on_signals(lambda signum: stop(f"signal {signal.Signals(signum).name}")):
        capture.start()
        timer = None
        try:
            if duration is not None:
                timer = threading.Timer(duration, stop, args=("duration",))
                timer.daemon = True
                timer.start()
            on_started(stop)
            records, linktype = pump(capture, decoder, on_event, out)
        finally:
            if timer:
                timer.cancel()
            stats = capture.close()
    if not reason:
        reason.append("count" if capture.spec.count and records >= capture.spec.count else
                      "end of file" if capture.spec.read_file else "tcpdump exited")
    return CaptureResult(records, linktype, stats, reason[0])
