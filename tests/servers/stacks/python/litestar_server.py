"""Litestar on uvicorn. Litestar has no Origin knob for WebSockets (CORSConfig and
AllowedHostsConfig govern HTTP / the Host header): the idiomatic manual check is a guard that
raises PermissionDeniedException, which Litestar turns into websocket.close before accept (the
ASGI server's refusal: uvicorn answers 403). Subprotocol: socket.accept(subprotocols=...).

Usage: python litestar_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import socket
import sys

import uvicorn
from litestar import Litestar, WebSocket, get, websocket
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException, WebSocketDisconnect
from litestar.handlers.base import BaseRouteHandler

ALLOWED_ORIGINS = {"http://allowed.example"}


def origin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if connection.headers.get("origin") not in ALLOWED_ORIGINS:
        raise PermissionDeniedException("origin not allowed")


async def echo(socket: WebSocket) -> None:
    try:
        while True:
            await socket.send_text(await socket.receive_text())
    except WebSocketDisconnect:
        pass


@websocket("/ws", guards=[origin_guard])
async def ws(socket: WebSocket) -> None:
    await socket.accept()
    await echo(socket)


@websocket("/proto")
async def proto(socket: WebSocket) -> None:
    await socket.accept(
        subprotocols="chat.v2" if "chat.v2" in socket.scope["subprotocols"] else None
    )
    await echo(socket)


@get("/")
async def page() -> str:
    return "litestar page\n"


app = Litestar([ws, proto, page])

if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])
