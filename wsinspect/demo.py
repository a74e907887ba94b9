"""`wsinspect demo`: servers that fail the classic ways, and browser-like clients through the proxy.

Needs nothing but the installed package. One Python websockets server answers, per path, the way
real stacks do: /chat checks the Origin against the Host like coder/websocket's default (and
answers with its exact words), /graphql ignores the offered subprotocol, /private wants a cookie,
/subscriptions closes with graphql-ws's 4401, /feed and /echo are healthy, anything else is a 404.
A small reverse proxy in front forwards without the upgrade headers, as nginx does unless told.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from http import HTTPStatus

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Origin, Subprotocol

PAGE = Origin("http://localhost:5173")  # the page the scripted "browser" runs
GRAPHQL_WS = Subprotocol("graphql-transport-ws")
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PATHS = ("/chat", "/graphql", "/private", "/subscriptions", "/feed", "/echo")


def refuse(status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    headers = Headers({"Content-Type": content_type, "X-Content-Type-Options": "nosniff"})
    return Response(status, HTTPStatus(status).phrase, headers, body.encode())


def route(connection: ServerConnection, request: Request) -> Response | None:
    path = request.path.split("?", 1)[0]
    if path not in PATHS:
        return refuse(404, "404 page not found\n")
    if path == "/chat":
        origin = request.headers.get("Origin", "")
        host = request.headers.get("Host", "")
        if origin and origin.split("://", 1)[-1] != host:
            return refuse(403, f'request Origin "{origin}" is not authorized for Host "{host}"\n')
    if path == "/private" and "session=" not in request.headers.get("Cookie", ""):
        return refuse(401, "Unauthorized\n")
    return None


def select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """Only /subscriptions speaks graphql-ws; /graphql forgets to select it (Chrome fails)."""
    path = connection.request.path if connection.request else ""
    if path.startswith("/subscriptions") and GRAPHQL_WS in offered:
        return GRAPHQL_WS
    return None


async def handler(connection: ServerConnection) -> None:
    path = connection.request.path if connection.request else "/"
    if path.startswith("/subscriptions"):
        await connection.close(4401, "Unauthorized")
    elif path.startswith("/feed"):
        number = 0
        with contextlib.suppress(Exception):
            while True:
                number += 1
                await connection.send(f'{{"type":"tick","n":{number}}}')
                await asyncio.sleep(1.0)
    else:
        with contextlib.suppress(Exception):
            async for message in connection:
                await connection.send(message)


async def strip_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, backend: int):
    """Forward one request to the backend without Upgrade/Connection, and relay its answer."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        kept = [lines[0]] + [
            line
            for line in lines[1:]
            if line and line.split(":", 1)[0].strip().lower() not in ("upgrade", "connection")
        ]
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", backend)
        upstream_writer.write(("\r\n".join([*kept, "Connection: close", "", ""])).encode("latin-1"))
        await upstream_writer.drain()
        writer.write(await upstream_reader.read())
        await writer.drain()
        upstream_writer.close()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


class Demo:
    """The demo's servers and clients, in the caller's event loop."""

    def __init__(self, proxy_port: int) -> None:
        self.proxy_port = proxy_port
        self.server: Server | None = None
        self.front: asyncio.Server | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.server = await serve(
            handler,
            "127.0.0.1",
            0,
            process_request=route,
            select_subprotocol=select_subprotocol,
        )
        backend = self.server.sockets[0].getsockname()[1]
        self.front = await asyncio.start_server(
            lambda r, w: strip_upgrade(r, w, backend), "127.0.0.1", 0
        )
        front = self.front.sockets[0].getsockname()[1]
        self.tasks.append(asyncio.create_task(self.browse(backend, front)))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.front is not None:
            self.front.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def browse(self, backend: int, front: int) -> None:
        """What a page on localhost:5173 would open, one after another."""
        base = f"ws://127.0.0.1:{backend}"
        await self.visit(f"{base}/echo", messages=["hello", '{"op":"ping"}'])
        await self.visit(f"{base}/chat?room=general")
        await self.visit(f"{base}/graphql", subprotocols=[GRAPHQL_WS])
        await self.visit(f"{base}/private")
        await self.visit(f"{base}/socket")
        await self.visit(f"ws://127.0.0.1:{front}/echo")
        await self.visit(f"{base}/subscriptions", subprotocols=[GRAPHQL_WS], stay=True)
        await self.visit(f"{base}/feed", stay=True)

    async def visit(
        self,
        url: str,
        subprotocols: Sequence[Subprotocol] | None = None,
        messages: list[str] = [],  # noqa: B006 - read only
        stay: bool = False,
    ) -> None:
        with contextlib.suppress(Exception):
            async with connect(
                url,
                proxy=f"http://127.0.0.1:{self.proxy_port}",
                origin=PAGE,
                subprotocols=subprotocols,
                user_agent_header=USER_AGENT,
                additional_headers={"Accept-Language": "en-US,en;q=0.9", "Pragma": "no-cache"},
                open_timeout=5,
            ) as ws:
                for message in messages:
                    await ws.send(message)
                    await ws.recv()
                if stay:  # until the server closes
                    async for _ in ws:
                        pass
        await asyncio.sleep(0.3)
