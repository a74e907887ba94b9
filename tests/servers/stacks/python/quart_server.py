"""Quart on Hypercorn. Quart has no Origin knob: the idiomatic manual check is abort(403)
in the websocket route before websocket.accept() (Quart then answers the upgrade with an HTTP
403 through the ASGI websocket.http.response extension). Subprotocol:
websocket.accept(subprotocol=...), chosen from websocket.requested_subprotocols.

Usage: python quart_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import asyncio
import socket
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, abort, websocket

ALLOWED_ORIGINS = {"http://allowed.example"}

app = Quart(__name__)


@app.websocket("/ws")
async def ws():
    if websocket.headers.get("Origin") not in ALLOWED_ORIGINS:
        abort(403)
    await websocket.accept()
    while True:
        await websocket.send(await websocket.receive())


@app.websocket("/proto")
async def proto():
    if "chat.v2" in websocket.requested_subprotocols:
        await websocket.accept(subprotocol="chat.v2")
    else:
        await websocket.accept()
    while True:
        await websocket.send(await websocket.receive())


@app.route("/")
async def page():
    return "quart page\n"


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(100)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    asyncio.run(serve(app, config))
