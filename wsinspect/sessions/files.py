"""Files the safe way: read within bounds, written atomically, private to the user, never
clobbering by surprise."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsinspect.model import Handshake, Session

MAX_BYTES = 1 << 30  # a session file larger than this is refused rather than read into memory

# What one file may make us hold, so that a file of many tiny entries is refused in a second
# instead of taking all the memory there is. Reports and files are written a handshake at a time
# (bench/attempts.py), so what counts is what is read and diagnosed. Measured (issue 13): 200,000
# mixed attempts (refusals, upgrades with messages) take ~3.5 KB each read and ~0.6 KB diagnosed
# (repeated fixes and explanations are shared): 0.96 GB at most for `diagnose` or `export`; a
# crafted HAR whose every attempt has its own Origin and path takes ~1.7 KB read and ~10 KB
# diagnosed (two dozen fixes, none shared): 2.2 GB. A message costs ~250 bytes read and ~600
# bytes while `export` writes it (bench/sessions.py, 1,000,000).
MAX_HANDSHAKES = 200_000
MAX_MESSAGES = 2_000_000
# An entry (a handshake, a HAR entry, a flow) is decoded whole before its messages can be
# counted: one of tiny messages takes ~4 times its size as records (~8.5 times as mitmproxy's
# objects), so one larger than this is refused from its size first.
MAX_ENTRY_BYTES = 128 << 20


class TooLarge(ValueError):
    """The file holds more than this program will keep in memory; the message says how much."""


class Budget:
    """Counts what a file's reader keeps and what it skips, and stops it at the limits above."""

    def __init__(self, handshakes: int | None = None, messages: int | None = None) -> None:
        self.max_handshakes = MAX_HANDSHAKES if handshakes is None else handshakes
        self.max_messages = MAX_MESSAGES if messages is None else messages
        self.messages = 0
        self.damaged = 0

    def expect(self, handshakes: int) -> None:
        """TooLarge at once when a file says up front that it holds too many handshakes."""
        if handshakes > self.max_handshakes:
            raise self._too_large(f"{handshakes:,} handshakes", self.max_handshakes)

    def check_size(self, what: str, size: int) -> None:
        """TooLarge when one entry (``what``: "flow 3") is over MAX_ENTRY_BYTES."""
        if size > MAX_ENTRY_BYTES:
            raise TooLarge(
                f"too large to read here ({what} is {size / (1 << 20):,.0f} MiB; "
                f"the limit is {MAX_ENTRY_BYTES >> 20} MiB per entry)"
            )

    def admit(self, session: Session, handshake: Handshake, messages: int) -> None:
        """Add ``handshake`` to ``session``; TooLarge when that would go past a limit."""
        if len(session) >= self.max_handshakes:
            attempts = f"more than {self.max_handshakes:,} WebSocket attempts"
            raise self._too_large(attempts, self.max_handshakes)
        self.messages += messages
        if self.messages > self.max_messages:
            messages_read = f"more than {self.max_messages:,} WebSocket messages"
            raise self._too_large(messages_read, self.max_messages)
        claimed, number = handshake.id, len(session)
        while session.get(handshake.id) is not None:  # two entries claim one id: keep both
            number += 1
            handshake.id = f"{claimed}~{number}"
        session.add(handshake)

    @staticmethod
    def _too_large(what: str, limit: int) -> TooLarge:
        return TooLarge(f"too large to read here ({what}; the limit is {limit:,} per file)")

    def skipped(self, warn: Callable[[str], None], message: str) -> None:
        self.damaged += 1
        warn(message)


def read_regular(path: Path) -> bytes:
    """The bytes of ``path``: OSError when it cannot be opened, ValueError when it is not a
    regular file (a FIFO, a terminal or /dev/zero would never end) or is over MAX_BYTES.

    Opened without blocking, then looked at: nothing can be swapped in between.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"is {_kind(mode)}, not a session file")
        size = os.fstat(fd).st_size
        if size > MAX_BYTES:
            raise TooLarge(f"{size / (1 << 30):.1f} GiB is larger than the 1 GiB wsinspect reads")
        data = f.read(size + 1)  # one byte more than it said: it may be growing
    if len(data) > size:
        raise ValueError("is changing while it is read (or says nothing of its size)")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class OutputError(Exception):
    """A file cannot be written; the message is one line meant for the user."""


def check_writable(path: Path, force: bool = False) -> None:
    """Fail early, before a capture starts, rather than lose it at the end."""
    if path.exists() and not force:
        raise OutputError(f"{path} already exists (use --force to overwrite it)")
    if path.is_dir():
        raise OutputError(f"{path} is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is not writable")


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write to a temporary file beside ``path`` (mode 0600), then rename it into place.

    ``data`` may come in chunks, written as they come: nothing is in place until all of it is.
    """
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.writelines([data] if isinstance(data, bytes) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as e:  # a chunk that failed to render leaves no temporary file either
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {path}: {e.strerror}") from None
        raise
