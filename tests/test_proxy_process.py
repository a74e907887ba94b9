"""The dashboard's proxy runs in a process of its own (issue 14): nothing the dashboard does holds
up the relay, and everything the proxy records reaches the dashboard's session: attempts still
waiting, the messages of sockets still open, the close."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus

from tests.conftest import until
from wsinspect.capture.limits import Limits
from wsinspect.capture.proxy import ProxyConfig, ProxyError
from wsinspect.capture.service import Capture
from wsinspect.model import Handshake


@pytest.fixture
async def separate() -> AsyncIterator[Capture]:
    capture = Capture.separate(ProxyConfig(port=0), limits=Limits(max_messages=5))
    async with capture:
        yield capture


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def only(capture: Capture) -> Handshake:
    (handshake,) = capture.session
    return handshake


def texts(handshake: Handshake) -> list[str]:
    assert handshake.websocket is not None
    return [m.data.decode() for m in handshake.websocket.messages if m.opcode == 1]


async def test_an_open_sockets_messages_reach_the_session_while_it_is_open(separate: Capture):
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        proxy = f"http://127.0.0.1:{separate.port}"
        async with connect(f"ws://127.0.0.1:{port}/chat", proxy=proxy) as ws:
            for n in range(2):
                await ws.send(f"m{n}")
                assert await ws.recv() == f"m{n}"
            await until(lambda: len(separate.session) == 1 and len(texts(only(separate))) == 4)
            assert texts(only(separate)) == ["m0", "m0", "m1", "m1"]
            for n in range(2, 7):  # beyond the window of 5: the newest 5, none twice
                await ws.send(f"m{n}")
                assert await ws.recv() == f"m{n}"
            newest = ["m4", "m5", "m5", "m6", "m6"]
            await until(lambda: texts(only(separate)) == newest)
            assert only(separate).websocket.close is None  # still open
    await until(lambda: only(separate).websocket.close is not None)
    summary = only(separate).websocket
    assert texts(only(separate)) == newest[2:]  # and the two close frames
    assert summary.counts.client_messages == summary.counts.server_messages == 7
    assert summary.messages_dropped == 14 + 2 - 5  # messages and close frames, less the 5 kept


async def test_an_attempt_waiting_for_its_answer_is_listed_before_the_answer(separate: Capture):
    answer = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await answer.wait()
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def attempt() -> None:
        async with connect(
            f"ws://127.0.0.1:{port}/slow", proxy=f"http://127.0.0.1:{separate.port}"
        ):
            pass

    attempted = asyncio.create_task(attempt())
    await until(lambda: len(separate.session) == 1)
    assert only(separate).response is None  # listed, waiting
    answer.set()
    await until(lambda: only(separate).status == 403)
    with pytest.raises(InvalidStatus):
        await attempted
    server.close()


async def test_the_relay_goes_on_while_the_dashboards_loop_is_stuck(separate: Capture):
    """The dashboard's loop blocked for a second (a slow redraw, a long collection): echoes
    through the proxy, from another thread, still come back at once."""
    latencies: list[float] = []

    async def client(proxy_port: int, server_port: int) -> None:
        url = f"ws://127.0.0.1:{server_port}/chat"
        async with connect(url, proxy=f"http://127.0.0.1:{proxy_port}") as ws:
            started.set()
            while not done.is_set():
                began = time.monotonic()
                await ws.send("ping?")
                await ws.recv()
                latencies.append(time.monotonic() - began)
                await asyncio.sleep(0.01)

    started, done = threading.Event(), threading.Event()

    def run() -> None:
        async def main() -> None:
            async with serve(echo, "127.0.0.1", 0) as server:
                await client(separate.port, server.sockets[0].getsockname()[1])

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert await asyncio.to_thread(started.wait, 10)
    time.sleep(1.0)  # the dashboard's loop, stuck
    done.set()
    await asyncio.to_thread(thread.join, 10)
    assert len(latencies) > 30  # ~1 s of echoes every 10 ms went on
    assert max(latencies) < 0.5


async def test_cleared_handshakes_do_not_come_back_with_their_sockets_news(separate: Capture):
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        proxy = f"http://127.0.0.1:{separate.port}"
        async with connect(f"ws://127.0.0.1:{port}/chat", proxy=proxy) as ws:
            await ws.send("before")
            await ws.recv()
            await until(lambda: len(separate.session) == 1)
            separate.clear()
            await ws.send("after")
            await ws.recv()
        async with connect(f"ws://127.0.0.1:{port}/new", proxy=proxy):
            pass
    await until(lambda: len(separate.session) == 1)
    await asyncio.sleep(0.3)  # news of the cleared one would have come by now
    assert [h.url.rsplit("/", 1)[1] for h in separate.session] == ["new"]


async def test_a_busy_port_is_one_line_and_nothing_keeps_running():
    async with Capture.separate(ProxyConfig(port=0)) as first:
        second = Capture.separate(ProxyConfig(port=first.port))
        with pytest.raises(ProxyError) as refused:
            await second.start()
        assert str(refused.value).count("\n") == 0
        assert str(first.port) in str(refused.value)
        assert second.process is not None and second.process.port == 0


async def test_a_proxy_process_that_dies_is_said_and_what_came_is_kept():
    said: list[str] = []
    capture = Capture.separate(ProxyConfig(port=0), on_exit=said.append)
    async with capture:
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(
                f"ws://127.0.0.1:{port}/a", proxy=f"http://127.0.0.1:{capture.port}"
            ):
                pass
        await until(lambda: len(capture.session) == 1 and only(capture).websocket.close)
        assert capture.process is not None and capture.process.pid is not None
        os.kill(capture.process.pid, signal.SIGKILL)
        await until(lambda: said)
    assert said == ["the proxy process ended (exit code -9)"]
    assert len(capture.session) == 1
