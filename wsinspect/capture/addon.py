"""The mitmproxy addon that turns proxied traffic into ``model.Handshake`` records.

Every request carrying ``Upgrade: websocket`` is an attempt, whatever comes back: a 101, another
status with its headers and body, or no answer at all. Other HTTP traffic passes untouched; of
its answers only what names the server's stack is tallied per host (``capture/site.py``), and
each handshake gets its host's tally as it stood when the handshake was answered.

The body of an attempt's answer other than 101 is streamed on to the client as it comes, its
start kept on the way (``BodyTap``): mitmproxy would otherwise hold all of it, a gigabyte
included. After a 101 the embedded proxy relays raw TCP and ``FrameSniffer`` reads the frames;
inside somebody else's mitmproxy (WebSocket layer on) the ``websocket_*`` hooks feed the same model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from wsinspect.capture.bodies import BodyTap, decoded_prefix
from wsinspect.capture.frames import Deflate, FrameSniffer, MessageWindow
from wsinspect.capture.limits import BODY_LIMIT, DEFAULT_LIMITS, RAW_BODY_LIMIT, Limits
from wsinspect.capture.site import Sites
from wsinspect.capture.tls import TlsFailures
from wsinspect.model import (
    OP_CLOSE,
    Client,
    Close,
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    Session,
    WebSocketSummary,
)

if TYPE_CHECKING:
    from mitmproxy import connection, http, tcp, websocket
    from mitmproxy.tls import TlsData


ANSWER_TIMEOUT = 10.0  # seconds without an answer before an attempt is reported as unanswered
CLIENT_LEFT = "Client disconnected."  # mitmproxy's words when the client goes first
REFUSED = "wsinspect_refused"  # flow.metadata key: the proxy itself refused the request


class Listener(Protocol):
    """Told when a handshake got its answer (or failed) and when its WebSocket ended."""

    def handshake_answered(self, handshake: Handshake) -> None: ...

    def websocket_closed(self, handshake: Handshake) -> None: ...


def is_upgrade_attempt(flow: http.HTTPFlow) -> bool:
    if REFUSED in flow.metadata:  # not a server's answer: capture/guard.py logs it instead
        return False
    upgrade = flow.request.headers.get("upgrade", "")
    return any(t.strip().lower() == "websocket" for t in upgrade.split(","))


def websocket_url(request: http.Request) -> str:
    scheme = "wss" if request.scheme == "https" else "ws"
    default_port = 443 if scheme == "wss" else 80
    host = f"[{request.host}]" if ":" in request.host else request.host
    port = "" if request.port == default_port else f":{request.port}"
    return f"{scheme}://{host}{port}{_text(request.data.path)}"


def _text(raw: bytes) -> str:
    """Not mitmproxy's ``request.path`` and the like: bytes that are not UTF-8 come out of those
    as lone surrogates, which no file format can hold. Here they become U+FFFD, as in a browser."""
    return raw.decode("utf-8", "replace")


def _address(conn: connection.Connection) -> str:
    peer = conn.peername
    if not peer:
        return ""
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _headers(fields: http.Headers) -> Headers:
    return Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in fields.fields)


def _response(response: http.Response, tap: BodyTap | None = None) -> Response:
    """Not ``response.text`` or ``get_content()``: they decode the whole body, a bomb included.
    A streamed body is what its tap kept (the response holds none of a long one)."""
    raw, more = (bytes(tap.kept), tap.more) if tap else (response.raw_content or b"", False)
    body, cut = decoded_prefix(raw, response.headers.get("content-encoding"), BODY_LIMIT)
    return Response(
        status=response.status_code,
        reason=response.reason,
        http_version=_text(response.data.http_version),
        headers=_headers(response.headers),
        body=body.decode("utf-8", "replace"),
        body_truncated=cut or more,
    )


class Recorder:
    """Records WebSocket handshakes into a Session and tells the listeners as they finish.

    ``stream_refusals``: refusals' bodies pass through a tap that keeps their start, instead of
    being buffered whole by mitmproxy; off where the proxy is somebody else's (split mode).
    """

    def __init__(
        self,
        session: Session,
        listeners: list[Listener] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
        is_attempt: Callable[[http.HTTPFlow], bool] = is_upgrade_attempt,
        answer_timeout: float = ANSWER_TIMEOUT,
        stream_refusals: bool = True,
    ) -> None:
        self.session = session
        self.stream_refusals = stream_refusals
        self.answer_timeout = answer_timeout
        self.is_attempt = is_attempt  # which flows are WebSocket attempts (flow files widen it)
        self.listeners = listeners if listeners is not None else []
        self.limits = limits
        self.clock = clock
        self._upgraded: dict[str, tuple[Handshake, FrameSniffer]] = {}  # by client connection
        self._relays: dict[str, tuple[Handshake, FrameSniffer]] = {}  # by TCP flow
        self._windows: dict[str, MessageWindow] = {}  # by HTTP flow, WebSocket layer on
        self._waiting: dict[str, asyncio.TimerHandle] = {}  # attempts without an answer yet
        self._taps: dict[str, BodyTap] = {}  # by HTTP flow: refusals whose body is streamed
        self.sites = Sites()  # what each host said in its other answers
        self.tls = TlsFailures()  # failed TLS handshakes, either side (capture/tls.py)

    # -- the handshake ---------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """The attempt is listed at once, waiting; no answer in time is a finding of its own."""
        if not self.is_attempt(flow):
            return
        self._record(flow)
        loop = asyncio.get_running_loop()
        self._waiting[flow.id] = loop.call_later(self.answer_timeout, self._no_answer, flow.id)

    def _no_answer(self, flow_id: str) -> None:
        self._waiting.pop(flow_id, None)
        handshake = self.session.get(flow_id)
        if handshake is not None and handshake.response is None and handshake.error is None:
            handshake.error = f"no answer within {self.answer_timeout:g} s"
            self._answered(handshake)

    def _stop_waiting(self, flow: http.HTTPFlow) -> None:
        timer = self._waiting.pop(flow.id, None)
        if timer is not None:
            timer.cancel()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """The answer has come (however long its body takes). Stream the body of an answer that
        is not a 101: the client gets it as it comes, and the proxy keeps only its start."""
        response = flow.response
        if response is None or not self.is_attempt(flow):
            return
        self._stop_waiting(flow)
        if response.status_code == 101 or not self.stream_refusals:
            return
        tap = self._taps[flow.id] = BodyTap(RAW_BODY_LIMIT)

        def relay(chunk: bytes) -> bytes:
            """At the end (mitmproxy's mark: an empty chunk) a body kept whole goes back into
            the flow: every addon's response hook (mitmdump -w, mitmweb) sees it as before."""
            if not chunk:
                response.raw_content = None if tap.more else bytes(tap.kept)
            return tap(chunk)

        theirs = response.stream  # another addon's, inside somebody else's mitmproxy
        response.stream = (lambda chunk: theirs(relay(chunk))) if callable(theirs) else relay

    def response(self, flow: http.HTTPFlow) -> None:
        if not self.is_attempt(flow):
            if REFUSED not in flow.metadata:  # the proxy's own refusal says nothing of the site
                self.sites.saw(flow)
            return
        self._stop_waiting(flow)
        handshake = self._record(flow)
        assert flow.response is not None
        handshake.response = _response(flow.response, self._taps.pop(flow.id, None))
        handshake.site = self.sites.evidence(flow.request)
        handshake.answered = flow.response.timestamp_end or self.clock()
        handshake.error = None  # an answer after the timeout replaces "no answer"
        if flow.response.status_code == 101:
            self._open_websocket(flow, handshake)
        self._answered(handshake)

    def error(self, flow: http.HTTPFlow) -> None:
        tls = self.tls.take(flow.client_conn.id)  # taken whatever the flow: memory stays bounded
        if not self.is_attempt(flow) or flow.error is None:
            return
        self._stop_waiting(flow)
        handshake = self._record(flow)
        if tls is not None:
            handshake.tls = tls
        timed_out = handshake.error is not None  # "no answer within …" came first
        reason = flow.error.msg
        if reason == CLIENT_LEFT and handshake.response is None:
            waited = self.clock() - handshake.started
            if flow.response is not None:  # its body was being streamed to the client
                reason = f"the client left before the body ended ({waited:.1f} s)"
            elif timed_out:
                reason = f"the client gave up after {waited:.1f} s"
            else:
                reason = f"the client left before the server answered ({waited:.1f} s)"
        handshake.error = f"{handshake.error}; {reason}" if timed_out else reason
        if handshake.answered is None:  # else the error came after the answer, e.g. mid-body
            if flow.response is not None:  # headers arrived, the body did not (not all of it)
                handshake.response = _response(flow.response, self._taps.pop(flow.id, None))
            handshake.site = self.sites.evidence(flow.request)
            handshake.answered = self.clock()
            self._answered(handshake)

    # -- failed TLS handshakes (capture/tls.py) --------------------------------------------------

    def tls_failed_server(self, data: TlsData) -> None:
        """The server's certificate was refused; the flow's error hook comes next and takes it."""
        self.tls.server_failed(data)

    def tls_failed_client(self, data: TlsData) -> None:
        """The client refused ours: no request will come, so this is the attempt's only trace."""
        handshake = self.tls.client_failed(data, self.session, self.clock())
        if handshake is not None:
            self._answered(handshake)

    def _record(self, flow: http.HTTPFlow) -> Handshake:
        """The flow's handshake: the one listed when its request came, else a new one."""
        known = self.session.get(flow.id)
        if known is not None:
            return known
        request = flow.request
        handshake = Handshake(
            id=flow.id,
            started=request.timestamp_start,
            url=websocket_url(request),
            client=Client(_address(flow.client_conn)),
            request=Request(
                method=_text(request.data.method).upper(),
                http_version=_text(request.data.http_version),
                headers=_headers(request.headers),
            ),
        )
        self.session.add(handshake)
        return handshake

    def _open_websocket(self, flow: http.HTTPFlow, handshake: Handshake) -> None:
        response = handshake.response
        assert response is not None
        summary = WebSocketSummary(
            subprotocol=response.headers.get("Sec-WebSocket-Protocol"),
            extensions=response.headers.tokens("Sec-WebSocket-Extensions"),
        )
        handshake.websocket = summary
        if flow.websocket is not None:  # mitmproxy's WebSocket layer will report the messages
            self._windows[flow.id] = MessageWindow(summary, self.limits)
        else:
            deflate = Deflate.from_response_header(response.headers.get("Sec-WebSocket-Extensions"))
            sniffer = FrameSniffer(summary, self.limits, deflate)
            self._upgraded[flow.client_conn.id] = (handshake, sniffer)

    def _answered(self, handshake: Handshake) -> None:
        for listener in self.listeners:
            listener.handshake_answered(handshake)

    def _closed(self, handshake: Handshake) -> None:
        ws = handshake.websocket
        if ws is not None:
            ws.seal()
        for listener in self.listeners:
            listener.websocket_closed(handshake)

    # -- after the upgrade: raw TCP relay (the embedded proxy) -------------------------------

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        upgraded = self._upgraded.pop(flow.client_conn.id, None)
        if upgraded is not None:
            self._relays[flow.id] = upgraded

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        relay = self._relays.get(flow.id)
        if relay is None:
            return
        message = flow.messages[-1]
        relay[1].feed("client" if message.from_client else "server", message.content, self.clock())
        flow.messages.clear()  # the sniffer keeps what matters; don't hold every chunk

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        relay = self._relays.pop(flow.id, None)
        if relay is None:
            return
        handshake, sniffer = relay
        client_end, server_end = flow.client_conn.timestamp_end, flow.server_conn.timestamp_end
        first = None
        if client_end and server_end:
            first = "client" if client_end <= server_end else "server"
        sniffer.finish(first, self.clock())
        self._closed(handshake)

    tcp_error = tcp_end

    # -- after the upgrade: mitmproxy's WebSocket layer (split mode) --------------------------

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is not None:
            self.record_message(flow.id, flow.websocket.messages[-1])

    def record_message(self, flow_id: str, message: websocket.WebSocketMessage) -> None:
        window = self._windows.get(flow_id)
        if window is None:
            return
        side = "client" if message.from_client else "server"
        opcode = int(message.type)
        content = message.content
        if opcode < OP_CLOSE:
            window.summary.counts.add(side, len(content))
        data = content[: window.limits.preview_bytes]
        window.add(
            Message.of(
                side, message.timestamp, opcode, len(content), data, len(content) > len(data)
            )
        )

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        window = self._windows.pop(flow.id, None)
        handshake = self.session.get(flow.id)
        if window is None or handshake is None or flow.websocket is None:
            return
        ws = flow.websocket
        if window.summary.close is None:
            by = (
                None
                if ws.closed_by_client is None
                else ("client" if ws.closed_by_client else "server")
            )
            window.summary.close = Close(
                code=ws.close_code,
                reason=ws.close_reason or "",
                by=by,
                time=ws.timestamp_end or self.clock(),
            )
        self._closed(handshake)
