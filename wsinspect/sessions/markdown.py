"""The Markdown report for a ticket, as a session file (the report itself is ``report.markdown``,
which ``diagnose --format markdown`` prints too)."""

from __future__ import annotations

from collections.abc import Iterator

from wsinspect import report
from wsinspect.model import Session

WRITES_MESSAGES = False  # a report for a ticket: the handshakes and their findings, no traffic


def dumps(session: Session) -> bytes:
    return b"".join(chunks(session))


def chunks(session: Session) -> Iterator[bytes]:
    """The report, a handshake at a time (the session is read twice: the table, the details)."""
    return (chunk.encode("utf-8") for chunk in report.markdown_chunks(session))
