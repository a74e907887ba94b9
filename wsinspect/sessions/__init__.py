"""Reading and writing captured sessions: native JSON, HAR, mitmproxy flows and Markdown reports.

Writers are chosen by the file's extension; ``load`` recognises the format from the content.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from wsinspect.model import Handshake, Session
from wsinspect.sessions import files
from wsinspect.sessions.files import Budget, OutputError, write_atomic
from wsinspect.sessions.redact import redacted_view

Warn = Callable[[str], None]


@contextlib.contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Building or parsing a million small objects triggers the cycle collector over and over
    (a third of the time, measured); none of them are garbage until the session is."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class InputError(Exception):
    """A session file cannot be read; the message is one line naming the file."""


# The module writing each format (its ``dumps``), imported when needed: the dashboard imports this
# package for redaction before its first screen, and needs none of them by then.
WRITERS = {
    ".json": "native",
    ".har": "har",
    ".mitm": "mitmflows",
    ".flows": "mitmflows",
    ".md": "markdown",
    ".markdown": "markdown",
}


def writer_for(path: Path) -> Callable[[Session], bytes]:
    name = WRITERS.get(path.suffix.lower())
    if name is None:
        raise OutputError(
            f"cannot tell which format to write {path} in: name it .json (wsinspect session), "
            ".har (HTTP Archive), .mitm (mitmproxy flows) or .md (Markdown report)"
        )
    return importlib.import_module(f"wsinspect.sessions.{name}").dumps


def check_writable(path: Path, force: bool = False) -> None:
    """Fail early, before a capture starts, rather than lose it at the end."""
    writer_for(path)
    files.check_writable(path, force)


def save(session: Session, path: Path, *, redact: bool = True, paced: bool = False) -> None:
    """Write ``session`` in the format ``path``'s extension names: atomically, mode 0600, with
    secrets redacted unless told not to.

    Written a handshake at a time, each redacted as it is written: 200,000 handshakes built
    whole as a document, or redacted all at once, would take gigabytes (issue 13).
    ``paced``: for a worker thread beside the proxy's loop (``save_in_background``).
    """
    writer = _writer_module(path)
    if redact:  # (the Markdown report shows no message: none need be redacted)
        session = redacted_view(session, messages=getattr(writer, "WRITES_MESSAGES", True))
    if paced:  # beside the proxy: the collector stays on (off, it is off for every thread)
        write_atomic(path, writer.chunks(_PacedView(session)))
        return
    with _no_gc_pauses():
        write_atomic(path, writer.chunks(session))


async def save_in_background(session: Session, path: Path, *, redact: bool = True) -> Session:
    """``save`` for the proxy's loop, which must not wait for it: a snapshot taken here, in
    milliseconds, and written (redacted, encoded) by a worker thread, while capture goes on.

    Returns the snapshot (what the file holds); raises what ``save`` raises.
    """
    snapshot = session.snapshot()
    await asyncio.to_thread(save, snapshot, path, redact=redact, paced=True)
    return snapshot


WORK, REST = 0.001, 0.0005  # seconds a paced save works, then leaves the interpreter to others


class _PacedView(Session):
    """A session whose handshakes come with a rest every ``WORK`` seconds. A thread writing
    without rests kept the interpreter (the GIL) up to 5 ms each time the proxy's loop woke, and
    relaying one message wakes it several times: 5,000 x 100 saved in the background, echoes
    through the proxy came 90-460 ms late (99th percentile), 50-110 ms paced, on a busy
    2-core machine. A paced save takes up to half as long again."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.created, session.proxy)
        self._session = session

    def __iter__(self) -> Iterator[Handshake]:
        until = time.perf_counter() + WORK
        for handshake in self._session:
            yield handshake
            if time.perf_counter() >= until:
                time.sleep(REST)
                until = time.perf_counter() + WORK

    def __len__(self) -> int:
        return len(self._session)


def _writer_module(path: Path) -> ModuleType:
    writer_for(path)  # an unknown extension: OutputError
    return importlib.import_module(f"wsinspect.sessions.{WRITERS[path.suffix.lower()]}")


def load(path: Path, warn: Warn | None = None, budget: Budget | None = None) -> Session:
    """Read a native session, a HAR or a mitmproxy flow file, whatever its name.

    Damaged entries in an otherwise good file are skipped and reported through ``warn`` (a line
    naming the file and the entry); a file that cannot be read at all, holds more than ``budget``
    allows (by default ``files.MAX_HANDSHAKES`` and ``MAX_MESSAGES``) or has no entry left to
    read raises ``InputError``.
    """

    def skipped(message: str) -> None:
        if warn is not None:
            warn(f"{path}: {message}")

    try:
        data = files.read_regular(path)
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a session file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    try:
        with _no_gc_pauses():
            return loads(data, skipped, budget)
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a session file") from None


def loads(data: bytes, warn: Warn, budget: Budget | None = None) -> Session:
    """The session in ``data``; raises ValueError with a one-line reason."""
    budget = Budget() if budget is None else budget
    session = _read_any(data, warn, budget)
    if len(session) == 0 and budget.damaged:
        raise ValueError(f"no entry could be read: {budget.damaged} skipped as damaged")
    return session


def _read_any(data: bytes, warn: Warn, budget: Budget) -> Session:
    from wsinspect.sessions import har, jsontext, mitmflows, native

    if mitmflows.looks_mitm(data):
        return mitmflows.loads(data, warn, budget)
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if not head:
        raise ValueError("the file is empty")
    if head not in (b"{", b"["):
        if head == b"#":
            raise ValueError("a Markdown report is for people; open the .json, .har or .mitm file")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text, and not a mitmproxy flow file either") from None
        raise ValueError(
            "not a session file: expected a wsinspect session, a HAR or a mitmproxy flow file"
        )
    document = jsontext.decode(data, jsontext.Shallow)
    if not isinstance(document, dict):
        document = {}
    if native.looks_native(document):
        return native.from_document(document, warn, budget)
    if har.looks_har(document):
        return har.from_document(document, warn, budget)
    raise ValueError('JSON, but neither a wsinspect session nor a HAR file (no "log" object)')


__all__ = [
    "Budget",
    "InputError",
    "OutputError",
    "check_writable",
    "load",
    "loads",
    "save",
    "save_in_background",
    "writer_for",
]
