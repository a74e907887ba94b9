"""The native session file: JSON, lossless (DESIGN.md, "Native session file")."""

from __future__ import annotations

import json
from typing import Any

from wsinspect.model import SESSION_FORMAT, Session


def dumps(session: Session) -> bytes:
    return json.dumps(session.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")


def looks_native(document: Any) -> bool:
    return isinstance(document, dict) and document.get("format") == SESSION_FORMAT


def loads(data: bytes) -> Session:
    """Parse a native session; raises ValueError (with a one-line reason) on bad input."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not looks_native(document):
        raise ValueError('not a wsinspect session (no "format": "wsinspect-session")')
    try:
        return Session.from_dict(document)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        detail = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        raise ValueError(f"damaged session: {detail}") from None
