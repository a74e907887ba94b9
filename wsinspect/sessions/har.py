"""HAR 1.2, as Chrome DevTools writes it for WebSockets, and read from any browser or proxy.

Written: every attempt is an entry with ``_resourceType: "websocket"``; an upgraded one carries
``_webSocketMessages`` (``{type: send|receive, time, opcode, data}``, binary as base64), a refused
one is an ordinary entry with its status, one without an answer has status 0 and ``_error``.
``_wsinspect`` holds what HAR has no field for: close, exact counts, the client's address.

Read: HAR from Chrome, Firefox, mitmproxy's savehar and HTTP Toolkit. An entry is a WebSocket
attempt when it says so (``_resourceType``), asks for ``Upgrade: websocket``, has a ws(s) URL or
got a 101; everything else in the file is ignored. A damaged entry is skipped with a warning.
Chrome writes a failed handshake as status 0 and an ``error`` message with its own words, the only
evidence there is: they are read back into what they prove (``chrome_said``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import msgspec

from wsinspect import __version__
from wsinspect.diagnose.facts import expected_accept
from wsinspect.model import (
    LATEST,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    Client,
    Close,
    Count,
    Counts,
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    Session,
    Time,
    WebSocketSummary,
    check_url,
    encoder,
)
from wsinspect.sessions import jsontext
from wsinspect.sessions.files import Budget
from wsinspect.sessions.jsontext import Object, Raw

Warn = Callable[[str], None]


# -- writing -------------------------------------------------------------------------------------


def dumps(session: Session) -> bytes:
    return b"".join(chunks(session))


def chunks(session: Session) -> Iterator[bytes]:
    """The HAR, an entry at a time."""
    document = {
        "log": {
            "version": "1.2",
            "creator": {"name": "wsinspect", "version": __version__},
            "pages": [],
            "entries": [],
        }
    }
    return jsontext.encode_chunks(document, map(entry, session), encoder())


def entry(h: Handshake) -> dict[str, Any]:
    waited = max(0.0, (h.answered - h.started) * 1000) if h.answered else 0.0
    item: dict[str, Any] = {
        "startedDateTime": datetime.fromtimestamp(h.started, UTC).isoformat(),
        "time": waited,
        "request": {
            "method": h.request.method,
            "url": h.url,
            "httpVersion": h.request.http_version,
            "cookies": [],
            "headers": _har_headers(h.request.headers),
            "queryString": [
                {"name": k, "value": v}
                for k, v in parse_qsl(urlsplit(h.url).query, keep_blank_values=True)
            ],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": _har_response(h),
        "cache": {},
        "timings": {"send": 0, "wait": waited, "receive": 0},
        "_resourceType": "websocket",
    }
    if h.websocket is not None:
        kept = (m for m in h.websocket.messages if m.opcode != OP_CLOSE)  # Chrome never lists one
        item["_webSocketMessages"] = list(map(_har_message, kept))
    item["_wsinspect"] = {
        "id": h.id,
        "client": h.client.address,
        "answered": h.answered,
        "body_truncated": h.response.body_truncated if h.response else False,
        "websocket": None if h.websocket is None else _extras(h.websocket),
    }
    return item


def _extras(ws: WebSocketSummary) -> dict[str, Any]:
    return {
        "subprotocol": ws.subprotocol,
        "extensions": ws.extensions,
        "counts": ws.counts,
        "messages_dropped": ws.messages_dropped,
        "close": ws.close,
    }


def _har_headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _har_response(h: Handshake) -> dict[str, Any]:
    r = h.response
    if r is None:
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": h.error or "no answer",
        }
    size = len(r.body.encode("utf-8"))
    return {
        "status": r.status,
        "statusText": r.reason,
        "httpVersion": r.http_version,
        "cookies": [],
        "headers": _har_headers(r.headers),
        "content": {"size": size, "mimeType": r.headers.get("Content-Type", ""), "text": r.body},
        "redirectURL": r.headers.get("Location", ""),
        "headersSize": -1,
        "bodySize": size,
        **({"_error": h.error} if h.error else {}),
    }


def _har_message(m: Message) -> dict[str, Any]:
    """Text as text, everything else base64, as Chrome does (pings and pongs included)."""
    if m.preview_encoding == "base64" or (m.opcode == OP_TEXT):
        text = m.preview  # base64 already, or a text message's text
    else:
        text = base64.b64encode(m.data).decode("ascii")
    item = {
        "type": "send" if m.side == "client" else "receive",
        "time": m.time,
        "opcode": m.opcode,
        "data": text,
        "_length": m.length,
    }
    if m.truncated:
        item["_truncated"] = True
    return item


# -- reading -------------------------------------------------------------------------------------


def looks_har(document: Object) -> bool:
    return "log" in document


# Every entry is first read as a ``_Sniff``: enough to tell a WebSocket attempt, cheaply (a HAR is
# mostly pages, scripts and images). An attempt is then read again, whole, into the shapes below,
# which check types and ranges as they decode.


class _Sniff(msgspec.Struct):
    request: Any = None
    response: Any = None
    resource_type: Any = msgspec.field(name="_resourceType", default=None)
    messages: Raw = msgspec.field(name="_webSocketMessages", default=Raw(b""))

    def is_websocket(self) -> bool:
        """It says so, asks for ``Upgrade: websocket``, has a ws(s) URL or got a 101."""
        request = self.request if isinstance(self.request, dict) else {}
        response = self.response if isinstance(self.response, dict) else {}
        headers = request.get("headers")
        url = request.get("url")
        return (
            self.resource_type == "websocket"
            or bytes(self.messages) not in (b"", b"null")
            or (isinstance(url, str) and url.startswith(("ws://", "wss://")))
            or response.get("status") == 101
            or (isinstance(headers, list) and any(map(_asks_upgrade, headers)))
        )


def _asks_upgrade(header: Any) -> bool:
    if not isinstance(header, dict):
        return False
    name, value = header.get("name"), header.get("value")
    return (
        isinstance(name, str)
        and name.lower() == "upgrade"
        and isinstance(value, str)
        and any(t.strip().lower() == "websocket" for t in value.split(","))
    )


class _Message(msgspec.Struct, gc=False):
    """An item of ``_webSocketMessages``; ``_length`` and ``_truncated`` are ours. Chrome writes
    what went wrong as ``type: "error"`` with opcode -1 and its words in ``data``."""

    type: Literal["send", "receive", "error"]
    time: Time  # a wall time, or for Chrome's error before any request its monotonic clock
    opcode: Annotated[int, msgspec.Meta(ge=-1, le=15)]  # -1: an error, not a frame
    data: str = ""
    length: Count | None = msgspec.field(name="_length", default=None)
    truncated: bool = msgspec.field(name="_truncated", default=False)

    def to_message(self) -> Message:
        if self.opcode < 0:
            raise ValueError(f"a {self.type} message with opcode {self.opcode}")
        text = self.data
        data = text.encode("utf-8") if self.opcode == OP_TEXT else base64.b64decode(text)
        return Message.of(
            "client" if self.type == "send" else "server",
            self.time,
            self.opcode,
            len(data) if self.length is None else self.length,
            data,
            self.truncated,
        )


class _Header(msgspec.Struct):
    name: str
    value: str


def _headers(items: list[_Header]) -> Headers:
    return Headers((h.name, h.value) for h in items)


class _Request(msgspec.Struct):
    url: str
    method: str = "GET"
    http_version: str = msgspec.field(name="httpVersion", default="HTTP/1.1")
    headers: list[_Header] = []


class _Content(msgspec.Struct):
    text: str = ""
    encoding: str = ""


class _Response(msgspec.Struct):
    status: Annotated[int, msgspec.Meta(ge=-1, le=999)] = 0  # 0 or -1: nothing came back
    status_text: str = msgspec.field(name="statusText", default="")
    http_version: str = msgspec.field(name="httpVersion", default="")
    headers: list[_Header] = []
    content: _Content | None = None
    error: str | None = msgspec.field(name="_error", default=None)


class _WebSocketExtras(msgspec.Struct):
    counts: Counts = msgspec.field(default_factory=Counts)
    messages_dropped: Count = 0
    close: Close | None = None


class _Extras(msgspec.Struct):
    """``_wsinspect``: what our own HAR keeps that HAR has no field for (version 1 also wrote
    its diagnosis there: not read, it is derived)."""

    id: str | None = None
    client: str | None = None
    answered: Time | None = None
    body_truncated: bool = False
    websocket: _WebSocketExtras | None = None


class _Entry(msgspec.Struct):
    request: _Request
    started: str = msgspec.field(name="startedDateTime")
    time: Annotated[float, msgspec.Meta(ge=-1.0, le=LATEST * 1000)] | None = None  # ms; -1: unknown
    response: _Response | None = None
    messages: list[_Message] | None = msgspec.field(name="_webSocketMessages", default=None)
    extra: _Extras = msgspec.field(name="_wsinspect", default_factory=_Extras)


class _Log(msgspec.Struct):
    entries: list[Raw]
    creator: Any = None


def from_document(document: Object, warn: Warn, budget: Budget) -> Session:
    """The WebSocket attempts of a HAR; raises ValueError when it is not a HAR at all."""
    log = jsontext.decode(
        document["log"], _Log, wrong_shape='not a HAR file ("log" has no "entries" list)'
    )
    session = Session(created=0.0, proxy={"source": "har", "creator": _creator(log.creator)})
    sniff, decoder = msgspec.json.Decoder(_Sniff), msgspec.json.Decoder(_Entry)
    for number, raw in enumerate(log.entries, 1):
        budget.check_size(f"entry {number}", len(raw))
        try:
            if not sniff.decode(raw).is_websocket():
                continue
            item = decoder.decode(raw)
            handshake = handshake_of(item, f"har-{number}")
        except ValueError as e:  # msgspec's ValidationError is one
            budget.skipped(warn, f"entry {number} skipped: {str(e)[:200]}")
            continue
        budget.admit(session, handshake, len(item.messages or ()))
    session.created = min((h.started for h in session), default=0.0)
    return session


def _creator(creator: Any) -> str:
    if isinstance(creator, dict):
        return f"{creator.get('name', '')} {creator.get('version', '')}".strip()[:200]
    return ""


def handshake_of(item: _Entry, fallback_id: str) -> Handshake:
    """One WebSocket attempt; ValueError when what it says cannot be true."""
    extra = item.extra
    started = _started(item.started)
    response, error = _response(item.response, extra.body_truncated)
    frames = [m for m in item.messages or () if m.type != "error"]
    said = next((m.data for m in item.messages or () if m.type == "error"), None)
    if said is not None:
        response, error = chrome_said(said[:MAX_SAID], response, error, item.request.headers)
    answered = extra.answered
    if answered is None and item.time is not None and item.time >= 0:
        answered = min(started + item.time / 1000, LATEST)
    handshake = Handshake(
        id=extra.id or fallback_id,
        started=started,
        answered=answered,
        url=check_url(_websocket_url(item.request.url)),
        client=Client(extra.client or ""),
        request=Request(
            method=item.request.method or "GET",
            http_version=item.request.http_version or "HTTP/1.1",
            headers=_headers(item.request.headers),
        ),
        response=response,
        error=error,
    )
    upgraded = response is not None and response.status == 101
    if upgraded or frames or (item.messages is not None and said is None):
        handshake.websocket = _websocket(frames, extra.websocket, response)
    return handshake


MAX_SAID = 500  # Chrome's words are a line; anything longer is not Chrome's

# Chrome's words (net/websockets/websocket_basic_handshake_stream.cc, websocket_channel.cc) and
# what each proves. Chrome checks a 101's Upgrade, Connection and Sec-WebSocket-Accept before its
# subprotocol, so a subprotocol complaint proves a 101 with those right and no subprotocol.
_STATUS = re.compile(r"Unexpected response code: (\d{3})\b")
_NO_SUBPROTOCOL = "Sent non-empty 'Sec-WebSocket-Protocol' header but no response was received"
_CERTIFICATE = re.compile(r"net::ERR_(?:CERT_[A-Z_]+|SSL_PINNED_KEY_NOT_IN_CERT_CHAIN)\b")


def chrome_said(
    said: str, response: Response | None, error: str | None, request: list[_Header]
) -> tuple[Response | None, str | None]:
    """The answer and error an ``error`` message of Chrome's proves, when nothing better was kept.

    ``Unexpected response code: 403`` is a 403 with nothing else known; a subprotocol complaint
    is a 101 without Sec-WebSocket-Protocol; anything else (refused, a certificate, a bad 101)
    had no answer a rule can read, and Chrome's words become the handshake's error (as they do
    beside an answer the file kept, a 101 Chrome later failed, say)."""
    if response is not None:  # the file kept the answer itself: it says more
        return response, error or f"Chrome: {said}"
    status = _STATUS.search(said)
    if status is not None:
        code = int(status.group(1))
        return Response(status=code, reason=_phrase(code), headers=Headers()), None
    if _NO_SUBPROTOCOL in said:
        return _bare_101(_headers(request)), None
    if _CERTIFICATE.search(said):
        return None, f"the browser rejected the server's TLS certificate (Chrome: {said})"
    return None, f"Chrome: {said}"


def _phrase(status: int) -> str:
    """The usual reason phrase: Chrome does not say which came, and none is evidence of a stack
    (an empty one would be: some servers send none)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _bare_101(request: Headers) -> Response:
    """The 101 Chrome accepted all but the subprotocol of: the headers it had checked, in an order
    no known stack writes (the order of a real answer is evidence of its stack; this one is not)."""
    headers = Headers([("Connection", "Upgrade"), ("Upgrade", "websocket")])
    key = request.get("Sec-WebSocket-Key")
    if key is not None:
        headers = Headers([*headers, ("Sec-WebSocket-Accept", expected_accept(key))])
    return Response(status=101, reason="Switching Protocols", headers=headers)


def _started(value: str) -> float:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"startedDateTime {value[:40]!r} is not a date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    started = moment.timestamp()
    if -1 <= started < 0:  # Chrome's "1969-12-31T23:59:59.000Z": no request was ever sent
        return 0.0
    if not 0 <= started <= LATEST:
        raise ValueError(f"startedDateTime {value[:40]!r} is not between 1970 and 2100")
    return started


def _websocket_url(url: str) -> str:
    """Chrome writes ws:// URLs, mitmproxy and others the http:// of the upgrade request."""
    scheme, colon, rest = url.partition(":")
    scheme = {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme)
    return f"{scheme}{colon}{rest}"


def _response(item: _Response | None, body_truncated: bool) -> tuple[Response | None, str | None]:
    if item is None:
        return None, "no answer"
    error = item.error or None
    if item.status <= 0:  # Chrome and mitmproxy: status 0 when nothing came back
        return None, error or "no answer"
    content = item.content or _Content()
    body = content.text
    if content.encoding == "base64":
        body = base64.b64decode(body).decode("utf-8", "replace")
    response = Response(
        status=item.status,
        reason=item.status_text,
        http_version=item.http_version or "HTTP/1.1",
        headers=_headers(item.headers),
        body=body,
        body_truncated=body_truncated,
    )
    return response, error


def _websocket(
    messages: list[_Message], extra: _WebSocketExtras | None, response: Response | None
) -> WebSocketSummary:
    headers = response.headers if response is not None else Headers()
    summary = WebSocketSummary(
        subprotocol=headers.get("Sec-WebSocket-Protocol"),
        extensions=headers.tokens("Sec-WebSocket-Extensions"),
    )
    summary.messages = tuple(m.to_message() for m in messages)  # base64 parsed: damage shows now
    if extra is not None:
        summary.counts = extra.counts
        summary.messages_dropped = extra.messages_dropped
        summary.close = extra.close
    else:  # somebody else's HAR: count what it kept
        for m in summary.messages:
            if m.opcode in (OP_TEXT, OP_BINARY):
                summary.counts.add(m.side, m.length)
    return summary
