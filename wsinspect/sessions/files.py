"""Writing files the safe way: atomically, private to the user, never clobbering by surprise."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


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
