"""The Markdown report for a ticket, as a session file (the report itself is ``report.markdown``,
which ``diagnose --format markdown`` prints too)."""

from __future__ import annotations

from wsinspect import report
from wsinspect.model import Session


def dumps(session: Session) -> bytes:
    return report.markdown(session).encode("utf-8")
