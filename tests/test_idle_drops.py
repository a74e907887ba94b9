"""Idle drops and clients that leave while connecting, on real components: Debian's nginx with a
2 s `proxy_read_timeout` in front of a real websockets echo server, real websockets clients, our
real proxy in front of it all. A silent client is cut by nginx (a FIN, no close frame) and told
nginx's knob; one that pings is not cut and told nothing; a client that leaves its own handshake
is told so, and the server is not blamed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.conftest import Capture, require_program, start_capture, until
from tests.servers import nginx
from tests.test_browser import page_server
from wsinspect.diagnose import diagnosis_of, lifetime
from wsinspect.model import Diagnosis, Handshake

FIXTURES = Path(__file__).parent / "fixtures" / "stacks"  # measured by research
IDLE_LIMIT = 2  # seconds: nginx's proxy_read_timeout in these tests (60 s by default)

WEBSOCKETS_WITH_IDLE_LIMIT = f"""
            proxy_pass http://127.0.0.1:{{backend}};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout {IDLE_LIMIT}s;"""


async def echo(ws: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            await ws.send(message)


def nginx_in_front(backend: int) -> AbstractAsyncContextManager[int]:
    """Debian's nginx proxying WebSockets correctly to ``backend``, idle limit IDLE_LIMIT."""
    return nginx(WEBSOCKETS_WITH_IDLE_LIMIT.format(backend=backend))


@asynccontextmanager
async def behind_nginx(capture: Capture) -> AsyncIterator[str]:
    """The URL of an echo server behind nginx; websockets' own pings off on the server."""
    async with serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
        backend = server.sockets[0].getsockname()[1]
        async with nginx_in_front(backend) as port:
            yield f"ws://127.0.0.1:{port}/chat"


async def diagnosed_when_closed(capture: Capture) -> tuple[Handshake, Diagnosis]:
    handshake = await capture.closed(await capture.one())
    return handshake, diagnosis_of(handshake)


async def test_a_silent_client_is_cut_by_nginx_and_told_its_proxy_read_timeout() -> None:
    capture = await start_capture()
    try:
        async with behind_nginx(capture) as url:
            async with connect(url, proxy=capture.url, ping_interval=None) as ws:
                await ws.send("hello")
                assert await asyncio.wait_for(ws.recv(), 5) == "hello"
                try:  # then silence, until nginx ends it
                    await asyncio.wait_for(ws.recv(), IDLE_LIMIT + 5)
                except ConnectionClosed as closed:
                    assert closed.rcvd is None  # no close frame came: the page sees 1006
            handshake, diagnosis = await diagnosed_when_closed(capture)
    finally:
        await capture.stop()
    assert handshake.websocket is not None and handshake.websocket.close is not None
    assert handshake.websocket.close.code == 1006
    assert diagnosis.stack is not None and diagnosis.stack.name == "nginx"
    assert [f.code for f in diagnosis.findings] == ["idle-timeout"]  # not closed-abnormally too
    finding = diagnosis.findings[0]
    assert finding.severity == "warning" and diagnosis.verdict == "warning"
    silence = finding.evidence["Silent for"]
    assert silence.startswith(("2.0 s", "2.1 s", "2.2 s")), silence
    assert (
        "a text message from the server" in silence
        and finding.evidence["Pings/pongs seen"] == "none"
    )
    assert finding.fixes[0].stack == "nginx" and "proxy_read_timeout" in finding.fixes[0].snippet
    assert "ping_interval" in finding.fixes[-1].snippet  # the heartbeat, whatever the proxy


async def test_a_client_that_pings_is_not_cut_and_nothing_is_said() -> None:
    capture = await start_capture()
    try:
        async with behind_nginx(capture) as url:
            async with connect(url, proxy=capture.url, ping_interval=0.5) as ws:
                await ws.send("hello")
                assert await asyncio.wait_for(ws.recv(), 5) == "hello"
                await asyncio.sleep(IDLE_LIMIT + 1.5)  # past nginx's limit, pinging
                await ws.send("still here")
                assert await asyncio.wait_for(ws.recv(), 5) == "still here"
            handshake, diagnosis = await diagnosed_when_closed(capture)
    finally:
        await capture.stop()
    ws_summary = handshake.websocket
    assert ws_summary is not None and ws_summary.close is not None
    assert ws_summary.close.code == 1000 and ws_summary.close.by == "client"
    assert any(m.opcode == 0x9 for m in ws_summary.messages)  # the pings were seen
    assert diagnosis.verdict == "ok" and diagnosis.findings == ()


async def slow_to_answer(connection: ServerConnection, request: object) -> None:
    """A real server that takes its time before answering the upgrade."""
    await asyncio.sleep(0.6)


async def test_a_client_that_leaves_before_the_answer_is_not_a_server_fault() -> None:
    """Like a page that closes its socket while CONNECTING (React StrictMode's first mount): the
    client is gone before the server answers."""
    capture = await start_capture()
    try:
        async with serve(echo, "127.0.0.1", 0, process_request=slow_to_answer) as server:
            port = server.sockets[0].getsockname()[1]
            attempt = asyncio.create_task(
                connect(f"ws://127.0.0.1:{port}/live", proxy=capture.url).__aenter__()
            )
            await until(lambda: len(capture.session) == 1)
            await asyncio.sleep(0.1)
            attempt.cancel()  # the client gives up its own handshake
            with contextlib.suppress(asyncio.CancelledError):
                await attempt
            handshake = await capture.one()
            await until(lambda: handshake.error is not None or handshake.websocket is not None)
            if handshake.websocket is not None:
                await capture.closed(handshake)
            diagnosis = diagnosis_of(handshake)
    finally:
        await capture.stop()
    assert [f.code for f in diagnosis.findings] == ["closed-while-connecting"]
    assert diagnosis.verdict == "warning"  # not an error: the server did nothing wrong
    fix = diagnosis.findings[0].fixes[0].snippet
    assert "useEffect" in fix and "ws.close()" in fix


async def test_a_client_that_drops_the_socket_as_the_101_arrives_is_not_a_server_fault() -> None:
    """What a browser does when close() was called while CONNECTING and the 101 comes anyway:
    it ends the TCP connection at once, no close frame, no message."""
    capture = await start_capture()
    try:
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", capture.port)
            writer.write(
                f"GET http://127.0.0.1:{port}/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Origin: http://localhost:5173\r\n\r\n".encode()
            )
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert answer.startswith(b"HTTP/1.1 101")
            writer.close()  # gone, without a close frame
            handshake, diagnosis = await diagnosed_when_closed(capture)
    finally:
        await capture.stop()
    assert handshake.websocket is not None and handshake.websocket.close is not None
    assert handshake.websocket.close.code == 1006 and not handshake.websocket.messages
    assert [f.code for f in diagnosis.findings] == ["closed-while-connecting"]
    assert diagnosis.verdict == "warning"


@asynccontextmanager
async def headless_chromium(proxy_port: int, page: str) -> AsyncIterator[None]:
    """Debian's Chromium, headless, every request (loopback too) through our proxy."""
    chromium = require_program("chromium", "apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="wsinspect-idle-chromium-") as profile:
        process = await asyncio.create_subprocess_exec(
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>",
            page,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own process group: its children go with it
        )
        try:
            yield
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


UNMOUNTED_PAGE = """<!doctype html><title>app</title><script>
// A component that opens a WebSocket in an effect and is unmounted while it connects (a route
// change; StrictMode's mount-unmount-mount when the effect starts after an await), then mounted
// again. (StrictMode's synchronous cleanup closes it before Chromium even sends the request.)
function mount() {{
  const ws = new WebSocket({url!r});
  ws.onopen = () => ws.send("hello");
  return () => ws.close();
}}
const cleanup = mount();
setTimeout(() => {{ cleanup(); mount(); }}, 500);
</script>"""


async def test_chromium_closing_a_socket_while_connecting_is_told_so_and_the_next_works() -> None:
    """A real Chromium closes a socket whose handshake is under way: that attempt is
    `closed-while-connecting`, a warning, not a server fault; the next one, same URL, is ok."""

    async def answers_late(connection: ServerConnection, request: object) -> None:
        await asyncio.sleep(1.5)  # the close() comes while the request is at the server

    async with serve(echo, "127.0.0.1", 0, process_request=answers_late) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/live"
        with page_server({"/": UNMOUNTED_PAGE.format(url=url)}) as page_port:
            capture = await start_capture()
            try:
                async with headless_chromium(capture.port, f"http://localhost:{page_port}/"):
                    await until(
                        lambda: any(h.websocket and h.websocket.messages for h in capture.session),
                        30,
                    )
                    first, second = [h for h in capture.session if h.url == url]
                    healthy = diagnosis_of(second)  # open still: the browser is there
            finally:
                await capture.stop()
    aborted = diagnosis_of(first)
    assert first.response is None and "the client left" in (first.error or "")
    assert [f.code for f in aborted.findings] == ["closed-while-connecting"]
    assert aborted.verdict == "warning"  # not upstream-failed, not an error
    assert second.status == 101 and healthy.verdict == "ok"


def test_the_measured_default_cut_of_apache_matches_its_known_default() -> None:
    """Apache with its default Timeout, measured (idle_timeout.txt): the FIN came 60.06 s after
    the last byte; that silence names the 60 s defaults, Apache's among them. The measured 3 s
    cuts of configured limits match no default."""
    measured = (FIXTURES / "apache2" / "idle_timeout.txt").read_text()
    cuts = [float(s) for s in re.findall(r"after (\d+\.\d+)s", measured)]
    assert cuts == [60.06, 3.0]
    assert "Apache `Timeout`" in (lifetime.known_default(cuts[0]) or "")
    assert lifetime.known_default(cuts[1]) is None
