"""Files the safe way: read within bounds, written atomically, private to the user, never
clobbering by surprise."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsinspect.model import Handshake, Session

MAX_BYTES = 1 << 30  # a session file larger than this is refused rather than read into memory

# What one file may make us hold. Measured (bench/sessions.py and a HAR of 100,000 refused
# attempts): a handshake costs about 2 KB read, 10 KB diagnosed, and `diagnose` prints ~6 KB of
# text for it; a kept message about 150 bytes. These keep a whole `diagnose` or `open` within a
# few GB, where a crafted file of tiny entries would otherwise take all the memory there is.
MAX_HANDSHAKES = 100_000  # the dashboard is measured at this many (bench/tui_scale.py)
MAX_MESSAGES = 5_000_000


class TooLarge(ValueError):
    """The file holds more than this program will keep in memory; the message says how much."""


class Budget:
    """Counts what a file's reader keeps and what it skips, and stops it at the limits above."""

    def __init__(self, handshakes: int = MAX_HANDSHAKES, messages: int = MAX_MESSAGES) -> None:
        self.max_handshakes = handshakes
        self.max_messages = messages
        self.messages = 0
        self.damaged = 0

    def admit(self, session: Session, handshake: Handshake, messages: int) -> None:
        """Add ``handshake`` to ``session``; TooLarge when that would go past a limit."""
        if len(session) >= self.max_handshakes:
            raise TooLarge(
                f"too large to read here (more than {self.max_handshakes:,} WebSocket "
                f"attempts; the limit is {self.max_handshakes:,})"
            )
        self.messages += messages
        if self.messages > self.max_messages:
            raise TooLarge(
                f"too large to read here (more than {self.max_messages:,} WebSocket messages; "
                f"the limit is {self.max_messages:,})"
            )
        if session.get(handshake.id) is not None:  # two entries claim one id: keep both
            handshake.id = f"{handshake.id}~{len(session) + 1}"
        session.add(handshake)

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
        data = f.read(MAX_BYTES + 1)  # it may have grown since
    if len(data) > MAX_BYTES:
        raise TooLarge("larger than the 1 GiB wsinspect reads")
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


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` (mode 0600), then rename it into place."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
