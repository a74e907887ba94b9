"""The native session file: JSON, lossless (DESIGN.md, "Native session file")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsinspect.model import SESSION_FORMAT, SESSION_VERSION, Handshake, Session
from wsinspect.sessions import jsontext


def dumps(session: Session) -> bytes:
    return jsontext.encode(session.to_dict())


def looks_native(document: Any) -> bool:
    return isinstance(document, dict) and document.get("format") == SESSION_FORMAT


def from_document(document: dict[str, Any], warn: Callable[[str], None]) -> Session:
    """A parsed native session; a damaged handshake is skipped with a warning."""
    if document.get("version") != SESSION_VERSION:
        raise ValueError(f"unsupported session version {str(document.get('version'))[:20]!r}")
    handshakes = document.get("handshakes")
    if not isinstance(handshakes, list):
        raise ValueError('damaged session: "handshakes" is not a list')
    try:
        proxy = document.get("proxy") or {}
        session = Session(created=float(document.get("created") or 0.0), proxy=dict(proxy))
    except (TypeError, ValueError):
        raise ValueError('damaged session: "created" or "proxy" has the wrong type') from None
    for number, item in enumerate(handshakes, 1):
        try:
            if not isinstance(item, dict):
                raise TypeError("not an object")
            session.add(Handshake.from_dict(item))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            reason = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            warn(f"handshake {number} skipped: {reason[:200]}")
    return session


def loads(data: bytes) -> Session:
    """Parse a native session strictly; raises ValueError (with a one-line reason) on bad input."""
    document = jsontext.decode(data)
    if not looks_native(document):
        raise ValueError('not a wsinspect session (no "format": "wsinspect-session")')

    def fail(message: str) -> None:
        raise ValueError(f"damaged session: {message}")

    return from_document(document, fail)
