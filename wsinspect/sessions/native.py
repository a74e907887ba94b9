"""The native session file: JSON, lossless (DESIGN.md, "Native session file").

Read in two steps so that a large file opens quickly and a damaged handshake costs only itself:
the document with each handshake left as raw text, then each handshake with its messages decoded
straight into typed records (``_Message``), which become ``Message`` objects when first looked at.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Literal

import msgspec

from wsinspect.model import (
    OP_CLOSE,
    SESSION_FORMAT,
    SESSION_VERSION,
    Close,
    Counts,
    Finding,
    Fix,
    Handshake,
    Headers,
    LoadedMessages,
    Message,
    Request,
    Response,
    Session,
    Stack,
    WebSocketSummary,
    check_url,
    close_payload,
)
from wsinspect.sessions import jsontext
from wsinspect.sessions.files import Budget
from wsinspect.sessions.jsontext import (
    CloseCode,
    Count,
    Fraction,
    Object,
    Opcode,
    Raw,
    Status,
    Time,
)


def dumps(session: Session) -> bytes:
    return b"".join(chunks(session))


def chunks(session: Session) -> Iterator[bytes]:
    """``encode(session.to_dict())``, a handshake at a time."""
    head = Session(created=session.created, proxy=session.proxy).to_dict()
    return jsontext.encode_chunks(head, (h.to_dict() for h in session))


def looks_native(document: Object) -> bool:
    return "format" in document and jsontext.decode(document["format"]) == SESSION_FORMAT


class _Message(msgspec.Struct, gc=False):
    """A message as the file has it; ``Message.to_dict`` writes this shape."""

    side: Literal["client", "server"] = msgspec.field(name="from")
    time: Time
    opcode: Opcode
    length: Count
    preview: str = ""
    preview_encoding: Literal["text", "base64"] = "text"
    truncated: bool = False
    frames: Count = 1
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


# The shapes below are the file's, checked as it is decoded (types and ranges): what is read
# is then known to be something every report and writer can handle. HAR's ``_wsinspect`` object
# uses the same ones.


class CloseRecord(msgspec.Struct):
    code: CloseCode | None
    reason: str = ""
    by: Literal["client", "server"] | None = None
    time: Time | None = None

    def model(self) -> Close:
        return Close(self.code, self.reason, self.by, self.time)


class CountsRecord(msgspec.Struct):
    client_messages: Count = 0
    server_messages: Count = 0
    client_bytes: Count = 0
    server_bytes: Count = 0

    def model(self) -> Counts:
        return Counts(
            self.client_messages, self.server_messages, self.client_bytes, self.server_bytes
        )


class StackRecord(msgspec.Struct):
    name: str
    confidence: Fraction
    evidence: list[str] = []

    def model(self) -> Stack:
        return Stack(self.name, self.confidence, self.evidence)


class _Fix(msgspec.Struct):
    stack: str
    language: str
    snippet: str


class FindingRecord(msgspec.Struct):
    code: str
    severity: Literal["warning", "error"]
    title: str
    explanation: str = ""
    evidence: dict[str, str] = {}
    fixes: list[_Fix] = []

    def model(self) -> Finding:
        fixes = [Fix(f.stack, f.language, f.snippet) for f in self.fixes]
        return Finding(self.code, self.severity, self.title, self.explanation, self.evidence, fixes)


class _WebSocket(msgspec.Struct):
    messages: list[_Message] = []
    subprotocol: str | None = None
    extensions: list[str] = []
    messages_dropped: Count = 0
    counts: CountsRecord = msgspec.field(default_factory=CountsRecord)
    close: CloseRecord | None = None

    def model(self) -> WebSocketSummary:
        parsed = [m for m in self.messages if m.preview_encoding != "text" or m.opcode == OP_CLOSE]
        for message in parsed:  # base64 and close codes can be damaged: find out now, not later
            message.to_message()
        return WebSocketSummary(
            subprotocol=self.subprotocol,
            extensions=self.extensions,
            messages=LoadedMessages(self.messages, _Message.to_message),
            counts=self.counts.model(),
            close=None if self.close is None else self.close.model(),
            messages_dropped=self.messages_dropped,
        )


class _Request(msgspec.Struct):
    method: str
    http_version: str
    headers: list[tuple[str, str]]


class _Response(msgspec.Struct):
    status: Status
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = []
    body: str = ""
    body_truncated: bool = False


class _Client(msgspec.Struct):
    address: str = ""


class _Handshake(msgspec.Struct):
    id: str
    started: Time
    url: str
    request: _Request
    websocket: _WebSocket | None = None
    answered: Time | None = None
    client: _Client | None = None
    response: _Response | None = None
    error: str | None = None
    verdict: Literal["ok", "warning", "error"] = "ok"
    stack: StackRecord | None = None
    findings: list[FindingRecord] = []

    def model(self) -> Handshake:
        r = self.response
        return Handshake(
            id=self.id,
            started=self.started,
            url=check_url(self.url),
            client_address="" if self.client is None else self.client.address,
            request=Request(
                self.request.method, self.request.http_version, Headers(self.request.headers)
            ),
            response=None
            if r is None
            else Response(
                r.status, r.reason, r.http_version, Headers(r.headers), r.body, r.body_truncated
            ),
            error=self.error,
            answered=self.answered,
            websocket=None if self.websocket is None else self.websocket.model(),
            verdict=self.verdict,
            stack=None if self.stack is None else self.stack.model(),
            findings=[f.model() for f in self.findings],
        )


class _Header(msgspec.Struct):
    created: Time = 0.0
    proxy: dict[str, str | int | float | bool | None] = {}


def from_document(document: Object, warn: Callable[[str], None], budget: Budget) -> Session:
    """A native session; a damaged handshake is skipped with a warning."""
    version = jsontext.decode(document.get("version", b"null"))
    if version != SESSION_VERSION:
        raise ValueError(f"unsupported session version {str(version)[:20]!r}")
    handshakes = jsontext.decode(
        document.get("handshakes", b"null"),
        list[Raw],
        wrong_shape='damaged session: "handshakes" is not a list',
    )
    budget.expect(len(handshakes))
    header = {name: document[name] for name in ("created", "proxy") if name in document}
    about = jsontext.decode(
        jsontext.encode(header), _Header, 'damaged session: "created" or "proxy" is wrong'
    )
    session = Session(created=about.created, proxy=dict(about.proxy))
    decoder = msgspec.json.Decoder(_Handshake)
    for number, raw in enumerate(handshakes, 1):
        budget.check_size(f"handshake {number}", len(raw))
        try:
            item = decoder.decode(raw)
            handshake = item.model()
        except ValueError as e:  # msgspec's ValidationError is one
            budget.skipped(warn, f"handshake {number} skipped: {str(e)[:200]}")
            continue
        budget.admit(session, handshake, len(item.websocket.messages) if item.websocket else 0)
    return session


def loads(data: bytes) -> Session:
    """Parse a native session strictly; raises ValueError (with a one-line reason) on bad input."""
    document = jsontext.decode(data, Object, "not a wsinspect session")
    if not looks_native(document):
        raise ValueError('not a wsinspect session (no "format": "wsinspect-session")')

    def fail(message: str) -> None:
        raise ValueError(f"damaged session: {message}")

    return from_document(document, fail, Budget())
