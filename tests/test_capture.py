"""Real websockets servers and clients through the real embedded proxy: what gets captured."""

from __future__ import annotations

import asyncio
import signal
import socket
import urllib.request

import pytest
from mitmproxy import http
from mitmproxy import io as mitmio
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response
from websockets.typing import Origin, Subprotocol

from tests.conftest import start_capture, until
from tests.helpers import start_record
from tests.test_split_mode import mitmdump_with_addon
from wsinspect import sessions
from wsinspect.capture.limits import Limits
from wsinspect.capture.proxy import EmbeddedProxy, ProxyConfig, ProxyError


async def echo(ws):
    async for message in ws:
        await ws.send(message)


def port_of(server) -> int:
    return server.sockets[0].getsockname()[1]


async def test_origin_refusal_is_captured_with_status_headers_and_body(capture):
    async with serve(echo, "127.0.0.1", 0, origins=[Origin("http://localhost:3000")]) as server:
        url = f"ws://127.0.0.1:{port_of(server)}/chat?room=1"
        with pytest.raises(InvalidStatus):
            async with connect(url, proxy=capture.url, origin=Origin("http://evil.example")):
                pass
    handshake = await capture.one()
    assert handshake.url == url
    assert handshake.origin == "http://evil.example"
    assert handshake.status == 403
    assert handshake.websocket is None
    assert handshake.error is None
    response = handshake.response
    assert response.headers.get("content-type") == "text/plain; charset=utf-8"
    assert "websockets/" in response.headers.get("server")
    assert "invalid Origin header: http://evil.example" in response.body
    assert handshake.client.address.startswith("127.0.0.1:")
    assert handshake.answered >= handshake.started


async def test_selected_subprotocol_is_captured(capture):
    async with serve(
        echo, "127.0.0.1", 0, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as server:
        url = f"ws://127.0.0.1:{port_of(server)}/graphql"
        async with connect(
            url,
            proxy=capture.url,
            subprotocols=[Subprotocol("graphql-ws"), Subprotocol("graphql-transport-ws")],
        ) as ws:
            assert ws.subprotocol == "graphql-transport-ws"
    handshake = await capture.closed(await capture.one())
    assert handshake.status == 101
    assert handshake.offered_subprotocols == ["graphql-ws", "graphql-transport-ws"]
    assert handshake.selected_subprotocol == "graphql-transport-ws"
    assert handshake.websocket.subprotocol == "graphql-transport-ws"


async def test_exact_counts_bytes_and_client_close(capture):
    sizes = [0, 1, 125, 126, 65_535, 65_536, 300_000]
    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=None) as server:
        url = f"ws://127.0.0.1:{port_of(server)}/echo"
        async with connect(url, proxy=capture.url, compression=None, max_size=None) as ws:
            for size in sizes:
                await ws.send(b"\x07" * size)
                assert await ws.recv() == b"\x07" * size
            await ws.send("text ✓")
            assert await ws.recv() == "text ✓"
            await ws.close(4001, "done here")
    handshake = await capture.closed(await capture.one())
    counts = handshake.websocket.counts
    total = sum(sizes) + len("text ✓".encode())
    assert (counts.client_messages, counts.server_messages) == (8, 8)
    assert (counts.client_bytes, counts.server_bytes) == (total, total)
    close = handshake.websocket.close
    assert (close.code, close.reason, close.by) == (4001, "done here", "client")
    texts = [m for m in handshake.websocket.messages if m.opcode == 1]
    assert [(m.side, m.preview) for m in texts] == [("client", "text ✓"), ("server", "text ✓")]


async def test_server_close_and_compressed_traffic(capture):
    async def say_goodbye(ws):
        await ws.send("first")
        await ws.recv()
        await ws.close(1011, "backend exploded")

    async with serve(say_goodbye, "127.0.0.1", 0) as server:  # permessage-deflate by default
        url = f"ws://127.0.0.1:{port_of(server)}/"
        async with connect(url, proxy=capture.url) as ws:
            assert await ws.recv() == "first"
            await ws.send("second")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    handshake = await capture.closed(await capture.one())
    ws_summary = handshake.websocket
    assert any("permessage-deflate" in e for e in ws_summary.extensions)
    data = [(m.side, m.preview, m.compressed) for m in ws_summary.messages if m.opcode == 1]
    assert data == [("server", "first", True), ("client", "second", True)]
    close = ws_summary.close
    assert (close.code, close.reason, close.by) == (1011, "backend exploded", "server")


async def test_previews_are_bounded_but_counts_are_not():
    capture = await start_capture(limits=Limits(preview_bytes=8, max_messages=4))
    try:
        async with serve(echo, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{port_of(server)}/"
            async with connect(url, proxy=capture.url) as ws:
                for i in range(20):
                    await ws.send(f"message number {i}")
                    await ws.recv()
        handshake = await capture.closed(await capture.one())
    finally:
        await capture.proxy.stop()
    summary = handshake.websocket
    assert (summary.counts.client_messages, summary.counts.server_messages) == (20, 20)
    assert len(summary.messages) == 4
    assert all(m.truncated and len(m.preview) <= 8 for m in summary.messages if m.opcode == 1)


async def test_unreachable_server_is_recorded_as_error(capture):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with pytest.raises(InvalidStatus):
        async with connect(f"ws://127.0.0.1:{dead_port}/ws", proxy=capture.url, open_timeout=5):
            pass
    handshake = await capture.one()
    assert handshake.response is None
    assert "refused" in handshake.error.lower() or "111" in handshake.error


async def test_inside_mitmdump_the_addon_leaves_refusals_bodies_to_mitmproxy(tmp_path):
    """Somebody else's mitmproxy keeps bodies as it is configured to: the addon streams none,
    so a saved flow has its whole 403 body, however long (the embedded proxy keeps 256 KiB)."""
    flows = tmp_path / "flows.mitm"
    body = b"Origin refused. " * 32_768  # 512 KiB

    def refuse(connection, request):
        return Response(403, "Forbidden", Headers({"Content-Type": "text/plain"}), body)

    async with (
        serve(echo, "127.0.0.1", 0, process_request=refuse) as server,
        mitmdump_with_addon(f"save_stream_file={flows}") as proxy,
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                f"ws://127.0.0.1:{port_of(server)}/", proxy=proxy, origin=Origin("http://x.example")
            )
    assert refused.value.response.body == body
    (flow,) = mitmio.FlowReader(flows.open("rb")).stream()
    assert isinstance(flow, http.HTTPFlow) and flow.response is not None
    assert flow.response.status_code == 403
    assert flow.response.content == body


async def test_plain_http_is_relayed_and_not_recorded(capture):
    def plain(connection, request):
        if request.path == "/plain":
            return Response(200, "OK", Headers({"Content-Type": "text/plain"}), b"hello")
        return None

    async with serve(echo, "127.0.0.1", 0, process_request=plain) as server:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": capture.url}))
        target = f"http://127.0.0.1:{port_of(server)}/plain"
        body = await asyncio.to_thread(lambda: opener.open(target, timeout=5).read())
    assert body == b"hello"
    assert capture.handshakes == []


async def test_reverse_mode():
    async with serve(echo, "127.0.0.1", 0, subprotocols=[Subprotocol("chat")]) as server:
        backend = port_of(server)
        capture = await start_capture(mode=f"reverse:http://127.0.0.1:{backend}")
        try:
            async with connect(
                f"ws://127.0.0.1:{capture.port}/live",
                subprotocols=[Subprotocol("chat")],
                proxy=None,
            ) as ws:
                await ws.send("through the reverse proxy")
                assert await ws.recv() == "through the reverse proxy"
            handshake = await capture.closed(await capture.one())
        finally:
            await capture.proxy.stop()
    assert handshake.url == f"ws://127.0.0.1:{backend}/live"
    assert handshake.status == 101
    assert handshake.websocket.subprotocol == "chat"
    assert handshake.websocket.counts.client_messages == 1


async def test_port_is_free_again_after_stop():
    capture = await start_capture()
    port = capture.port
    await capture.proxy.stop()
    again = EmbeddedProxy(ProxyConfig(port=port), [])
    await again.start()  # would fail with "address in use" if stop() left the socket bound
    await again.stop()


async def test_busy_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ProxyError, match=rf"127\.0\.0\.1:{port}.*in use.*--port"):
            await EmbeddedProxy(ProxyConfig(port=port), []).start()


async def test_two_connections_through_one_client_connection_stay_apart(capture):
    async with serve(echo, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{port_of(server)}/"
        async with (
            connect(url + "a", proxy=capture.url) as a,
            connect(url + "b", proxy=capture.url) as b,
        ):
            await a.send("to a")
            await b.send("to b")
            await b.send("to b again")
            for websocket in (a, b, b):
                await websocket.recv()
    await until(
        lambda: len(capture.session) == 2 and all(h.websocket.close for h in capture.session)
    )
    by_path = {h.url.rsplit("/", 1)[1]: h.websocket.counts.client_messages for h in capture.session}
    assert by_path == {"a": 1, "b": 2}


NOT_UTF8 = b"/\xff?q=\xfe"  # bytes no browser sends, any client may
READ_AS = "/\ufffd?q=\ufffd"  # how a browser's address bar shows them


async def upgrade_through_a_tunnel(proxy_port: int, server_port: int, path: bytes) -> bytes:
    """As websockets and browsers reach a server through a proxy: CONNECT, then the upgrade
    request inside the tunnel, its request line exactly ``path``; the status line that came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    host = f"127.0.0.1:{server_port}".encode()
    try:
        writer.write(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host, host))
        assert b" 200 " in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(
            b"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (path, host)
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        return head.split(b"\r\n", 1)[0]
    finally:
        writer.close()


async def refusing_server() -> asyncio.Server:
    """Answers any upgrade with a 403 (websockets closes on such a path without a word)."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(REFUSAL)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(refuse, "127.0.0.1", 0)


REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 20\r\n\r\nOrigin not allowed.\n"


async def test_a_request_line_that_is_not_utf8_is_recorded_and_every_format_saves_it(
    capture, tmp_path
):
    server = await refusing_server()
    port = port_of(server)
    try:
        status_line = await upgrade_through_a_tunnel(capture.port, port, NOT_UTF8)
        handshake = await capture.one()
        await until(lambda: handshake.status is not None)
    finally:
        server.close()
    assert status_line == b"HTTP/1.1 403 Forbidden"
    assert handshake.url == f"ws://127.0.0.1:{port}{READ_AS}"
    assert handshake.response.body == "Origin not allowed.\n"
    for name in ("capture.json", "capture.har", "capture.mitm", "capture.md"):
        path = tmp_path / name
        sessions.save(capture.session, path)
        if path.suffix == ".md":  # a report to read, not to load
            assert f"127.0.0.1:{port}{READ_AS}" in path.read_text(encoding="utf-8")
            continue
        (again,) = sessions.load(path)
        assert (again.url, again.status) == (handshake.url, 403), name


async def test_wsinspect_record_saves_a_request_line_that_is_not_utf8(tmp_path):
    output = tmp_path / "capture.json"
    running = await start_record("-o", str(output))
    server = await refusing_server()
    try:
        await upgrade_through_a_tunnel(running.port, port_of(server), NOT_UTF8)
        assert "403" in await running.line()
    finally:
        server.close()
        running.process.send_signal(signal.SIGINT)
        code, _, err = await running.finish()
    assert code == 0, err
    (handshake,) = sessions.load(output)
    assert handshake.url.endswith(READ_AS)
