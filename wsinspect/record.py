"""``wsinspect record``: the proxy without a screen, one line per handshake, a file at the end."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from wsinspect.capture.addon import Recorder
from wsinspect.capture.limits import DEFAULT_LIMITS, Limits
from wsinspect.capture.proxy import EmbeddedProxy, ProxyConfig
from wsinspect.model import Handshake, Session
from wsinspect.report import handshake_line
from wsinspect.sessions import OutputError, save
from wsinspect.text import printable


@dataclass(frozen=True, slots=True)
class RecordOptions:
    output: Path
    proxy: ProxyConfig
    limits: Limits = DEFAULT_LIMITS
    count: int | None = None
    duration: float | None = None
    redact: bool = True


class LinePrinter:
    """A recorder listener that prints a line per answered handshake and counts them."""

    def __init__(self, out: TextIO, stop_after: int | None, stop: asyncio.Event) -> None:
        self.out = out
        self.stop_after = stop_after
        self.stop = stop
        self.answered = 0

    def handshake_answered(self, handshake: Handshake) -> None:
        print(handshake_line(handshake), file=self.out, flush=True)
        self.answered += 1
        if self.stop_after is not None and self.answered >= self.stop_after:
            self.stop.set()

    def websocket_closed(self, handshake: Handshake) -> None:
        pass


class _WarningsToStderr(logging.Handler):
    """mitmproxy's warnings (an untrusted CA, a dead upstream) are worth a line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"mitmproxy: {printable(record.getMessage())}", file=sys.stderr, flush=True)


async def run_record(options: RecordOptions) -> int:
    stop = asyncio.Event()
    session = Session(created=time.time(), proxy=options.proxy.describe())
    printer = LinePrinter(sys.stdout, options.count, stop)
    recorder = Recorder(session, [printer], options.limits)
    proxy = EmbeddedProxy(options.proxy, [recorder])
    await proxy.start()  # ProxyError goes to the caller: nothing captured yet, nothing to save
    handler = _WarningsToStderr(logging.WARNING)
    logging.getLogger("mitmproxy").addHandler(handler)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    config = options.proxy
    print(
        f"wsinspect: proxy listening on {config.listen_host}:{proxy.port} ({config.mode} mode); "
        f"recording to {options.output}; Ctrl-C to stop and save",
        file=sys.stderr,
        flush=True,
    )
    try:
        await asyncio.wait_for(stop.wait(), timeout=options.duration)
    except TimeoutError:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await proxy.stop()
        logging.getLogger("mitmproxy").removeHandler(handler)
    return _save(session, options)


def _save(session: Session, options: RecordOptions) -> int:
    """Save the session; if the chosen path fails now, save it elsewhere rather than lose it."""
    try:
        save(session, options.output, redact=options.redact)
    except OutputError as e:
        fallback = Path(tempfile.gettempdir()) / f"wsinspect-{int(time.time())}.json"
        save(session, fallback, redact=options.redact)
        print(f"wsinspect: {e}; saved to {fallback} instead", file=sys.stderr)
        return 2
    print(f"wsinspect: saved {len(session)} handshakes to {options.output}", file=sys.stderr)
    return 0
