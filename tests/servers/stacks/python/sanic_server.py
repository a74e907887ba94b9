"""Sanic: no built-in Origin check for WebSockets; the idiomatic manual check is request
middleware raising Forbidden before the websocket route's handshake. Subprotocols:
@app.websocket(path, subprotocols=[...]).

Usage: python sanic_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import socket
import sys

from sanic import Sanic, response
from sanic.exceptions import Forbidden

ALLOWED_ORIGINS = {"http://allowed.example"}

app = Sanic("stacks")


@app.on_request
async def check_origin(request):
    if request.path == "/ws" and request.headers.get("origin") not in ALLOWED_ORIGINS:
        raise Forbidden("origin not allowed")


@app.websocket("/ws")
async def ws(request, ws):
    async for msg in ws:
        await ws.send(msg)


@app.websocket("/proto", subprotocols=["chat.v2"])
async def proto(request, ws):
    async for msg in ws:
        await ws.send(msg)


@app.get("/")
async def page(request):
    return response.text("sanic page\n")


if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    app.run(sock=sock, single_process=True, access_log=False, motd=False)
