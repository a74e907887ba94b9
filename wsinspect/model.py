"""The captured world: handshakes, their answers, what flowed after the upgrade, and sessions.

Each record is a ``msgspec.Struct`` declared once, here, and that declaration *is* the native
session file (docs/format.md): msgspec encodes it as it stands and checks the types and ranges
below as it decodes a file, so what is read is something every report and writer can handle.
Headers stay ordered lists of pairs: duplicates and order matter on the wire, and some server
stacks are recognised by them.

The records hold no reference cycles, so most are declared ``gc=False``: the cycle collector
never walks them. A session of 5,000 WebSockets made full collections of ~200 ms, which stop
every thread, the proxy's included (bench/blocking.py). A closed WebSocket's messages become a
tuple for the same reason (a tuple of untracked records is untracked too).

What the capture records and what the diagnosis concludes are kept apart: a ``Handshake`` holds
only what was seen; its ``Diagnosis`` is derived from it (``wsinspect.diagnose.diagnosis_of``).
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, field
from msgspec.structs import replace

T = TypeVar("T")
Side = Literal["client", "server"]
Verdict = Literal["ok", "warning", "error"]
Severity = Literal["warning", "error"]

SESSION_FORMAT = "wsinspect-session"
SESSION_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: the diagnosis was stored in each handshake; it is not read

# What a file may say, checked as it is decoded: a value out of these bounds (a time in the year
# 10^292, a status of -5, NaN) would otherwise travel on and break a report or a writer.
LATEST = 4_102_444_800.0  # 2100-01-01: later than any capture, early enough for every date API
Time = Annotated[float, Meta(ge=0.0, le=LATEST)]  # seconds since the epoch
Count = Annotated[int, Meta(ge=0, le=2**53)]  # sizes and counts: exact in a float, never negative
Status = Annotated[int, Meta(ge=0, le=999)]  # an HTTP status; 0 is "no answer"
Opcode = Annotated[int, Meta(ge=0, le=15)]  # a WebSocket frame's opcode is four bits
CloseCode = Annotated[int, Meta(ge=0, le=65535)]  # two bytes in the close frame
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]


class Headers(list[tuple[str, str]]):
    """Ordered header pairs with case-insensitive lookup; the wire order and casing are kept."""

    def get(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        for key, value in self:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self if key.lower() == lowered]

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def tokens(self, name: str) -> list[str]:
        """Comma-separated values of every header with that name, stripped and non-empty."""
        return [t.strip() for v in self.get_all(name) for t in v.split(",") if t.strip()]


class Request(msgspec.Struct, gc=False):
    method: str = "GET"
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)


class Response(msgspec.Struct, gc=False):
    status: Status
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)
    body: str = ""
    body_truncated: bool = False


# RFC 6455 opcodes
OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


class Message(msgspec.Struct, omit_defaults=True, gc=False):
    """One WebSocket message (or control frame) as seen on the wire.

    ``length`` is the payload size on the wire (the compressed size under permessage-deflate);
    ``preview`` is the start of the readable payload, cut at the preview size (``truncated`` says
    so): its text when that is UTF-8, else base64; a close frame's reads ``1001 tab closed``.
    Fields at their defaults are left out of a file: a session holds millions of these.
    """

    side: Side = field(name="from")
    time: Time
    opcode: Opcode
    length: Count
    preview: str = ""
    preview_encoding: Literal["text", "base64"] = "text"
    truncated: bool = False
    frames: Count = 1
    compressed: bool = False

    @classmethod
    def of(
        cls,
        side: Side,
        time: float,
        opcode: int,
        length: int,
        data: bytes,
        truncated: bool = False,
        frames: int = 1,
        compressed: bool = False,
    ) -> Message:
        """A message from the first bytes of its payload, as the capture has them."""
        if opcode == OP_TEXT and not truncated:
            try:  # the common case, inlined: the proxy's hot path
                return cls(
                    side,
                    time,
                    opcode,
                    length,
                    data.decode("utf-8"),
                    "text",
                    False,
                    frames,
                    compressed,
                )
            except UnicodeDecodeError:
                pass
        preview, encoding = render_preview(data, opcode, truncated)
        return cls(side, time, opcode, length, preview, encoding, truncated, frames, compressed)

    @property
    def data(self) -> bytes:
        """The payload's first bytes again. Raises ValueError when a file held a damaged preview
        (base64 that is not, a close code out of range)."""
        if self.preview_encoding == "base64":
            return base64.b64decode(self.preview, validate=True)
        if self.opcode == OP_CLOSE:
            return close_payload(self.preview)
        return self.preview.encode("utf-8")


def render_preview(
    data: bytes, opcode: int, truncated: bool
) -> tuple[str, Literal["text", "base64"]]:
    """Text when the bytes are UTF-8 (a code point cut by the preview size is trimmed), else base64.

    A close frame reads as its status code and reason, e.g. ``1001 tab closed``.
    """
    if opcode == OP_CLOSE:
        code, reason = parse_close(data)
        return (f"{code} {reason}".strip() if code is not None else ""), "text"
    if opcode != OP_BINARY:
        for trim in range(4 if truncated else 1):
            try:
                return data[: len(data) - trim].decode("utf-8"), "text"
            except UnicodeDecodeError:
                continue
    return base64.b64encode(data).decode("ascii"), "base64"


def parse_close(payload: bytes) -> tuple[int | None, str]:
    """The status code and reason of a close frame's payload (no code means 1005: None)."""
    if len(payload) < 2:
        return None, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode("utf-8", "replace")


def close_payload(preview: str) -> bytes:
    """The inverse of a close frame's preview: ``"1001 tab closed"`` back to its payload.

    Raises ValueError when the code is not one a close frame can carry (two bytes).
    """
    code, _, reason = preview.partition(" ")
    if not code:
        return b""
    if not (code.isascii() and code.isdigit() and int(code) <= 0xFFFF):
        raise ValueError(f"close code {code[:20]!r} is not a number from 0 to 65535")
    return int(code).to_bytes(2, "big") + reason.encode("utf-8")


def check_url(url: str) -> str:
    """``url`` if it is a ws:// or wss:// URL that parses (host, port in range); else ValueError.

    For files: the diagnosis and every writer take a handshake's URL apart and trust it parses.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError when out of range or not a number
    except ValueError:
        raise ValueError(f"not a URL: {url[:100]!r}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url[:100]!r}")
    return url


class Close(msgspec.Struct, gc=False):
    """How the WebSocket ended. ``code`` None means a close frame without a status (1005)."""

    code: CloseCode | None
    reason: str = ""
    by: Side | None = None
    time: Time | None = None


class Counts(msgspec.Struct, gc=False):
    client_messages: Count = 0
    server_messages: Count = 0
    client_bytes: Count = 0
    server_bytes: Count = 0

    def add(self, side: Side, payload_length: int) -> None:
        if side == "client":
            self.client_messages += 1
            self.client_bytes += payload_length
        else:
            self.server_messages += 1
            self.server_bytes += payload_length


class Violation(msgspec.Struct, frozen=True, gc=False):
    """The first bytes of one direction that break RFC 6455 where a browser checks: a browser
    fails the connection there, so nothing after them is read. ``offset`` counts that
    direction's bytes after the 101; ``bytes_hex`` is the frame's start (at most 32 bytes, a
    status line fits; 128 of an HTTP answer); ``browser_words`` is what Chrome logs for it
    (empty for the client's)."""

    side: Side
    offset: Count
    reason: str
    bytes_hex: str = ""
    browser_words: str = ""


class WebSocketSummary(msgspec.Struct, gc=False):
    """What flowed after a 101: exact counts, the close, and a bounded window of messages
    (a ``deque`` while capturing, a tuple once closed or read from a file)."""

    subprotocol: str | None = None
    extensions: list[str] = field(default_factory=list)
    messages: Sequence[Message] = field(default_factory=deque)
    messages_dropped: Count = 0
    counts: Counts = field(default_factory=Counts)
    close: Close | None = None
    violations: list[Violation] = field(default_factory=list)  # the first per direction

    def seal(self) -> None:
        """No message comes any more (closed, or read): the window becomes a tuple, which the
        cycle collector stops walking once it holds only untracked records."""
        self.messages = tuple(self.messages)


class Client(msgspec.Struct, gc=False):
    """The client's end of the connection, as the proxy saw it."""

    address: str = ""


class ErrorPage(msgspec.Struct, frozen=True, gc=False):
    """A 4xx or 5xx answer of the WebSocket's host to another request: its shape names a stack
    (Django's, Tornado's, Werkzeug's error pages) even when the refusal itself is bare."""

    status: Status
    reason: str = ""
    content_type: str = ""
    body: str = ""  # its start only, decoded from its Content-Encoding
    body_truncated: bool = False


class SiteEvidence(msgspec.Struct, frozen=True, gc=False):
    """What the proxy saw of the WebSocket's host (same scheme, host and port) in its other HTTP
    answers up to the handshake's answer: the page, its scripts, its API. A WebSocket refusal is
    often a bare status line; the same server's pages say who it is (``Server: daphne``, a
    ``csrftoken`` cookie). Every list is bounded by the capture, first seen first; cookie names
    only, never their values."""

    responses: Count = 0
    servers: tuple[str, ...] = ()  # distinct Server values
    powered_by: tuple[str, ...] = ()  # distinct X-Powered-By values
    cookie_names: tuple[str, ...] = ()  # names that Set-Cookie set
    header_names: tuple[str, ...] = ()  # distinct, as spelled: casing names stacks too
    error_pages: tuple[ErrorPage, ...] = ()


class TlsFailure(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """A TLS handshake that failed at the proxy, in its words. ``side`` "client": the client
    refused the proxy's certificate (it does not trust wsinspect's CA), so no request came and
    ``count`` groups its repeats; "server": the proxy refused the server's certificate, which is
    described by ``subject``, ``issuer`` and ``not_after`` (the first of the chain it sent)."""

    side: Side
    error: str
    sni: str = ""
    subject: str = ""
    issuer: str = ""
    not_after: Time | None = None
    count: Count = 1
    last: Time | None = None  # the latest repeat


class Handshake(msgspec.Struct, kw_only=True, dict=True):
    """One WebSocket opening handshake attempt, whatever its outcome.

    Only what was seen: the diagnosis is derived (``wsinspect.diagnose.diagnosis_of``) and kept
    beside the record, not in it (``dict=True`` lets it sit on the instance, outside the fields).
    """

    id: str
    started: Time
    answered: Time | None = None
    url: str
    client: Client = field(default_factory=Client)
    request: Request = field(default_factory=Request)
    response: Response | None = None
    error: str | None = None
    websocket: WebSocketSummary | None = None
    site: SiteEvidence | None = None  # the host's other answers, as they stood at this answer
    tls: TlsFailure | None = None  # a failed TLS handshake on either side of the proxy

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status

    @property
    def origin(self) -> str | None:
        return self.request.headers.get("Origin")

    @property
    def offered_subprotocols(self) -> list[str]:
        return self.request.headers.tokens("Sec-WebSocket-Protocol")

    @property
    def selected_subprotocol(self) -> str | None:
        if self.response is None:
            return None
        return self.response.headers.get("Sec-WebSocket-Protocol")


def kept_beside(handshake: Handshake, name: str, state: tuple[object, ...]) -> Any:
    """What was kept beside ``handshake`` under ``name`` (``keep_beside``), if it was made from
    this ``state``; else None. States are compared by identity: the capture replaces the parts
    of a handshake (its answer, its close), it never edits them."""
    kept = vars(handshake).get(name)
    if kept is not None and all(a is b for a, b in zip(kept[0], state, strict=True)):
        return kept[1]
    return None


def keep_beside(handshake: Handshake, name: str, state: tuple[object, ...], value: Any) -> None:
    """Keep ``value``, derived from ``state``, on the instance: not a field, never saved."""
    vars(handshake)[name] = (state, value)


# -- what the diagnosis concludes (wsinspect.diagnose) ---------------------------------------


class Fix(msgspec.Struct, frozen=True, gc=False):
    stack: str
    language: str
    snippet: str


class Finding(msgspec.Struct, gc=False):
    code: str
    severity: Severity
    title: str
    explanation: str = ""
    evidence: dict[str, str] = field(default_factory=dict)
    fixes: tuple[Fix, ...] = ()


class Stack(msgspec.Struct, gc=False):
    """The server stack that answered, as far as the wire tells."""

    name: str
    confidence: Fraction
    evidence: tuple[str, ...] = ()


class Diagnosis(msgspec.Struct, frozen=True, gc=False):
    """Tuples, not lists: kept beside every handshake, and a tuple of untracked records is
    invisible to the cycle collector too."""

    verdict: Verdict = "ok"
    stack: Stack | None = None
    findings: tuple[Finding, ...] = ()


# -- encoding and decoding --------------------------------------------------------------------


def _enc_hook(value: Any) -> Any:
    if isinstance(value, deque):  # a message window while capturing
        return list(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Headers:
        return Headers(msgspec.convert(value, list[tuple[str, str]]))
    raise NotImplementedError(f"cannot decode {kind.__name__}")


def encoder() -> msgspec.json.Encoder:
    """A JSON encoder for these records (a capture's message window is a deque)."""
    return msgspec.json.Encoder(enc_hook=_enc_hook)


def decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    """A JSON decoder for ``kind``, checking the types and ranges declared here."""
    return msgspec.json.Decoder(kind, dec_hook=_dec_hook)


def to_builtins(record: msgspec.Struct) -> Any:
    """Plain dicts and lists, as the file has them."""
    return msgspec.to_builtins(record, enc_hook=_enc_hook)


# -- sessions ---------------------------------------------------------------------------------


class Session:
    """The handshakes of one capture, in the order they started, addressable by id."""

    def __init__(self, created: float, proxy: dict[str, Any] | None = None) -> None:
        self.created = created
        self.proxy: dict[str, Any] = {} if proxy is None else proxy
        self._handshakes: dict[str, Handshake] = {}
        self._order: list[Handshake] = []

    def add(self, handshake: Handshake) -> None:
        known = self._handshakes.get(handshake.id)
        if known is None:
            self._order.append(handshake)
        else:
            self._order[self._order.index(known)] = handshake
        self._handshakes[handshake.id] = handshake

    def since(self, index: int) -> list[Handshake]:
        """Handshakes added after the first ``index``: how views pull what is new."""
        return self._order[index:]

    def clear(self) -> None:
        self._handshakes.clear()
        self._order.clear()

    def forget(self, handshake_ids: Iterable[str]) -> None:
        """Drop these handshakes: a session that only stages them for somebody else (the feed of
        the dashboard's proxy process) stays small."""
        for handshake_id in handshake_ids:
            self._handshakes.pop(handshake_id, None)
        self._order = [h for h in self._order if h.id in self._handshakes]

    def get(self, handshake_id: str) -> Handshake | None:
        return self._handshakes.get(handshake_id)

    def __iter__(self) -> Iterator[Handshake]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._handshakes)

    def snapshot(self) -> Session:
        """A copy that another thread can read while capture goes on (a save writes it).

        A handshake that is over (answered, and its WebSocket if any closed) no longer changes
        and is shared; the few still in progress are copied with their counts and message
        window, which the proxy changes in place. The copy is made on the proxy's loop, in
        milliseconds; the slow writing happens elsewhere.
        """
        order = [h if is_over(h) else _in_progress_copy(h) for h in tuple(self._order)]
        copy = Session(created=self.created, proxy=dict(self.proxy))
        copy._order = order
        copy._handshakes = {h.id: h for h in order}
        return copy


def is_over(handshake: Handshake) -> bool:
    """Answered (or failed), and its WebSocket, if any, closed: nothing of it changes now."""
    ws = handshake.websocket
    return handshake.answered is not None and (ws is None or ws.close is not None)


def _in_progress_copy(handshake: Handshake) -> Handshake:
    ws = handshake.websocket
    if ws is not None:
        ws = replace(
            ws,
            extensions=list(ws.extensions),
            messages=tuple(ws.messages),
            counts=replace(ws.counts),
        )
    return replace(handshake, websocket=ws)
