"""The captured world: handshakes, their answers, what flowed after the upgrade, and sessions.

Plain typed data with a lossless ``to_dict``/``from_dict`` pair per class, matching the native
session format of DESIGN.md. Headers stay ordered lists of pairs: duplicates and order matter on
the wire, and some server stacks are recognised by them.
"""

from __future__ import annotations

import base64
import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

Side = Literal["client", "server"]
Verdict = Literal["ok", "warning", "error"]
Severity = Literal["warning", "error"]

SESSION_FORMAT = "wsinspect-session"
SESSION_VERSION = 1


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

    def to_list(self) -> list[list[str]]:
        return [[k, v] for k, v in self]

    @classmethod
    def from_list(cls, pairs: Iterable[Iterable[str]]) -> Headers:
        result = cls()
        for pair in pairs:
            key, value = pair
            result.append((str(key), str(value)))
        return result


@dataclass(slots=True)
class Request:
    method: str = "GET"
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "http_version": self.http_version,
            "headers": self.headers.to_list(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Request:
        return cls(
            method=str(d["method"]),
            http_version=str(d["http_version"]),
            headers=Headers.from_list(d["headers"]),
        )


@dataclass(slots=True)
class Response:
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)
    body: str = ""
    body_truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "http_version": self.http_version,
            "headers": self.headers.to_list(),
            "body": self.body,
            "body_truncated": self.body_truncated,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Response:
        return cls(
            status=int(d["status"]),
            reason=str(d.get("reason", "")),
            http_version=str(d.get("http_version", "HTTP/1.1")),
            headers=Headers.from_list(d.get("headers", [])),
            body=str(d.get("body", "")),
            body_truncated=bool(d.get("body_truncated", False)),
        )


# RFC 6455 opcodes
OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


@dataclass(slots=True)
class Message:
    """One WebSocket message (or control frame) as seen on the wire.

    ``length`` is the payload size on the wire (the compressed size under permessage-deflate);
    ``data`` holds the first bytes of the readable payload, cut at the preview size (``truncated``
    says so). The text or base64 preview is rendered from it on demand: the proxy's hot path only
    keeps bytes, and most messages leave the bounded window before anybody looks at them.
    """

    side: Side
    time: float
    opcode: int
    length: int
    data: bytes = b""
    truncated: bool = False
    frames: int = 1
    compressed: bool = False

    @property
    def preview(self) -> str:
        return render_preview(self.data, self.opcode, self.truncated)[0]

    @property
    def preview_encoding(self) -> Literal["text", "base64"]:
        return render_preview(self.data, self.opcode, self.truncated)[1]

    def to_dict(self) -> dict[str, Any]:
        """Fields at their defaults are left out: a session holds millions of these."""
        if self.opcode == OP_TEXT and not (self.truncated or self.compressed) and self.frames == 1:
            try:  # the common case, inlined
                return {
                    "from": self.side,
                    "time": self.time,
                    "opcode": OP_TEXT,
                    "length": self.length,
                    "preview": self.data.decode("utf-8"),
                }
            except UnicodeDecodeError:
                pass
        preview, encoding = render_preview(self.data, self.opcode, self.truncated)
        d: dict[str, Any] = {
            "from": self.side,
            "time": self.time,
            "opcode": self.opcode,
            "length": self.length,
            "preview": preview,
        }
        if encoding != "text":
            d["preview_encoding"] = encoding
        if self.truncated:
            d["truncated"] = True
        if self.frames != 1:
            d["frames"] = self.frames
        if self.compressed:
            d["compressed"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        # Written for speed (a loaded session may hold a million messages): types are checked,
        # and converted only when they are not already right.
        side, opcode, time, length = d["from"], d["opcode"], d["time"], d["length"]
        if side != "client" and side != "server":
            raise ValueError(f"message 'from' must be client or server, not {str(side)[:20]!r}")
        if type(opcode) is not int:
            opcode = int(opcode)
        if type(time) is not float:
            time = float(time)
        if type(length) is not int:
            length = int(length)
        preview = d.get("preview", "")
        if type(preview) is not str:
            raise TypeError("message preview is not a string")
        encoding = d.get("preview_encoding", "text")
        if encoding == "text":
            data = close_payload(preview) if opcode == OP_CLOSE else preview.encode("utf-8")
        elif encoding == "base64":
            data = base64.b64decode(preview, validate=True)
        else:
            raise ValueError(f"unknown preview_encoding {str(encoding)[:20]!r}")
        if len(d) == 5:  # only the fields without defaults
            return cls(side, time, opcode, length, data)
        return cls(
            side,
            time,
            opcode,
            length,
            data,
            d.get("truncated", False) is True,
            _int(d.get("frames", 1)),
            d.get("compressed", False) is True,
        )


def _int(value: Any) -> int:
    return value if type(value) is int else int(value)


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
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError when out of range or not a number
    except ValueError:
        raise ValueError(f"not a URL: {url[:100]!r}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url[:100]!r}")
    return url


class LoadedMessages(Sequence[Message]):
    """Messages read from a file, made ``Message`` objects when first looked at.

    A session file may hold a million messages; opening it lists the handshakes, and a person
    then reads the messages of a few (measured: building them all took half the reading time).
    """

    __slots__ = ("_convert", "_items", "_messages")

    def __init__(self, items: list[Any], convert: Callable[[Any], Message]) -> None:
        self._items = items
        self._convert = convert
        self._messages: list[Message] | None = None

    def _all(self) -> list[Message]:
        if self._messages is None:
            self._messages = list(map(self._convert, self._items))
            self._items = []
        return self._messages

    def __len__(self) -> int:
        return len(self._items) if self._messages is None else len(self._messages)

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __iter__(self) -> Iterator[Message]:
        return iter(self._all())


@dataclass(slots=True)
class Close:
    """How the WebSocket ended. ``code`` None means a close frame without a status (1005)."""

    code: int | None
    reason: str = ""
    by: Side | None = None
    time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, "by": self.by, "time": self.time}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Close:
        by = d.get("by")
        if by not in ("client", "server", None):
            raise ValueError(f"close 'by' must be client, server or null, not {by!r}")
        code = d.get("code")
        time = d.get("time")
        return cls(
            code=None if code is None else int(code),
            reason=str(d.get("reason", "")),
            by=by,
            time=None if time is None else float(time),
        )


@dataclass(slots=True)
class Counts:
    client_messages: int = 0
    server_messages: int = 0
    client_bytes: int = 0
    server_bytes: int = 0

    def add(self, side: Side, payload_length: int) -> None:
        if side == "client":
            self.client_messages += 1
            self.client_bytes += payload_length
        else:
            self.server_messages += 1
            self.server_bytes += payload_length

    def to_dict(self) -> dict[str, int]:
        return {
            "client_messages": self.client_messages,
            "server_messages": self.server_messages,
            "client_bytes": self.client_bytes,
            "server_bytes": self.server_bytes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counts:
        return cls(**{name: int(d.get(name, 0)) for name in cls.__dataclass_fields__})


@dataclass(slots=True)
class WebSocketSummary:
    """What flowed after a 101: exact counts, the close, and a bounded window of messages
    (a ``deque`` while capturing, ``LoadedMessages`` when read from a file)."""

    subprotocol: str | None = None
    extensions: list[str] = field(default_factory=list)
    messages: Sequence[Message] = field(default_factory=deque)
    counts: Counts = field(default_factory=Counts)
    close: Close | None = None
    messages_dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "subprotocol": self.subprotocol,
            "extensions": list(self.extensions),
            "messages": list(map(Message.to_dict, self.messages)),
            "messages_dropped": self.messages_dropped,
            "counts": self.counts.to_dict(),
            "close": None if self.close is None else self.close.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WebSocketSummary:
        close = d.get("close")
        subprotocol = d.get("subprotocol")
        return cls(
            subprotocol=None if subprotocol is None else str(subprotocol),
            extensions=[str(e) for e in d.get("extensions", [])],
            messages=deque(map(Message.from_dict, d.get("messages", []))),
            messages_dropped=int(d.get("messages_dropped", 0)),
            counts=Counts.from_dict(d.get("counts", {})),
            close=None if close is None else Close.from_dict(close),
        )


@dataclass(slots=True)
class Fix:
    stack: str
    language: str
    snippet: str

    def to_dict(self) -> dict[str, str]:
        return {"stack": self.stack, "language": self.language, "snippet": self.snippet}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fix:
        return cls(stack=str(d["stack"]), language=str(d["language"]), snippet=str(d["snippet"]))


@dataclass(slots=True)
class Finding:
    code: str
    severity: Severity
    title: str
    explanation: str
    evidence: dict[str, str] = field(default_factory=dict)
    fixes: list[Fix] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "evidence": dict(self.evidence),
            "fixes": [f.to_dict() for f in self.fixes],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        severity = d["severity"]
        if severity not in ("warning", "error"):
            raise ValueError(f"finding severity must be warning or error, not {severity!r}")
        return cls(
            code=str(d["code"]),
            severity=severity,
            title=str(d["title"]),
            explanation=str(d.get("explanation", "")),
            evidence={str(k): str(v) for k, v in d.get("evidence", {}).items()},
            fixes=[Fix.from_dict(f) for f in d.get("fixes", [])],
        )


@dataclass(slots=True)
class Stack:
    """The server stack that answered, as far as the wire tells."""

    name: str
    confidence: float
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence, "evidence": list(self.evidence)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stack:
        return cls(
            name=str(d["name"]),
            confidence=float(d["confidence"]),
            evidence=[str(e) for e in d.get("evidence", [])],
        )


@dataclass(slots=True)
class Handshake:
    """One WebSocket opening handshake attempt, whatever its outcome."""

    id: str
    started: float
    url: str
    client_address: str = ""
    request: Request = field(default_factory=Request)
    response: Response | None = None
    error: str | None = None
    answered: float | None = None
    websocket: WebSocketSummary | None = None
    verdict: Verdict = "ok"
    stack: Stack | None = None
    findings: list[Finding] = field(default_factory=list)

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started": self.started,
            "answered": self.answered,
            "url": self.url,
            "client": {"address": self.client_address},
            "request": self.request.to_dict(),
            "response": None if self.response is None else self.response.to_dict(),
            "error": self.error,
            "websocket": None if self.websocket is None else self.websocket.to_dict(),
            "verdict": self.verdict,
            "stack": None if self.stack is None else self.stack.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Handshake:
        response = d.get("response")
        websocket = d.get("websocket")
        stack = d.get("stack")
        verdict = d.get("verdict", "ok")
        if verdict not in ("ok", "warning", "error"):
            raise ValueError(f"verdict must be ok, warning or error, not {verdict!r}")
        error = d.get("error")
        answered = d.get("answered")
        return cls(
            id=str(d["id"]),
            started=float(d["started"]),
            answered=None if answered is None else float(answered),
            url=str(d["url"]),
            client_address=str((d.get("client") or {}).get("address", "")),
            request=Request.from_dict(d["request"]),
            response=None if response is None else Response.from_dict(response),
            error=None if error is None else str(error),
            websocket=None if websocket is None else WebSocketSummary.from_dict(websocket),
            verdict=verdict,
            stack=None if stack is None else Stack.from_dict(stack),
            findings=[Finding.from_dict(f) for f in d.get("findings", [])],
        )


@dataclass(slots=True)
class Session:
    """The handshakes of one capture, in the order they started, addressable by id."""

    created: float
    proxy: dict[str, Any] = field(default_factory=dict)
    _handshakes: dict[str, Handshake] = field(default_factory=dict, repr=False)
    _order: list[Handshake] = field(default_factory=list, repr=False)

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

    def get(self, handshake_id: str) -> Handshake | None:
        return self._handshakes.get(handshake_id)

    def __iter__(self) -> Iterator[Handshake]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._handshakes)

    def snapshot(self) -> Session:
        """A copy that another thread can read while capture goes on (an autosave writes it).

        A handshake that is over (answered, and its WebSocket if any closed) no longer changes
        and is shared; the few still in progress are copied with their counts and message
        window, which the proxy changes in place. The copy is made on the proxy's loop, in
        milliseconds; the slow writing happens elsewhere.
        """
        order = [h if _over(h) else _in_progress_copy(h) for h in tuple(self._order)]
        copy = Session(created=self.created, proxy=dict(self.proxy))
        copy._order = order
        copy._handshakes = {h.id: h for h in order}
        return copy

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SESSION_FORMAT,
            "version": SESSION_VERSION,
            "created": self.created,
            "proxy": dict(self.proxy),
            "handshakes": [h.to_dict() for h in self],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Session:
        if d.get("format") != SESSION_FORMAT:
            raise ValueError(f"not a wsinspect session (format is {d.get('format')!r})")
        if d.get("version") != SESSION_VERSION:
            raise ValueError(f"unsupported session version {d.get('version')!r}")
        session = cls(created=float(d["created"]), proxy=dict(d.get("proxy") or {}))
        for item in d["handshakes"]:
            session.add(Handshake.from_dict(item))
        return session


def _over(handshake: Handshake) -> bool:
    ws = handshake.websocket
    return handshake.answered is not None and (ws is None or ws.close is not None)


def _in_progress_copy(handshake: Handshake) -> Handshake:
    ws = handshake.websocket
    if ws is not None:
        ws = dataclasses.replace(
            ws,
            extensions=list(ws.extensions),
            messages=tuple(ws.messages),
            counts=dataclasses.replace(ws.counts),
        )
    return dataclasses.replace(handshake, websocket=ws, findings=list(handshake.findings))
