"""Hypercorn with a bare ASGI app: an ASGI server has no Origin knob, the app refuses by sending
websocket.close before websocket.accept (what Starlette/FastAPI/Channels do); /ws_body refuses
with the ASGI "websocket.http.response" extension instead (a 403 with a body of the app's
choosing). Subprotocol: websocket.accept's "subprotocol" key.

Usage: python hypercorn_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import asyncio
import socket
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

ALLOWED_ORIGINS = {b"http://allowed.example"}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return
    if scope["type"] == "http":
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"hypercorn page\n"})
        return
    await receive()  # websocket.connect
    origin = dict(scope["headers"]).get(b"origin")
    path = scope["path"]
    if path == "/ws" and origin not in ALLOWED_ORIGINS:
        await send({"type": "websocket.close", "code": 1008})
    elif path == "/ws_body" and origin not in ALLOWED_ORIGINS:
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"origin not allowed\n"})
    elif path in ("/ws", "/ws_body"):
        await send({"type": "websocket.accept"})
        await echo(receive, send)
    elif path == "/proto":
        chosen = "chat.v2" if "chat.v2" in scope.get("subprotocols", []) else None
        await send({"type": "websocket.accept", "subprotocol": chosen})
        await echo(receive, send)
    else:
        await send({"type": "websocket.close"})  # unknown path: refuse before accept


async def echo(receive, send):
    while True:
        msg = await receive()
        if msg["type"] != "websocket.receive":
            return
        await send({"type": "websocket.send", "text": msg.get("text"), "bytes": msg.get("bytes")})


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(100)
    sock.set_inheritable(True)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    asyncio.run(serve(app, config))
