"""Servers that misbehave and clients that are hostile: each is recorded with the right finding,
nothing crashes, the proxy keeps serving, and no captured byte drives the user's terminal."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from tests.conftest import Capture, start_capture, until
from tests.test_browser import self_signed
from tests.test_tui import SIZE, shown
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake
from wsinspect.tui.app import LiveOptions, WsinspectApp
from wsinspect.tui.widgets.handshake_list import HandshakeList

UPGRADE = (
    "Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:5173\r\n"
)
SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, as a crashing server does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def reset_mid_handshake(reader, writer) -> None:
    reset(writer)


async def reset_mid_body(reader, writer) -> None:
    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nOrigin not allo")
    await writer.drain()
    await asyncio.sleep(0.1)
    reset(writer)


async def never_answers(reader, writer) -> None:
    await asyncio.sleep(3)
    writer.close()


async def malformed_http(reader, writer) -> None:
    writer.write(b"this is not HTTP\r\n\r\n")
    await writer.drain()
    writer.close()


async def no_close_frame(reader, writer) -> None:
    writer.write(SWITCHING + b"\x81\x02hi")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()


async def slow_refusal(reader, writer) -> None:
    await asyncio.sleep(1)
    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


async def misbehaving(behaviour: Behaviour) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await behaviour(reader, writer)

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def raw_attempt(proxy_port: int, request: bytes, leave_after: float | None = None) -> bytes:
    """Send bytes to the proxy as a client would; what came back (or b"" when it left early):
    until the proxy closes, or falls silent for a moment once it has begun to answer (a body
    is streamed on as it comes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(request)
    await writer.drain()
    try:
        if leave_after is not None:
            await asyncio.sleep(leave_after)
            return b""
        answer = await asyncio.wait_for(reader.read(4096), 5)
        with contextlib.suppress(TimeoutError, ConnectionError):
            while more := await asyncio.wait_for(reader.read(4096), 0.2):
                answer += more
        return answer
    finally:
        writer.close()


def upgrade_request(port: int, path: str = "/ws", extra: str = "") -> bytes:
    head = f"GET http://127.0.0.1:{port}{path} HTTP/1.1\r\n"
    return (head + UPGRADE.format(host=f"127.0.0.1:{port}") + extra + "\r\n").encode("latin-1")


async def still_serving(capture: Capture) -> None:
    """A healthy WebSocket through the same proxy, after the fault: it works end to end."""

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", proxy=capture.url, open_timeout=5) as ws:
            await ws.send("still there?")
            assert await asyncio.wait_for(ws.recv(), 5) == "still there?"


def attempt_to(capture: Capture, port: int) -> Handshake:
    return next(h for h in capture.session if f":{port}/" in h.url)


@pytest.mark.parametrize(
    "behaviour, leave_after, status, code, words",
    [
        (reset_mid_handshake, None, None, "upstream-failed", "server closed connection"),
        (reset_mid_body, None, 403, "origin-rejected", "complete message body"),
        (never_answers, None, None, "upstream-failed", "no answer within 1 s"),
        (malformed_http, None, None, "upstream-failed", "Cannot parse HTTP response"),
        (no_close_frame, None, 101, "closed-abnormally", None),
        (slow_refusal, 0.2, None, "closed-while-connecting", "the client left before the server"),
    ],
)
async def test_server_faults_are_recorded_and_the_proxy_keeps_serving(
    behaviour, leave_after, status, code, words
):
    capture = await start_capture(answer_timeout=1.0)
    server = await misbehaving(behaviour)
    port = server.sockets[0].getsockname()[1]
    try:
        await raw_attempt(capture.port, upgrade_request(port), leave_after)
        await until(
            lambda: (
                any(
                    f":{port}/" in h.url and diagnosis_of(h).verdict != "ok"
                    for h in capture.session
                )
                or any(f":{port}/" in h.url and h.error for h in capture.session)
            ),
            timeout=10,
        )
        handshake = attempt_to(capture, port)
        if handshake.websocket is not None:
            await capture.closed(handshake)
        await still_serving(capture)
    finally:
        server.close()
        await capture.proxy.stop()
    assert handshake.status == status
    assert [f.code for f in diagnosis_of(handshake).findings][:1] == ([code] if code else [])
    if words:
        assert words in (handshake.error or "")
    if code is None:
        assert (
            diagnosis_of(handshake).verdict == "ok"
        )  # the client went first: not the server's fault
    if handshake.websocket is not None:
        assert handshake.websocket.close.code == 1006


async def test_an_answer_after_the_timeout_replaces_no_answer():
    capture = await start_capture(answer_timeout=0.3)
    server = await misbehaving(slow_refusal)
    port = server.sockets[0].getsockname()[1]
    try:
        answer = asyncio.create_task(raw_attempt(capture.port, upgrade_request(port)))
        await until(lambda: any(h.error for h in capture.session), timeout=5)
        assert "no answer within 0.3 s" in (capture.handshakes[0].error or "")
        assert b"403" in await answer
        await until(lambda: capture.handshakes[0].status == 403, timeout=5)
    finally:
        server.close()
        await capture.proxy.stop()
    assert capture.handshakes[0].error is None
    assert diagnosis_of(capture.handshakes[0]).findings[0].code == "origin-rejected"


async def slow_body(reader, writer) -> None:
    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 21\r\n\r\nOrigin not ")
    await writer.drain()
    await asyncio.sleep(1)
    writer.write(b"allowed.\r\n")
    await writer.drain()
    writer.close()


async def test_an_answer_whose_body_is_slow_is_not_no_answer():
    """The headers came in time; only the body took longer than the answer timeout."""
    capture = await start_capture(answer_timeout=0.3)
    server = await misbehaving(slow_body)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", capture.port)
        writer.write(upgrade_request(port))
        await asyncio.wait_for(reader.readuntil(b"Origin not "), 5)  # the headers, on time
        await asyncio.sleep(0.5)  # past the answer timeout, while the body is still coming
        assert [h.error for h in capture.handshakes] == [None]
        assert await asyncio.wait_for(reader.readuntil(b"allowed.\r\n"), 5) == b"allowed.\r\n"
        writer.close()
        await until(lambda: capture.handshakes and capture.handshakes[0].status == 403, timeout=5)
    finally:
        server.close()
        await capture.proxy.stop()
    (handshake,) = capture.handshakes
    assert handshake.error is None
    assert handshake.response.body == "Origin not allowed.\r\n"
    assert diagnosis_of(handshake).findings[0].code == "origin-rejected"


async def test_upstream_tls_failure(tmp_path):
    cert, key = self_signed(tmp_path)  # a dev server's certificate the proxy does not trust
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    capture = await start_capture()
    trusting = ssl.create_default_context()
    trusting.check_hostname, trusting.verify_mode = False, ssl.CERT_NONE
    try:
        with pytest.raises(Exception):  # noqa: B017 — whatever the client makes of the 502
            async with connect(
                f"wss://127.0.0.1:{port}/", proxy=capture.url, ssl=trusting, open_timeout=5
            ):
                pass
        handshake = await capture.one()
        await still_serving(capture)
    finally:
        server.close()
        await capture.proxy.stop()
    assert handshake.url == f"wss://127.0.0.1:{port}/"
    finding = diagnosis_of(handshake).findings[0]  # not "no answer: start the server" (issue 16)
    assert finding.code == "upstream-cert-invalid"
    assert "self-signed certificate" in finding.evidence["Verification"]
    assert finding.evidence["Issuer"].endswith("(self-signed)")


# -- hostile clients ------------------------------------------------------------------------


async def test_hostile_upgrade_requests_are_recorded_and_nothing_breaks():
    capture = await start_capture()

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        host = f"127.0.0.1:{port}"
        plain = f"GET http://{host}/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        cases = {
            "missing key": plain + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
            "wrong version": plain.replace("/ws", "/v8")
            + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 8\r\n\r\n",
            "64 KiB of headers": upgrade_request(port, "/big", "X-Big: " + "a" * 65536 + "\r\n"),
            "non-ASCII": upgrade_request(port, "/latin", "X-Name: h\xe9llo \xff\r\n"),
            "control characters": upgrade_request(
                port, "/ctl", "X-Evil: \x1b[31mred\x1b]0;pwned\x07\r\n"
            ),
            "absolute URL without a path": upgrade_request(port, ""),
            "no path at all": f"GET  HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\r\n",
        }
        answers = {}
        for name, request in cases.items():
            data = request if isinstance(request, bytes) else request.encode("latin-1")
            answers[name] = await raw_attempt(capture.port, data)
        await until(lambda: len(capture.session) >= 6, timeout=10)
        await still_serving(capture)
    await capture.proxy.stop()

    by_path = {h.url.rsplit("/", 1)[-1]: h for h in capture.session if f":{port}/" in h.url}
    assert by_path["ws"].status == 400 and diagnosis_of(by_path["ws"]).verdict == "error"
    assert diagnosis_of(by_path["v8"]).findings[0].code == "version-unsupported"
    assert by_path["big"].status == 431 and diagnosis_of(by_path["big"]).verdict == "error"
    assert by_path["latin"].request.headers.get("X-Name") == "h\xe9llo \xff"
    assert by_path["ctl"].request.headers.get("X-Evil") == "\x1b[31mred\x1b]0;pwned\x07"
    assert by_path[""].url == f"ws://127.0.0.1:{port}/"
    # mitmproxy answers a request line it cannot parse itself: no attempt to record, no crash.
    assert answers["no path at all"].startswith(b"HTTP/1.1 400")


async def test_escape_sequences_in_captured_data_never_reach_the_terminal_in_the_dashboard():
    app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0)))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.proxy is not None)

        async def evil(reader, writer) -> None:  # a 101, then a text frame full of escapes
            payload = b"\x1b]0;pwned\x07\x1b[2Jcleared"
            writer.write(SWITCHING + bytes([0x81, len(payload)]) + payload)
            await writer.drain()
            await asyncio.sleep(2)

        server = await misbehaving(evil)
        port = server.sockets[0].getsockname()[1]
        request = upgrade_request(port, "/\x1b[31mred", "X-Evil: \x1b[6n\r\n")
        _, writer = await asyncio.open_connection("127.0.0.1", app.proxy.port)
        writer.write(request)
        await writer.drain()

        def heard() -> bool:
            ws = next(iter(app.session)).websocket if len(app.session) else None
            return ws is not None and ws.counts.server_messages == 1

        await until(heard, timeout=10)
        writer.close()
        server.close()
        await pilot.pause(0.3)
        listing = app.query_one(HandshakeList)
        row = "".join(segment.text for segment in listing.render_line(1))
        await pilot.press("2")
        await pilot.pause(0.2)
        request_tab = shown(app, "detail-request")
        await pilot.press("4")
        await pilot.pause(0.2)
        messages_tab = shown(app, "detail-messages")
    for text in (row, request_tab, messages_tab):
        assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31mred" in row
    assert "\\x1b[6n" in request_tab
    assert "\\x1b]0;pwned\\x07\\x1b[2Jcleared" in messages_tab


async def test_the_dashboard_lists_a_waiting_attempt_and_updates_it_when_answered():
    app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0)))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.proxy is not None)
        server = await misbehaving(slow_refusal)  # answers 403 after a second
        port = server.sockets[0].getsockname()[1]
        answer = asyncio.create_task(raw_attempt(app.proxy.port, upgrade_request(port)))
        listing = app.query_one(HandshakeList)

        def row() -> str:
            return "".join(segment.text for segment in listing.render_line(1))

        await until(lambda: f":{port}/ws" in row(), timeout=5)
        waiting = row()
        await answer
        await until(lambda: " 403 " in row(), timeout=5)
        await pilot.pause(0.2)
        answered = row()
        server.close()
    assert "---" in waiting
    assert "origin-rejected" in answered
