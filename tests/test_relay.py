"""The proxy never alters a byte: what one end sends is what the other end gets, both ways.

Text, binary, empty, fragmented, a 16 MiB message, with and without permessage-deflate — 10,000
messages in all — through the proxy with the recorder and the live dashboard running. Each end
keeps the SHA-256 of every message; the lists must be equal, in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import random

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from tests.conftest import until
from tests.test_tui import SIZE
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.tui.app import LiveOptions, WsinspectApp

MESSAGES = 10_000
BIG = 16 * 1024 * 1024


def digest(message: str | bytes) -> str:
    data = message.encode() if isinstance(message, str) else message
    return ("t" if isinstance(message, str) else "b") + hashlib.sha256(data).hexdigest()


def payloads(count: int, seed: int) -> list[str | bytes | list[str] | list[bytes]]:
    """A mix of every kind of message; a list is sent as the fragments of one message."""
    rng = random.Random(seed)
    items: list[str | bytes | list[str] | list[bytes]] = []
    for number in range(count):
        kind = 5 if number % 100 == 99 else number % 5
        if kind == 0:
            items.append("".join(rng.choice('aé€𝄞 {}"\\\n') for _ in range(rng.randrange(200))))
        elif kind == 1:
            items.append(rng.randbytes(rng.randrange(2000)))
        elif kind == 2:
            items.append("" if number % 12 == 2 else b"")
        elif kind == 3:
            items.append([f"part {i} of {number} " for i in range(rng.randrange(2, 6))])
        elif kind == 4:
            items.append([rng.randbytes(rng.randrange(1, 300)) for _ in range(3)])
        else:
            items.append(rng.randbytes(rng.randrange(70_000, 200_000)))  # 64-bit length field
    return items


async def test_every_byte_arrives_unchanged_both_ways():
    received: list[str] = []  # by the server, in order

    async def echo(ws) -> None:
        async for message in ws:
            received.append(digest(message))
            await ws.send(message)

    app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0)))
    async with app.run_test(size=SIZE):
        await until(lambda: app.proxy is not None)
        async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            sent: list[str] = []
            echoed: list[str] = []
            for compression, seed in (("deflate", 1), (None, 2)):
                async with connect(
                    f"ws://127.0.0.1:{port}/relay",
                    proxy=f"http://127.0.0.1:{app.proxy.port}",
                    compression=compression,
                    max_size=None,
                ) as ws:
                    items: list = payloads(MESSAGES // 2, seed)
                    if compression is None:
                        items.append(random.Random(3).randbytes(BIG))
                    for item in items:
                        whole = (
                            ("" if isinstance(item[0], str) else b"").join(item)
                            if isinstance(item, list)
                            else item
                        )
                        sent.append(digest(whole))

                    async def send_all(ws=ws, items=items) -> None:
                        for item in items:
                            await ws.send(item)

                    sending = asyncio.create_task(send_all())
                    for _ in items:
                        echoed.append(digest(await ws.recv()))
                    await sending
        await until(lambda: all(h.websocket and h.websocket.close for h in app.session))
        handshakes = list(app.session)
    assert len(sent) == MESSAGES + 1
    assert received == sent
    assert echoed == sent
    # and the recorder counted every message, both ways, exactly
    total = sum(h.websocket.counts.client_messages for h in handshakes)
    assert total == MESSAGES + 1
    assert sum(h.websocket.counts.server_messages for h in handshakes) == MESSAGES + 1
    assert [h.websocket.extensions != [] for h in handshakes] == [True, False]
