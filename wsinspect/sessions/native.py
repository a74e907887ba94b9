"""The native session file: JSON, lossless (DESIGN.md, "Native session file").

Read in two steps so that a large file opens quickly and a damaged handshake costs only itself:
the document with each handshake left as raw text, then each handshake with its messages decoded
straight into typed records (``_Message``), which become ``Message`` objects when first looked at.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from wsinspect.model import (
    OP_CLOSE,
    SESSION_FORMAT,
    SESSION_VERSION,
    Handshake,
    LoadedMessages,
    Message,
    Session,
    WebSocketSummary,
    close_payload,
)
from wsinspect.sessions import jsontext
from wsinspect.sessions.jsontext import Object, Raw


def dumps(session: Session) -> bytes:
    return jsontext.encode(session.to_dict())


def looks_native(document: Object) -> bool:
    return "format" in document and jsontext.decode(document["format"]) == SESSION_FORMAT


class _Message(msgspec.Struct, gc=False):
    """A message as the file has it; ``Message.to_dict`` writes this shape."""

    side: Literal["client", "server"] = msgspec.field(name="from")
    time: float
    opcode: int
    length: int
    preview: str = ""
    preview_encoding: Literal["text", "base64"] = "text"
    truncated: bool = False
    frames: int = 1
    compressed: bool = False

    def to_message(self) -> Message:
        preview = self.preview
        if self.preview_encoding == "base64":
            data = base64.b64decode(preview, validate=True)
        elif self.opcode == OP_CLOSE:
            data = close_payload(preview)
        else:
            data = preview.encode("utf-8")
        return Message(
            self.side,
            self.time,
            self.opcode,
            self.length,
            data,
            self.truncated,
            self.frames,
            self.compressed,
        )


class _WebSocket(msgspec.Struct):
    messages: list[_Message] = []
    subprotocol: Any = None
    extensions: Any = []
    messages_dropped: Any = 0
    counts: Any = {}
    close: Any = None


class _Handshake(msgspec.Struct):
    """A handshake's fields; all but the messages are checked by ``Handshake.from_dict``."""

    id: Any
    started: Any
    url: Any
    request: Any
    websocket: _WebSocket | None = None
    answered: Any = None
    client: Any = None
    response: Any = None
    error: Any = None
    verdict: Any = "ok"
    stack: Any = None
    findings: Any = []


def handshake_of(item: _Handshake) -> Handshake:
    fields = msgspec.structs.asdict(item)
    ws = fields.pop("websocket")
    handshake = Handshake.from_dict(fields)
    if ws is not None:
        parsed = [m for m in ws.messages if m.preview_encoding != "text" or m.opcode == OP_CLOSE]
        for message in parsed:  # base64 and close codes can be damaged: find out now, not later
            message.to_message()
        summary = msgspec.structs.asdict(ws)
        summary["messages"] = []
        handshake.websocket = WebSocketSummary.from_dict(summary)
        handshake.websocket.messages = LoadedMessages(ws.messages, _Message.to_message)
    return handshake


def from_document(document: Object, warn: Callable[[str], None]) -> Session:
    """A native session; a damaged handshake is skipped with a warning."""
    version = jsontext.decode(document.get("version", b"null"))
    if version != SESSION_VERSION:
        raise ValueError(f"unsupported session version {str(version)[:20]!r}")
    handshakes = jsontext.decode(
        document.get("handshakes", b"null"),
        list[Raw],
        wrong_shape='damaged session: "handshakes" is not a list',
    )
    try:
        created = jsontext.decode(document.get("created", b"0"))
        proxy = jsontext.decode(document.get("proxy", b"{}"))
        session = Session(created=float(created or 0.0), proxy=dict(proxy or {}))
    except (TypeError, ValueError):
        raise ValueError('damaged session: "created" or "proxy" has the wrong type') from None
    decoder = msgspec.json.Decoder(_Handshake)
    for number, raw in enumerate(handshakes, 1):
        try:
            session.add(handshake_of(decoder.decode(raw)))
        except msgspec.ValidationError as e:
            warn(f"handshake {number} skipped: {str(e)[:200]}")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            reason = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            warn(f"handshake {number} skipped: {reason[:200]}")
    return session


def loads(data: bytes) -> Session:
    """Parse a native session strictly; raises ValueError (with a one-line reason) on bad input."""
    document = jsontext.decode(data, Object, "not a wsinspect session")
    if not looks_native(document):
        raise ValueError('not a wsinspect session (no "format": "wsinspect-session")')

    def fail(message: str) -> None:
        raise ValueError(f"damaged session: {message}")

    return from_document(document, fail)
