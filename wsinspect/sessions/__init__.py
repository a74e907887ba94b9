"""Reading and writing captured sessions."""

from __future__ import annotations

from pathlib import Path

from wsinspect.model import Session
from wsinspect.sessions import native
from wsinspect.sessions.files import OutputError, check_writable, write_atomic
from wsinspect.sessions.redact import redact_session


class InputError(Exception):
    """A session file cannot be read; the message is one line naming the file."""


def save(session: Session, path: Path, *, redact: bool = True) -> None:
    """Write ``session`` to ``path`` atomically, mode 0600, secrets redacted unless told not to."""
    if redact:
        session = redact_session(session)
    write_atomic(path, native.dumps(session))


def load(path: Path) -> Session:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    try:
        return native.loads(data)
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None


__all__ = ["InputError", "OutputError", "check_writable", "load", "save"]
