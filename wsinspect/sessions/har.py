"""HAR 1.2, as Chrome DevTools writes it for WebSockets, and read from any browser or proxy.

Written: every attempt is an entry with ``_resourceType: "websocket"``; an upgraded one carries
``_webSocketMessages`` (``{type: send|receive, time, opcode, data}``, binary as base64), a refused
one is an ordinary entry with its status, one without an answer has status 0 and ``_error``.
``_wsinspect`` holds what HAR has no field for: verdict, stack, findings, close, exact counts.

Read: HAR from Chrome, Firefox, mitmproxy's savehar and HTTP Toolkit. An entry is a WebSocket
attempt when it says so (``_resourceType``), asks for ``Upgrade: websocket``, has a ws(s) URL or
got a 101; everything else in the file is ignored. A damaged entry is skipped with a warning.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import msgspec

from wsinspect import __version__
from wsinspect.model import (
    OP_BINARY,
    OP_TEXT,
    Close,
    Counts,
    Finding,
    Handshake,
    Headers,
    LoadedMessages,
    Message,
    Request,
    Response,
    Session,
    Stack,
    WebSocketSummary,
)
from wsinspect.sessions import jsontext
from wsinspect.sessions.jsontext import Object, Raw

Warn = Callable[[str], None]


# -- writing -------------------------------------------------------------------------------------


def dumps(session: Session) -> bytes:
    document = {
        "log": {
            "version": "1.2",
            "creator": {"name": "wsinspect", "version": __version__},
            "pages": [],
            "entries": [entry(h) for h in session],
        }
    }
    return jsontext.encode(document)


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
        item["_webSocketMessages"] = list(map(_har_message, h.websocket.messages))
    item["_wsinspect"] = {
        "id": h.id,
        "client": h.client_address,
        "answered": h.answered,
        "verdict": h.verdict,
        "stack": None if h.stack is None else h.stack.to_dict(),
        "findings": [f.to_dict() for f in h.findings],
        "body_truncated": h.response.body_truncated if h.response else False,
        "websocket": None if h.websocket is None else _extras(h.websocket),
    }
    return item


def _extras(ws: WebSocketSummary) -> dict[str, Any]:
    return {
        "subprotocol": ws.subprotocol,
        "extensions": ws.extensions,
        "counts": ws.counts.to_dict(),
        "messages_dropped": ws.messages_dropped,
        "close": None if ws.close is None else ws.close.to_dict(),
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
    """Text as text, everything else base64, as Chrome does (control frames included)."""
    data = m.data
    if m.opcode == OP_TEXT:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # e.g. a code point cut by the preview
            text = base64.b64encode(data).decode("ascii")
    else:
        text = base64.b64encode(data).decode("ascii")
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


class _Message(msgspec.Struct, gc=False):
    """An item of ``_webSocketMessages``; ``_length`` and ``_truncated`` are ours."""

    type: Literal["send", "receive"]
    time: float
    opcode: int
    data: str = ""
    length: int | None = msgspec.field(name="_length", default=None)
    truncated: bool = msgspec.field(name="_truncated", default=False)

    def to_message(self) -> Message:
        text = self.data
        data = text.encode("utf-8") if self.opcode == OP_TEXT else base64.b64decode(text)
        return Message(
            "client" if self.type == "send" else "server",
            self.time,
            self.opcode,
            len(data) if self.length is None else self.length,
            data,
            self.truncated,
        )


class _Entry(msgspec.Struct):
    """The fields of an entry that matter here; the rest of the entry is not read."""

    request: dict[str, Any]
    started: Any = msgspec.field(name="startedDateTime", default=None)
    time: Any = None
    response: Any = None
    resource_type: Any = msgspec.field(name="_resourceType", default=None)
    messages: list[_Message] | None = msgspec.field(name="_webSocketMessages", default=None)
    extra: Any = msgspec.field(name="_wsinspect", default=None)


class _Log(msgspec.Struct):
    entries: list[Raw]
    creator: Any = None


def from_document(document: Object, warn: Warn) -> Session:
    """The WebSocket attempts of a HAR; raises ValueError when it is not a HAR at all."""
    log = jsontext.decode(
        document["log"], _Log, wrong_shape='not a HAR file ("log" has no "entries" list)'
    )
    session = Session(created=0.0, proxy={"source": "har", "creator": _creator(log.creator)})
    decoder = msgspec.json.Decoder(_Entry)
    for number, raw in enumerate(log.entries, 1):
        try:
            handshake = handshake_of(decoder.decode(raw), f"har-{number}")
        except msgspec.ValidationError as e:
            warn(f"entry {number} skipped: {e}")
            continue
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            reason = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            warn(f"entry {number} skipped: {reason}")
            continue
        if handshake is not None:
            session.add(handshake)
    session.created = min((h.started for h in session), default=0.0)
    return session


def _creator(creator: Any) -> str:
    if isinstance(creator, dict):
        return f"{creator.get('name', '')} {creator.get('version', '')}".strip()
    return ""


def is_websocket_entry(item: _Entry) -> bool:
    request, response = item.request, item.response
    headers = _headers(request.get("headers") or [])
    return (
        item.resource_type == "websocket"
        or item.messages is not None
        or any(t.lower() == "websocket" for t in headers.tokens("Upgrade"))
        or str(request["url"]).startswith(("ws://", "wss://"))
        or (isinstance(response, dict) and response.get("status") == 101)
    )


def handshake_of(item: _Entry, fallback_id: str) -> Handshake | None:
    """One entry as a Handshake, or None when it is not a WebSocket attempt."""
    if not is_websocket_entry(item):
        return None
    extra = item.extra if isinstance(item.extra, dict) else {}
    request = item.request
    started = _started(item.started)
    response, error = _response(item.response, bool(extra.get("body_truncated")))
    answered = extra.get("answered")
    if answered is None and isinstance(item.time, int | float) and item.time >= 0:
        answered = started + item.time / 1000
    handshake = Handshake(
        id=str(extra.get("id") or fallback_id),
        started=started,
        answered=None if answered is None else float(answered),
        url=_websocket_url(str(request["url"])),
        client_address=str(extra.get("client") or ""),
        request=Request(
            method=str(request.get("method") or "GET"),
            http_version=str(request.get("httpVersion") or "HTTP/1.1"),
            headers=_headers(request.get("headers") or []),
        ),
        response=response,
        error=error,
    )
    if (response is not None and response.status == 101) or item.messages is not None:
        handshake.websocket = _websocket(item.messages or [], extra.get("websocket"), response)
    verdict = extra.get("verdict")
    if verdict in ("ok", "warning", "error"):
        handshake.verdict = verdict
        stack = extra.get("stack")
        handshake.stack = None if stack is None else Stack.from_dict(stack)
        handshake.findings = [Finding.from_dict(f) for f in extra.get("findings") or []]
    return handshake


def _started(value: Any) -> float:
    if not isinstance(value, str):
        raise TypeError("startedDateTime is not a string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _websocket_url(url: str) -> str:
    """Chrome writes ws:// URLs, mitmproxy and others the http:// of the upgrade request."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"not a WebSocket URL: {url[:100]!r}")
    return urlunsplit(parts._replace(scheme=scheme))


def _headers(items: Any) -> Headers:
    if not isinstance(items, list):
        raise TypeError("headers is not a list")
    return Headers((str(h["name"]), str(h["value"])) for h in items)


def _response(item: Any, body_truncated: bool) -> tuple[Response | None, str | None]:
    if not isinstance(item, dict):
        return None, "no answer"
    error = item.get("_error")
    error = str(error) if error else None
    status = int(item.get("status") or 0)
    if status <= 0:  # Chrome and mitmproxy: status 0 when nothing came back
        return None, error or "no answer"
    content = item.get("content") or {}
    body = content.get("text") or ""
    if content.get("encoding") == "base64":
        body = base64.b64decode(body).decode("utf-8", "replace")
    response = Response(
        status=status,
        reason=str(item.get("statusText") or ""),
        http_version=str(item.get("httpVersion") or "HTTP/1.1"),
        headers=_headers(item.get("headers") or []),
        body=str(body),
        body_truncated=body_truncated,
    )
    return response, error


def _websocket(messages: list[_Message], extra: Any, response: Response | None) -> WebSocketSummary:
    headers = response.headers if response is not None else Headers()
    summary = WebSocketSummary(
        subprotocol=headers.get("Sec-WebSocket-Protocol"),
        extensions=headers.tokens("Sec-WebSocket-Extensions"),
    )
    for message in [m for m in messages if m.opcode != OP_TEXT]:
        message.to_message()  # base64 is parsed: find damage now, not when first looked at
    summary.messages = LoadedMessages(messages, _Message.to_message)
    if isinstance(extra, dict):
        summary.counts = Counts.from_dict(extra.get("counts") or {})
        summary.messages_dropped = int(extra.get("messages_dropped") or 0)
        close = extra.get("close")
        summary.close = None if close is None else Close.from_dict(close)
    else:  # somebody else's HAR: count what it kept
        for m in summary.messages:
            if m.opcode in (OP_TEXT, OP_BINARY):
                summary.counts.add(m.side, m.length)
    return summary
