"""``wsinspect record``: the proxy without a screen, one line per handshake, a file at the end."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from wsinspect.capture.limits import DEFAULT_LIMITS, Limits
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.capture.service import Capture
from wsinspect.model import Handshake, Session
from wsinspect.report import handshake_line
from wsinspect.sessions.autosave import Autosave, save_for_good
from wsinspect.sessions.redact import redact_handshake, redact_text
from wsinspect.text import printable


@dataclass(frozen=True, slots=True)
class RecordOptions:
    output: Path
    proxy: ProxyConfig
    limits: Limits = DEFAULT_LIMITS
    count: int | None = None
    duration: float | None = None
    redact: bool = True
    save_every: float = 5.0


class LinePrinter:
    """A recorder listener that prints a line per answered handshake and counts them.

    Lines go through a bounded queue to a writer thread: when whoever reads our standard output
    stops reading, lines are dropped and counted, and the proxy goes on at full speed (a blocked
    ``print`` would stall the event loop the proxy runs on). The session file has them all.
    Standard output ends up in CI logs and terminals shared on screen: secrets are redacted as in
    the file, unless ``redact`` is off (``--no-redact``).
    """

    def __init__(
        self,
        fd: int,
        stop_after: int | None,
        stop: asyncio.Event,
        backlog: int = 10_000,
        *,
        redact: bool = True,
    ) -> None:
        self.fd = fd
        self.redact = redact
        self.stop_after = stop_after
        self.stop = stop
        self.answered: set[str] = set()
        self.dropped = 0
        self._lines: queue.Queue[bytes] = queue.Queue(backlog)
        self._writer = threading.Thread(target=self._write, name="record lines", daemon=True)
        self._writer.start()

    def handshake_answered(self, handshake: Handshake) -> None:
        shown = redact_handshake(handshake) if self.redact else handshake
        try:
            self._lines.put_nowait(handshake_line(shown).encode("utf-8") + b"\n")
        except queue.Full:
            self.dropped += 1
        self.answered.add(handshake.id)  # once, even when an answer follows "no answer"
        if self.stop_after is not None and len(self.answered) >= self.stop_after:
            self.stop.set()

    def websocket_closed(self, handshake: Handshake) -> None:
        pass

    def _write(self) -> None:
        # os.write, not sys.stdout: a thread blocked inside the file object would hold its lock
        # and hang the interpreter's exit; blocked in the system call it is simply left behind.
        while True:
            line = self._lines.get()
            try:
                while line:
                    line = line[os.write(self.fd, line) :]
            except OSError:  # the reader went away: nobody to print for
                return

    def finish(self, timeout: float = 1.0) -> None:
        """Give the writer a moment to print what is queued; say what could not be printed."""
        deadline = time.monotonic() + timeout
        while not self._lines.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        dropped = self.dropped + self._lines.qsize()
        if dropped:
            print(
                f"wsinspect: {dropped} lines not printed: standard output was not being read "
                "fast enough (the session file has every handshake)",
                file=sys.stderr,
                flush=True,
            )


class _WarningsToStderr(logging.Handler):
    """mitmproxy's warnings (an untrusted CA, a dead upstream) and ours (a refused client) are
    worth a line on stderr; a URL in one may carry a token."""

    def __init__(self, level: int, *, redact: bool = True) -> None:
        super().__init__(level)
        self.redact = redact

    def emit(self, record: logging.LogRecord) -> None:
        source = record.name.partition(".")[0]
        message = record.getMessage()
        if self.redact:
            message = redact_text(message)
        print(f"{source}: {printable(message)}", file=sys.stderr, flush=True)


def _say(message: str) -> None:
    print(f"wsinspect: {message}", file=sys.stderr, flush=True)


async def run_record(options: RecordOptions) -> int:
    stop = asyncio.Event()
    sys.stdout.flush()
    printer = LinePrinter(sys.stdout.fileno(), options.count, stop, redact=options.redact)
    capture = Capture.embedded(options.proxy, [printer], limits=options.limits)
    await capture.start()  # ProxyError goes to the caller: nothing captured yet, nothing to save
    autosave = Autosave(
        capture.session,
        options.output,
        interval=options.save_every,
        redact=options.redact,
        on_error=_say,
        on_recovered=_say,
    )
    autosave.start()
    handler = _WarningsToStderr(logging.WARNING, redact=options.redact)
    for source in ("mitmproxy", "wsinspect"):
        logging.getLogger(source).addHandler(handler)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"wsinspect: proxy listening on {capture.address} ({options.proxy.mode} mode); "
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
        await capture.stop()
        for source in ("mitmproxy", "wsinspect"):
            logging.getLogger(source).removeHandler(handler)
        printer.finish()
    await autosave.stop_timer()
    return _save(capture.session, options)


def _save(session: Session, options: RecordOptions) -> int:
    saved, message = save_for_good(session, options.output, redact=options.redact)
    print(f"wsinspect: {message}", file=sys.stderr)
    return 0 if saved else 2
