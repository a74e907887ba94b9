"""mitmproxy flow files (``.mitm``): what ``mitmdump -w`` records and ``mitmweb -r`` shows.

Written: one HTTP flow per attempt, with its response or error; upgraded ones carry their
messages (the kept previews: the capture holds no more) and close code. Failed attempts are
marked, and each flow's comment says the verdict and the top finding, so mitmweb lists them
explained. Read: any flow file; the HTTP flows that asked for ``Upgrade: websocket`` are replayed
through the same ``Recorder`` the proxy uses, so a capture made elsewhere reads like our own.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import msgspec

from wsinspect.diagnose import diagnosis_of
from wsinspect.model import (
    OP_BINARY,
    OP_TEXT,
    CloseCode,
    Handshake,
    Headers,
    Opcode,
    Session,
    Status,
    Time,
    check_url,
)
from wsinspect.report import top_finding
from wsinspect.sessions.files import Budget

if TYPE_CHECKING:
    from mitmproxy import http

    from wsinspect.capture.addon import Recorder

Warn = Callable[[str], None]
ATTEMPT = "wsinspect.attempt"  # flow metadata: an attempt whose request headers were not recorded
MARKS = {"error": ":x:", "warning": ":warning:", "ok": ""}  # mitmweb shows these emoji marks


def looks_mitm(data: bytes) -> bool:
    """Flow files are tnetstrings: a length, a colon, then the payload."""
    head = data[:12]
    colon = head.find(b":")
    return colon > 0 and head[:colon].isdigit()


def dumps(session: Session) -> bytes:
    return b"".join(chunks(session))


def chunks(session: Session) -> Iterator[bytes]:
    """The flows, one at a time."""
    from mitmproxy import io as mitmio

    out = io.BytesIO()
    writer = mitmio.FlowWriter(out)
    for handshake in session:
        writer.add(to_flow(handshake))
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def to_flow(h: Handshake) -> http.HTTPFlow:
    from mitmproxy import connection, flow, http, websocket

    url = urlsplit(h.url)
    secure = url.scheme == "wss"
    host = url.hostname or ""
    port = url.port or (443 if secure else 80)
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    client = connection.Client(
        peername=_peer(h.client.address), sockname=("", 0), timestamp_start=h.started
    )
    server = connection.Server(address=(host, port))
    result = http.HTTPFlow(client, server)
    result.request = http.Request(
        host,
        port,
        h.request.method.encode(),
        b"https" if secure else b"http",
        b"",
        path.encode(),
        h.request.http_version.encode(),
        _fields(h.request.headers),
        b"",
        None,
        h.started,
        h.started,
    )
    answered = h.answered or h.started
    if h.response is not None:
        r = h.response
        result.response = http.Response(
            r.http_version.encode(),
            r.status,
            r.reason.encode("latin-1", "replace"),
            _fields(r.headers),
            r.body.encode("utf-8"),
            None,
            answered,
            answered,
        )
    if h.error:
        result.error = flow.Error(h.error, answered)
    ws = h.websocket
    if ws is not None and h.response is not None:
        data = websocket.WebSocketData()
        data.messages = [
            websocket.WebSocketMessage(m.opcode, m.side == "client", m.data, m.time)
            for m in ws.messages
            if m.opcode in (OP_TEXT, OP_BINARY)  # mitmproxy keeps only data messages
        ]
        if ws.close is not None:
            data.close_code = ws.close.code or 1005
            data.close_reason = ws.close.reason
            data.closed_by_client = None if ws.close.by is None else ws.close.by == "client"
            data.timestamp_end = ws.close.time
        result.websocket = data
    result.metadata[ATTEMPT] = True  # e.g. from a browser's HAR that kept no request headers
    verdict = diagnosis_of(h).verdict
    result.marked = MARKS[verdict]
    result.comment = f"wsinspect: {verdict}" + (f" — {top_finding(h)}" if top_finding(h) else "")
    return result


def _peer(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        return "", 0


def _fields(headers: Headers) -> tuple[tuple[bytes, bytes], ...]:
    return tuple(
        (name.encode("latin-1", "replace"), value.encode("latin-1", "replace"))
        for name, value in headers
    )


# The parts of a flow's saved state (mitmproxy's ``get_state``, after its own migration to the
# current version) that the recorder reads, with their types and ranges. mitmproxy builds flows
# from whatever the file says; these are checked first, so a crafted file cannot hand the
# recorder a dict where a message is, or a time in the year 10^292.

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Fields = list[tuple[bytes, bytes]]


class _Kind(msgspec.Struct):
    type: str
    version: int


class _Peer(msgspec.Struct, array_like=True):
    host: str
    port: Port


class _Client(msgspec.Struct):
    id: str
    peername: _Peer | None = None


class _Request(msgspec.Struct):
    host: str
    port: Port
    method: bytes
    scheme: bytes
    path: bytes
    http_version: bytes
    headers: Fields
    timestamp_start: Time
    content: bytes | None = None


class _Response(msgspec.Struct):
    status_code: Status
    reason: bytes
    http_version: bytes
    headers: Fields
    content: bytes | None = None
    timestamp_end: Time | None = None


class _Error(msgspec.Struct):
    msg: str
    timestamp: Time


class _WebSocketMessage(msgspec.Struct, array_like=True):
    type: Opcode
    from_client: bool
    content: bytes
    timestamp: Time


class _WebSocket(msgspec.Struct):
    messages: list[_WebSocketMessage]
    close_code: CloseCode | None = None
    close_reason: str | None = None
    closed_by_client: bool | None = None
    timestamp_end: Time | None = None


class _HTTPFlow(msgspec.Struct):
    id: str
    client_conn: _Client
    request: _Request
    response: _Response | None = None
    error: _Error | None = None
    websocket: _WebSocket | None = None
    metadata: dict[str, Any] = {}


# What mitmproxy's own code raises when a flow's state is not what it wrote: only around its
# calls (migrating and building a flow), where our checks above cannot reach every field.
_MITMPROXY_FAILURES = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def loads(data: bytes, warn: Warn, budget: Budget) -> Session:
    """The WebSocket attempts in a flow file; raises ValueError when none can be read."""
    from mitmproxy.io import tnetstring

    session = Session(created=0.0, proxy={"source": "mitmproxy flows"})
    stream = io.BytesIO(data)
    number = 0
    while stream.tell() < len(data):
        budget.check_size(f"flow {number + 1}", _length(data, stream.tell()))
        try:
            state = tnetstring.load(stream)
        except (ValueError, TypeError, IndexError) as e:  # the framing itself is damaged
            if number == 0:
                raise ValueError(f"not a readable mitmproxy flow file ({_reason(e)})") from None
            budget.skipped(
                warn, f"the rest after flow {number} skipped: damaged data ({_reason(e)})"
            )
            break
        number += 1
        try:
            attempts = _attempts(state)
        except ValueError as e:  # msgspec's ValidationError is one
            budget.skipped(warn, f"flow {number} skipped: {_reason(e)}")
            continue
        for handshake in attempts:
            budget.admit(
                session, handshake, len(handshake.websocket.messages) if handshake.websocket else 0
            )
    session.created = min((h.started for h in session), default=0.0)
    return session


def _length(data: bytes, at: int) -> int:
    """The length a tnetstring starting at ``at`` says it has (0 when it says nothing sane)."""
    head = data[at : at + 12]
    length = head[: head.find(b":")]
    return int(length) if length.isdigit() else 0


def _attempts(state: Any) -> list[Handshake]:
    """The WebSocket attempt in one flow's state, replayed through a recorder of its own; none
    for other flows (TCP, DNS, plain HTTP). ValueError when the state is damaged."""
    from mitmproxy import http
    from mitmproxy.io import compat

    from wsinspect.capture.addon import Recorder, is_upgrade_attempt

    if msgspec.convert(state, _Kind).type != "http":
        return []
    try:
        state = compat.migrate_flow(state)
    except _MITMPROXY_FAILURES as e:
        raise ValueError(f"mitmproxy cannot read this version of a flow ({_reason(e)})") from None
    msgspec.convert(state, _HTTPFlow)
    try:
        flow = http.HTTPFlow.from_state(state)
    except _MITMPROXY_FAILURES as e:
        raise ValueError(f"mitmproxy cannot read it ({_reason(e)})") from None
    if not isinstance(flow, http.HTTPFlow):  # from_state builds whatever type the state names
        return []

    def is_attempt(flow: http.HTTPFlow) -> bool:
        return is_upgrade_attempt(flow) or bool(flow.metadata.get(ATTEMPT))

    if not is_attempt(flow):
        return []
    scratch = Session(created=0.0)
    replay(Recorder(scratch, is_attempt=is_attempt), flow)
    for handshake in scratch:
        _as_text(handshake)
        check_url(handshake.url)
    return list(scratch)


def _as_text(handshake: Handshake) -> None:
    """mitmproxy hands bytes that are not UTF-8 (in a path, a method, a version) over as
    surrogate escapes, which no writer can encode: they become U+FFFD, as a browser shows them."""
    handshake.url = _text(handshake.url)
    request, response = handshake.request, handshake.response
    request.method, request.http_version = _text(request.method), _text(request.http_version)
    if response is not None:
        response.reason = _text(response.reason)
        response.http_version = _text(response.http_version)


def _text(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0][:120] if str(error) else type(error).__name__


def replay(recorder: Recorder, item: http.HTTPFlow) -> None:
    """Feed a recorded flow through the hooks the live proxy would have called."""
    from mitmproxy import flow

    if item.response is None and item.error is None:  # saved while waiting: as HAR says it
        item.error = flow.Error("no answer", item.request.timestamp_start)
    if item.response is not None:
        recorder.response(item)
    if item.error is not None:
        recorder.error(item)
    if item.websocket is not None and recorder.session.get(item.id) is not None:
        for message in item.websocket.messages:
            recorder.record_message(item.id, message)
        if item.websocket.timestamp_end is not None:  # else it was still open when saved
            recorder.websocket_end(item)
